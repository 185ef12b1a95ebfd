#include "models/discretized_logistic.h"

#include <cmath>

#include <torch/torch.h>

namespace scorelab {

namespace {

// The head's parameters, channels last: logits [N, H, W, M]; means, log_scales, coeffs [N, H, W, C, M]
// (coeffs after tanh, undefined for C = 1).
struct Mixture {
  at::Tensor logits, means, log_scales, coeffs;
  int64_t m = 0;
};

Mixture unpack(const at::Tensor& params, int64_t c, double log_scale_min) {
  TORCH_CHECK(c == 1 || c == 3, "logistic mixture: 1 or 3 channels, got ", c);
  TORCH_CHECK(params.dim() == 4, "logistic mixture: params must be [N, P, H, W], got ", params.sizes());
  const int64_t per = c == 1 ? 3 : 10;
  const int64_t p = params.size(1);
  TORCH_CHECK(p % per == 0 && p > 0, "logistic mixture: ", c, " channel(s) need ", per, "M parameter channels, got ",
              p);
  Mixture mix;
  mix.m = p / per;
  const int64_t m = mix.m;
  auto l = params.permute({0, 2, 3, 1});
  mix.logits = l.slice(3, 0, m);
  const int64_t k = c == 1 ? 2 : 3;  // means, log_scales (, coeffs) per channel
  auto rest = l.slice(3, m, p).reshape({l.size(0), l.size(1), l.size(2), c, k * m});
  mix.means = rest.slice(4, 0, m);
  mix.log_scales = rest.slice(4, m, 2 * m).clamp_min(log_scale_min);
  if (c == 3) mix.coeffs = torch::tanh(rest.slice(4, 2 * m, 3 * m));
  return mix;
}

// Means with the in-pixel coupling applied: x is [N, H, W, C] (channels last), means [N, H, W, C, M].
at::Tensor coupled_means(const Mixture& mix, const at::Tensor& x) {
  if (!mix.coeffs.defined()) return mix.means;
  auto xs = x.unsqueeze(-1);  // [N, H, W, C, 1]
  auto m0 = mix.means.select(3, 0);
  auto m1 = mix.means.select(3, 1) + mix.coeffs.select(3, 0) * xs.select(3, 0);
  auto m2 = mix.means.select(3, 2) + mix.coeffs.select(3, 1) * xs.select(3, 0) +
            mix.coeffs.select(3, 2) * xs.select(3, 1);
  return torch::stack({m0, m1, m2}, 3);
}

at::Tensor channels_last(const at::Tensor& x, const at::Tensor& params) {
  TORCH_CHECK(x.dim() == 4, "logistic mixture: x must be [N, C, H, W], got ", x.sizes());
  TORCH_CHECK(params.dim() == 4 && params.size(0) == x.size(0) && params.size(2) == x.size(2) &&
                  params.size(3) == x.size(3),
              "logistic mixture: params ", params.sizes(), " do not match x ", x.sizes());
  return x.permute({0, 2, 3, 1});
}

// Mixture over components of the per-component sum over channels: [N, H, W, C, M] -> [N, H, W].
at::Tensor mix_over_components(const at::Tensor& log_probs, const at::Tensor& logits) {
  return torch::logsumexp(log_probs.sum(3) + torch::log_softmax(logits, -1), -1);
}

// [N, P] -> [N, P, 1, 1] so that one-position calls reuse the image code.
at::Tensor as_image(const at::Tensor& params) {
  TORCH_CHECK(params.dim() == 2 || params.dim() == 4, "logistic mixture: params must be [N, P] or [N, P, H, W], got ",
              params.sizes());
  return params.dim() == 2 ? params.unsqueeze(-1).unsqueeze(-1) : params;
}
at::Tensor from_image(const at::Tensor& x, int64_t params_dim) {
  return params_dim == 2 ? x.squeeze(-1).squeeze(-1) : x;
}

// Gumbel-max component choice, then gathers that component's means, log-scales and coeffs: [N, H, W, C].
struct Picked {
  at::Tensor means, log_scales, coeffs;
};
Picked pick_component(const Mixture& mix, at::Generator& gen) {
  const double tiny = 1e-5;
  auto u = at::empty(mix.logits.sizes(), mix.logits.options()).uniform_(tiny, 1.0 - tiny, gen);
  auto k = (mix.logits - torch::log(-torch::log(u))).argmax(-1);  // [N, H, W]
  auto idx = k.unsqueeze(-1).unsqueeze(-1).expand({k.size(0), k.size(1), k.size(2), mix.means.size(3), 1});
  Picked out;
  out.means = mix.means.gather(4, idx).squeeze(4);
  out.log_scales = mix.log_scales.gather(4, idx).squeeze(4);
  if (mix.coeffs.defined()) out.coeffs = mix.coeffs.gather(4, idx).squeeze(4);
  return out;
}

at::Tensor gumbel_logistic_sample(const at::Tensor& params_in, int64_t c, at::Generator& gen, double log_scale_min,
                                  bool clamp) {
  auto params = as_image(params_in);
  auto mix = unpack(params, c, log_scale_min);
  auto pick = pick_component(mix, gen);
  const double tiny = 1e-5;
  auto u = at::empty(pick.means.sizes(), pick.means.options()).uniform_(tiny, 1.0 - tiny, gen);
  auto x = pick.means + torch::exp(pick.log_scales) * (torch::log(u) - torch::log1p(-u));  // [N, H, W, C]
  auto bound = [clamp](const at::Tensor& t) { return clamp ? t.clamp(-1.0, 1.0) : t; };
  at::Tensor out;
  if (c == 1) {
    out = bound(x);
  } else {
    auto x0 = bound(x.select(3, 0));
    auto x1 = bound(x.select(3, 1) + pick.coeffs.select(3, 0) * x0);
    auto x2 = bound(x.select(3, 2) + pick.coeffs.select(3, 1) * x0 + pick.coeffs.select(3, 2) * x1);
    out = torch::stack({x0, x1, x2}, 3);
  }
  return from_image(out.permute({0, 3, 1, 2}).contiguous(), params_in.dim());
}

// log of the logistic density: -z - log s - 2 softplus(-z) = z - log s - 2 softplus(z).
at::Tensor logistic_log_pdf(const at::Tensor& x, const at::Tensor& mu, const at::Tensor& log_s) {
  auto z = (x - mu) * torch::exp(-log_s);
  return z - log_s - 2.0 * torch::softplus(z);
}

}  // namespace

int64_t mixture_param_channels(int64_t channels, int64_t mixtures) {
  TORCH_CHECK(channels == 1 || channels == 3, "logistic mixture: 1 or 3 channels, got ", channels);
  return (channels == 1 ? 3 : 10) * mixtures;
}

at::Tensor discretized_mix_logistic_log_prob_pixels(const at::Tensor& x, const at::Tensor& params,
                                                    double log_scale_min) {
  auto xl = channels_last(x, params);
  auto mix = unpack(params, x.size(1), log_scale_min);
  auto xs = xl.unsqueeze(-1);  // [N, H, W, C, 1]
  auto centered = xs - coupled_means(mix, xl);
  auto inv_s = torch::exp(-mix.log_scales);
  auto plus_in = inv_s * (centered + kBinHalfWidth);
  auto min_in = inv_s * (centered - kBinHalfWidth);
  auto cdf_delta = torch::sigmoid(plus_in) - torch::sigmoid(min_in);
  auto log_cdf_plus = plus_in - torch::softplus(plus_in);  // log sigma(plus_in): the left edge bin
  auto log_one_minus_cdf_min = -torch::softplus(min_in);   // log(1 - sigma(min_in)): the right edge bin
  auto mid_in = inv_s * centered;
  auto log_pdf_mid = mid_in - mix.log_scales - 2.0 * torch::softplus(mid_in);
  // Interior bins: log of the bin mass, or the density times the bin width 2/255 when the mass underflows.
  auto interior = torch::where(cdf_delta > kMinBinMass, torch::log(cdf_delta.clamp_min(1e-12)),
                               log_pdf_mid - std::log(127.5));
  auto log_probs = torch::where(xs < -kEdgeThreshold, log_cdf_plus,
                                torch::where(xs > kEdgeThreshold, log_one_minus_cdf_min, interior));
  return mix_over_components(log_probs, mix.logits);
}

at::Tensor discretized_mix_logistic_log_prob(const at::Tensor& x, const at::Tensor& params, double log_scale_min) {
  return discretized_mix_logistic_log_prob_pixels(x, params, log_scale_min).sum({1, 2});
}

at::Tensor mix_logistic_log_prob_pixels(const at::Tensor& x, const at::Tensor& params, double log_scale_min) {
  auto xl = channels_last(x, params);
  auto mix = unpack(params, x.size(1), log_scale_min);
  auto log_probs = logistic_log_pdf(xl.unsqueeze(-1), coupled_means(mix, xl), mix.log_scales);
  return mix_over_components(log_probs, mix.logits);
}

at::Tensor mix_logistic_log_prob(const at::Tensor& x, const at::Tensor& params, double log_scale_min) {
  return mix_logistic_log_prob_pixels(x, params, log_scale_min).sum({1, 2});
}

double bits_per_dim(double log_lik_nats, int64_t dims) {
  TORCH_CHECK(dims > 0, "bits_per_dim: dims must be positive, got ", dims);
  return -log_lik_nats / (static_cast<double>(dims) * std::log(2.0));
}

at::Tensor bits_per_dim(const at::Tensor& log_lik_nats, int64_t dims) {
  TORCH_CHECK(dims > 0, "bits_per_dim: dims must be positive, got ", dims);
  return -log_lik_nats / (static_cast<double>(dims) * std::log(2.0));
}

at::Tensor sample_from_discretized_mix_logistic(const at::Tensor& params, int64_t channels, at::Generator& gen,
                                                double log_scale_min) {
  return gumbel_logistic_sample(params, channels, gen, log_scale_min, /*clamp=*/true);
}

at::Tensor sample_from_mix_logistic(const at::Tensor& params, int64_t channels, at::Generator& gen,
                                    double log_scale_min) {
  return gumbel_logistic_sample(params, channels, gen, log_scale_min, /*clamp=*/false);
}

BisectionOptions bisection_cifar10() { return {20.0, 20, 1e-5}; }
BisectionOptions bisection_mnist() { return {30.0, 30, 1e-5}; }

at::Tensor sample_mix_logistic_bisection(const at::Tensor& params_in, int64_t channels, at::Generator& gen,
                                         const BisectionOptions& options, double log_scale_min) {
  TORCH_CHECK(options.bound > 0 && options.iters >= 1 && options.u_min > 0 && options.u_min < 0.5,
              "bisection sampler: needs bound > 0, iters >= 1, u_min in (0, 0.5)");
  auto params = as_image(params_in);
  auto mix = unpack(params, channels, log_scale_min);
  auto log_w = torch::log_softmax(mix.logits, -1);  // [N, H, W, M]: prior, then posterior, component weights
  std::vector<at::Tensor> drawn;
  for (int64_t c = 0; c < channels; ++c) {
    auto mu = mix.means.select(3, c);  // [N, H, W, M]
    if (c >= 1) mu = mu + mix.coeffs.select(3, c - 1) * drawn[0].unsqueeze(-1);
    if (c == 2) mu = mu + mix.coeffs.select(3, 2) * drawn[1].unsqueeze(-1);
    auto log_s = mix.log_scales.select(3, c);
    auto inv_s = torch::exp(-log_s);
    auto u = at::empty(mu.sizes().slice(0, 3), mu.options()).uniform_(options.u_min, 1.0 - options.u_min, gen);
    // The authors' search (samplers.py binary_search): on the logit scale, logit F(mid) against logit u, with
    // logit F = log F - log(1 - F) from log-sum-exps of log-sigmoids (no saturation in the tails); the value
    // returned is the last midpoint evaluated.
    const auto logit_u = torch::log(u) - torch::log1p(-u);
    auto lo = torch::full_like(u, -options.bound);
    auto hi = torch::full_like(u, options.bound);
    at::Tensor mid;
    for (int64_t it = 0; it < options.iters; ++it) {
      mid = 0.5 * (lo + hi);
      const auto z = (mid.unsqueeze(-1) - mu) * inv_s;
      const auto logit_cdf = torch::logsumexp(log_w - torch::softplus(-z), -1) - torch::logsumexp(log_w - torch::softplus(z), -1);
      const auto below = logit_cdf < logit_u;
      lo = torch::where(below, mid, lo);
      hi = torch::where(below, hi, mid);
    }
    auto x = mid;
    drawn.push_back(x);
    log_w = log_w + logistic_log_pdf(x.unsqueeze(-1), mu, log_s);
  }
  auto out = torch::stack(drawn, 1);  // [N, C, H, W]
  return from_image(out, params_in.dim());
}

}  // namespace scorelab
