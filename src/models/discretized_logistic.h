// Logistic-mixture likelihoods and samplers for images, on the PixelCNN++ head's parameters.
//
// Parameter layout (channel axis of params [N, P, H, W]), as in the authors' code, with M components:
//   gray (C = 1, P = 3M):  [logits M | means M | log_scales M]
//   RGB  (C = 3, P = 10M): [logits M | for c in R, G, B: (means M | log_scales M | coeffs M)]
// log-scales are clamped at -7; coeffs pass through tanh and couple the channels of one pixel:
//   mu_G = m_G + c0 x_R,  mu_B = m_B + c1 x_R + c2 x_G.
// Each component k gives a product of per-channel logistics; the pixel density is the mixture over k.
// Data x is in [-1, 1] (clean) or any real (smoothed). Log-likelihoods are in nats.
#pragma once
#include <cstdint>

#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>

#include "models/mixture_logistic.h"  // kLogScaleMin

namespace scorelab {

constexpr double kBinHalfWidth = 1.0 / 255.0;  // 256 levels on [-1, 1]: bins of width 2/255
constexpr double kEdgeThreshold = 0.999;       // |x| beyond this: the edge bins take the logistic tails
constexpr double kMinBinMass = 1e-5;           // below this: log pdf - log(127.5) instead of log(cdf delta)

// Parameter channels of the head: 3M (C = 1) or 10M (C = 3).
int64_t mixture_param_channels(int64_t channels, int64_t mixtures);

// Discretized logistic mixture (PixelCNN++, Salimans et al. 2017, eq. 2), per pixel: [N, H, W].
// Per channel and component: log(sigma((x - mu + 1/255)/s) - sigma((x - mu - 1/255)/s)); x < -0.999 uses
// log sigma((x - mu + 1/255)/s), x > 0.999 uses log(1 - sigma((x - mu - 1/255)/s)), and a bin mass below
// 1e-5 uses log pdf(x) - log(127.5) (the authors' edge cases, reproduced exactly).
at::Tensor discretized_mix_logistic_log_prob_pixels(const at::Tensor& x, const at::Tensor& params,
                                                    double log_scale_min = kLogScaleMin);
// Summed over pixels and channels: log p(x), [N].
at::Tensor discretized_mix_logistic_log_prob(const at::Tensor& x, const at::Tensor& params,
                                             double log_scale_min = kLogScaleMin);

// Continuous logistic mixture (smoothed data, Meng et al. 2021): the log-density, no bins, same coupling.
// Per channel and component: -z - log s - 2 softplus(-z), z = (x - mu) / s. Per pixel [N, H, W] or total [N].
at::Tensor mix_logistic_log_prob_pixels(const at::Tensor& x, const at::Tensor& params,
                                        double log_scale_min = kLogScaleMin);
at::Tensor mix_logistic_log_prob(const at::Tensor& x, const at::Tensor& params, double log_scale_min = kLogScaleMin);

// bits/dim = -log p / (dims ln 2), dims = C * H * W.
double bits_per_dim(double log_lik_nats, int64_t dims);
at::Tensor bits_per_dim(const at::Tensor& log_lik_nats, int64_t dims);

// Samplers. params: [N, P, H, W] -> [N, C, H, W], or one position [N, P] -> [N, C].
//
// The authors' PixelCNN++ sampler: component k by Gumbel-max on the logits (u in [1e-5, 1 - 1e-5]), then per
// channel x = mu + s (log u - log(1 - u)) with the coupling on the already-drawn channels, each clamped to
// [-1, 1] before it is used for the next channel.
at::Tensor sample_from_discretized_mix_logistic(const at::Tensor& params, int64_t channels, at::Generator& gen,
                                                double log_scale_min = kLogScaleMin);
// The same draw for the continuous mixture: no clamping.
at::Tensor sample_from_mix_logistic(const at::Tensor& params, int64_t channels, at::Generator& gen,
                                    double log_scale_min = kLogScaleMin);

// Inverse-CDF sampling of the continuous mixture (Meng et al.'s sampler): per channel, u ~ U[u_min, 1 - u_min]
// and `iters` bisection steps on [-bound, bound] for F(x) = u, F = sum_k w_k sigma((x - mu_k)/s_k). R uses the
// prior weights w = softmax(logits); G and B use the posterior weights w_k ~ pi_k prod_{c' < c} p_k(x_c'),
// which makes each draw exact for the mixture's conditional. As the authors' binary_search: the comparison is
// logit F(mid) < logit u (F's logit from log-sum-exps, exact in the tails where F rounds to 0 or 1 in float32)
// and the result is the last midpoint evaluated, mid_iters (not the centre of the final bracket). Presets:
// CIFAR-10 bound 20 / 20 iterations, MNIST 30 / 30.
struct BisectionOptions {
  double bound = 20.0;
  int64_t iters = 20;
  double u_min = 1e-5;
};
BisectionOptions bisection_cifar10();
BisectionOptions bisection_mnist();
at::Tensor sample_mix_logistic_bisection(const at::Tensor& params, int64_t channels, at::Generator& gen,
                                         const BisectionOptions& options = {}, double log_scale_min = kLogScaleMin);

}  // namespace scorelab
