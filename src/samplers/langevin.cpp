#include "samplers/langevin.h"

#include <torch/torch.h>

#include <cmath>

namespace scorelab {

namespace {

// x + a s + b z with z ~ N(0, I): one allocation (z) besides the score's own.
at::Tensor langevin_update(const at::Tensor& x, const at::Tensor& s, double a, double b, at::Generator& gen) {
  at::Tensor out = at::empty_like(x, at::MemoryFormat::Contiguous).normal_(0.0, b, gen);
  out.add_(x).add_(s, a);
  return out;
}

}  // namespace

std::pair<double, double> langevin_coefficients(const std::string& rule, double h) {
  if (rule == "ncsn") return {h / 2.0, std::sqrt(h)};
  if (rule == "ncsnv2") return {h, std::sqrt(2.0 * h)};
  throw ConfigError(flag_error("--step-rule", rule, "one of ncsn, ncsnv2"));
}

at::Tensor uniform_box(int64_t n, at::IntArrayRef sample_shape, double lo, double hi, at::Generator& gen) {
  return at::empty(batch_shape(n, sample_shape), at::TensorOptions().dtype(at::kFloat).device(gen.device()))
      .uniform_(lo, hi, gen);
}

LangevinSampler::LangevinSampler(ScoreFn score, const SamplerConfig& config)
    : score_(std::move(score)),
      sigma_(config.langevin_sigma),
      steps_(config.steps_per_level),
      init_low_(config.init_low),
      init_high_(config.init_high) {
  TORCH_CHECK(score_, "langevin: the score function is empty");
  config.validate();
  std::tie(drift_, noise_) = langevin_coefficients(config.step_rule, config.step_size);
}

at::Tensor LangevinSampler::init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const {
  return uniform_box(n, sample_shape, init_low_, init_high_, gen);
}

StepOutput LangevinSampler::step(const at::Tensor& x, int64_t i, at::Generator& gen) const {
  TORCH_CHECK(i >= 0 && i < steps_, "langevin: step ", i, " outside [0, ", steps_, ")");
  at::Tensor s = score_(x, sigma_);
  check_model_output(s, x, "langevin", "score");
  at::Tensor denoised = sigma_ > 0 ? x.add(s, sigma_ * sigma_) : at::Tensor();
  return {langevin_update(x, s, drift_, noise_, gen), sigma_ > 0 ? NoiseLevel::ve(sigma_) : NoiseLevel::none(),
          denoised};
}

AnnealedLangevinSampler::AnnealedLangevinSampler(ScoreFn score, const SigmaSchedule& sigmas,
                                                 const SamplerConfig& config)
    : score_(std::move(score)),
      sigmas_(sigmas.sigmas()),
      steps_per_level_(config.steps_per_level),
      final_denoise_(config.final_denoise),
      init_low_(config.init_low),
      init_high_(config.init_high) {
  TORCH_CHECK(score_, "annealed-langevin: the score function is empty");
  config.validate();
  const double sigma_last = sigmas_.back();
  for (double sigma : sigmas_) {
    const double h = config.step_size * (sigma / sigma_last) * (sigma / sigma_last);
    auto [a, b] = langevin_coefficients(config.step_rule, h);
    drift_.push_back(a);
    noise_.push_back(b);
  }
}

int64_t AnnealedLangevinSampler::num_steps() const {
  return static_cast<int64_t>(sigmas_.size()) * steps_per_level_ + (final_denoise_ ? 1 : 0);
}

at::Tensor AnnealedLangevinSampler::init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const {
  return uniform_box(n, sample_shape, init_low_, init_high_, gen);
}

StepOutput AnnealedLangevinSampler::step(const at::Tensor& x, int64_t i, at::Generator& gen) const {
  TORCH_CHECK(i >= 0 && i < num_steps(), "annealed-langevin: step ", i, " outside [0, ", num_steps(), ")");
  const auto level = static_cast<size_t>(i / steps_per_level_);
  if (level == sigmas_.size()) {  // final denoising (Tweedie): x + sigma_L^2 s(x, sigma_L)
    const double sigma = sigmas_.back();
    at::Tensor s = score_(x, sigma);
    check_model_output(s, x, "annealed-langevin", "score");
    at::Tensor out = x.add(s, sigma * sigma);
    return {out, NoiseLevel::none(), out};
  }
  const double sigma = sigmas_[level];
  at::Tensor s = score_(x, sigma);
  check_model_output(s, x, "annealed-langevin", "score");
  at::Tensor denoised = x.add(s, sigma * sigma);
  return {langevin_update(x, s, drift_[level], noise_[level], gen),
          NoiseLevel::ve(sigma, static_cast<int64_t>(level)), denoised};
}

}  // namespace scorelab
