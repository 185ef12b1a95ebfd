#include "samplers/langevin.h"

#include <torch/torch.h>

#include <algorithm>
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

std::vector<double> annealed_step_sizes(const std::vector<double>& sigmas, double eps, const std::string& rule) {
  std::vector<double> h;
  const double last = sigmas.back();
  for (double sigma : sigmas) {
    if (rule == "sigma2") h.push_back(eps * (sigma / last) * (sigma / last));
    else if (rule == "constant") h.push_back(eps);
    else if (rule == "sigma") h.push_back(eps * (sigma / last));
    else throw ConfigError(flag_error("--alpha-rule", rule, "one of sigma2, constant, sigma"));
  }
  return h;
}

std::vector<int64_t> annealed_level_steps(int64_t levels, int64_t steps_per_level, const std::string& schedule) {
  if (levels < 1) throw ConfigError("annealed Langevin: got " + std::to_string(levels) + " noise levels; expected >= 1");
  if (steps_per_level < 1)
    throw ConfigError(flag_error("--steps-per-level", std::to_string(steps_per_level), "an integer >= 1"));
  std::vector<int64_t> steps(static_cast<size_t>(levels), steps_per_level);
  if (schedule == "uniform") return steps;
  if (schedule != "more-small" && schedule != "more-large")
    throw ConfigError(flag_error("--level-steps", schedule, "one of uniform, more-small, more-large"));
  const int64_t extra = levels * (steps_per_level - 1);
  std::vector<double> w(static_cast<size_t>(levels));
  double total = 0;
  for (int64_t i = 0; i < levels; ++i) total += (w[static_cast<size_t>(i)] = schedule == "more-small" ? i + 1 : levels - i);
  std::vector<std::pair<double, int64_t>> rest;  // (fractional part, level)
  int64_t dealt = 0;
  for (int64_t i = 0; i < levels; ++i) {
    const double share = static_cast<double>(extra) * w[static_cast<size_t>(i)] / total;
    const auto whole = static_cast<int64_t>(std::floor(share));
    steps[static_cast<size_t>(i)] = 1 + whole;
    dealt += whole;
    rest.emplace_back(share - static_cast<double>(whole), i);
  }
  std::stable_sort(rest.begin(), rest.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (int64_t k = 0; k < extra - dealt; ++k) ++steps[static_cast<size_t>(rest[static_cast<size_t>(k)].second)];
  return steps;
}

LevelSteps::LevelSteps(const std::vector<int64_t>& counts) {
  for (int64_t t : counts) starts_.push_back(starts_.back() + t);
}

size_t LevelSteps::level_of(int64_t i) const {
  return static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), i) - starts_.begin() - 1);
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
      steps_(annealed_level_steps(static_cast<int64_t>(sigmas_.size()), config.steps_per_level, config.level_steps)),
      final_denoise_(config.final_denoise),
      init_low_(config.init_low),
      init_high_(config.init_high) {
  TORCH_CHECK(score_, "annealed-langevin: the score function is empty");
  config.validate();
  for (double h : annealed_step_sizes(sigmas_, config.step_size, config.alpha_rule)) {
    auto [a, b] = langevin_coefficients(config.step_rule, h);
    drift_.push_back(a);
    noise_.push_back(b);
  }
}

int64_t AnnealedLangevinSampler::num_steps() const { return steps_.total() + (final_denoise_ ? 1 : 0); }

at::Tensor AnnealedLangevinSampler::init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const {
  return uniform_box(n, sample_shape, init_low_, init_high_, gen);
}

StepOutput AnnealedLangevinSampler::step(const at::Tensor& x, int64_t i, at::Generator& gen) const {
  TORCH_CHECK(i >= 0 && i < num_steps(), "annealed-langevin: step ", i, " outside [0, ", num_steps(), ")");
  const size_t level = steps_.level_of(i);
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
