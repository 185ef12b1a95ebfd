// Mixtures of logistics, the per-dimension conditionals of PixelCNN++-style autoregressive models.
// Parameter layout along the last axis: [logits (M), means (M), log_scales (M)].
#pragma once
#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>

namespace scorelab {

constexpr double kLogScaleMin = -7.0;  // PixelCNN++ clamps log-scales at -7

// log p(x) of a continuous mixture of logistics (no bins: the smoothed-data density of Meng et al.):
// log sum_k pi_k * exp(-z_k) / (s_k (1 + exp(-z_k))^2), z_k = (x - mu_k) / s_k. x: [...], params: [..., 3M].
at::Tensor logistic_mixture_log_prob(const at::Tensor& x, const at::Tensor& params, double log_scale_min = kLogScaleMin);

// One draw per row: pick k ~ Categorical(pi) (Gumbel-max), then mu_k + s_k (log u - log(1 - u)).
at::Tensor logistic_mixture_sample(const at::Tensor& params, at::Generator& gen, double log_scale_min = kLogScaleMin);

}  // namespace scorelab
