// Langevin samplers on a ScoreFn (Song & Ermon 2019; NCSNv2, Song & Ermon 2020; REFERENCE 3).
#pragma once
#include <memory>
#include <vector>

#include "core/schedule.h"
#include "samplers/registry.h"
#include "samplers/sampler.h"

namespace scorelab {

// Drift and noise coefficients (a, b) of one Langevin update x <- x + a s(x) + b z for step size h:
//   "ncsn"   (paper, Alg. 1): a = h / 2, b = sqrt(h)
//   "ncsnv2" (NCSNv2 code):   a = h,     b = sqrt(2 h)
std::pair<double, double> langevin_coefficients(const std::string& rule, double h);

// The step size h_i of each annealed level (sigmas decreasing, sigma_L the last): --alpha-rule
//   sigma2    eps sigma_i^2 / sigma_L^2 (NCSN Alg. 1: the signal-to-noise ratio of the update is the same at
//             every level when ||s|| ~ 1 / sigma)
//   constant  eps
//   sigma     eps sigma_i / sigma_L
std::vector<double> annealed_step_sizes(const std::vector<double>& sigmas, double eps, const std::string& rule);
// Steps per level T_i for L levels (sigma decreasing): --level-steps
//   uniform     T each
//   more-small  1 + the other L (T - 1) steps dealt in proportion to i + 1 (the smallest sigma gets most)
//   more-large  the same, in proportion to L - i
// Always L T in all and at least 1 per level (largest remainders break the rounding).
std::vector<int64_t> annealed_level_steps(int64_t levels, int64_t steps_per_level, const std::string& schedule);

// Steps laid out level after level: which level step i belongs to, and how many steps there are.
class LevelSteps {
 public:
  explicit LevelSteps(const std::vector<int64_t>& counts);
  int64_t total() const { return starts_.back(); }
  // The level of step i (0-based); the number of levels for i >= total() (e.g. a final denoising step).
  size_t level_of(int64_t i) const;

 private:
  std::vector<int64_t> starts_{0};  // first step of each level, then the total
};

// Plain Langevin dynamics at the single level sigma = config.langevin_sigma (0: the data score):
// x <- x + a s(x, sigma) + b z with h = config.step_size, config.steps_per_level steps, started from
// uniform on [init_low, init_high]^D.
class LangevinSampler : public Sampler {
 public:
  LangevinSampler(ScoreFn score, const SamplerConfig& config);
  std::string name() const override { return "langevin"; }
  int64_t num_steps() const override { return steps_; }
  at::Tensor init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const override;
  StepOutput step(const at::Tensor& x, int64_t i, at::Generator& gen) const override;
  std::map<std::string, double> stats() const override { return {{"nfe", static_cast<double>(steps_)}}; }

 private:
  ScoreFn score_;
  double sigma_;
  int64_t steps_;
  double drift_, noise_;
  double init_low_, init_high_;
};

// Annealed Langevin dynamics (NCSN Alg. 1): for each level i = 1..L, T = steps_per_level steps with
// h_i = eps sigma_i^2 / sigma_L^2 and the step rule above (other schedules: --alpha-rule, --level-steps). With config.final_denoise an extra last
// step returns the Tweedie estimate x + sigma_L^2 s(x, sigma_L) without noise (NCSNv2), so
// num_steps = L T (+ 1). Step i uses level i / T (uniform steps); its output is reported at sigma_i (the state NCSN's
// inpainting treats as x0 + sigma_i z), with the Tweedie estimate x + sigma_i^2 s as x0-hat.
class AnnealedLangevinSampler : public Sampler {
 public:
  AnnealedLangevinSampler(ScoreFn score, const SigmaSchedule& sigmas, const SamplerConfig& config);
  std::string name() const override { return "annealed-langevin"; }
  int64_t num_steps() const override;
  at::Tensor init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const override;
  StepOutput step(const at::Tensor& x, int64_t i, at::Generator& gen) const override;
  std::map<std::string, double> stats() const override { return {{"nfe", static_cast<double>(num_steps())}}; }

 private:
  ScoreFn score_;
  std::vector<double> sigmas_;
  std::vector<double> drift_, noise_;  // per level
  LevelSteps steps_;
  bool final_denoise_;
  double init_low_, init_high_;
};

// Uniform on [lo, hi]^D, float32 on the generator's device: the Langevin starting point.
at::Tensor uniform_box(int64_t n, at::IntArrayRef sample_shape, double lo, double hi, at::Generator& gen);

}  // namespace scorelab
