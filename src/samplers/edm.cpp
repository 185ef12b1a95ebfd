#include "samplers/edm.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace scorelab {

std::vector<double> karras_sigmas(double hi, double lo, int64_t n, double rho) {
  TORCH_CHECK(n >= 1 && hi >= lo && lo > 0 && rho > 0, "karras_sigmas: expected n >= 1, hi >= lo > 0, rho > 0");
  std::vector<double> out(static_cast<size_t>(n));
  const double a = std::pow(hi, 1.0 / rho), b = std::pow(lo, 1.0 / rho);
  for (int64_t i = 0; i < n; ++i) {
    const double f = n == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(n - 1);
    out[static_cast<size_t>(i)] = std::pow(a + f * (b - a), rho);
  }
  out.front() = hi;
  if (n > 1) out.back() = lo;
  return out;
}

EdmSampler::EdmSampler(ScoreFn score, std::shared_ptr<const NoiseProcess> process, const SamplerConfig& config)
    : score_(std::move(score)),
      process_(std::move(process)),
      s_tmin_(config.s_tmin),
      s_tmax_(config.s_tmax),
      s_noise_(config.s_noise) {
  TORCH_CHECK(score_, "edm: the score function is empty");
  TORCH_CHECK(process_, "edm: no noise process");
  config.validate();
  for (const NoiseLevel& l :
       levels_for(*process_, karras_sigmas(process_->sigma_max(), process_->sigma_min(), config.ddim_steps, config.rho)))
    sigmas_.push_back(l.sigma);
  gamma_max_ = std::min(config.churn / static_cast<double>(sigmas_.size()), std::sqrt(2.0) - 1.0);
  sigmas_.push_back(0.0);
}

at::Tensor EdmSampler::init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const {
  return process_->prior_ve(n, sample_shape, gen);
}

at::Tensor EdmSampler::denoise(const at::Tensor& x, double sigma) const {
  at::Tensor s = score_(x, sigma);
  check_model_output(s, x, "edm", "score");
  return x.add(s, sigma * sigma);
}

StepOutput EdmSampler::step(const at::Tensor& x, int64_t i, at::Generator& gen) const {
  TORCH_CHECK(i >= 0 && i < num_steps(), "edm: step ", i, " outside [0, ", num_steps(), ")");
  const auto k = static_cast<size_t>(i);
  const double t = sigmas_[k], t_next = sigmas_[k + 1];
  const double gamma = t >= s_tmin_ && t <= s_tmax_ ? gamma_max_ : 0.0;
  const double t_hat = t * (1.0 + gamma);
  at::Tensor x_hat = x;
  if (gamma > 0)
    x_hat = x.add(torch::randn(x.sizes(), gen, x.options()), std::sqrt(t_hat * t_hat - t * t) * s_noise_);
  at::Tensor denoised = denoise(x_hat, t_hat);
  at::Tensor d = (x_hat - denoised) / t_hat;
  at::Tensor x_next = x_hat.add(d, t_next - t_hat);
  if (t_next > 0) {
    at::Tensor d2 = (x_next - denoise(x_next, t_next)) / t_next;
    x_next = x_hat.add(d + d2, 0.5 * (t_next - t_hat));
  }
  return {x_next, t_next > 0 ? NoiseLevel::ve(t_next) : NoiseLevel::none(), denoised};
}

}  // namespace scorelab
