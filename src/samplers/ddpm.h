// DDPM ancestral sampling (Ho et al. 2020) and DDIM (Song, Meng, Ermon 2021) on an EpsFn (REFERENCE 4).
#pragma once
#include <optional>
#include <vector>

#include "core/schedule.h"
#include "samplers/registry.h"
#include "samplers/sampler.h"

namespace scorelab {

// Ancestral sampling, step i at t = T-1-i, from x_T ~ N(0, I):
//   x_{t-1} = 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - abar_t) eps(x_t, t)) + sigma_t z,
// sigma_t^2 = beta~_t ("small") or beta_t ("large"); no noise at t = 0. Step i reports the VP level of
// t - 1 (clean after t = 0) and x0-hat = x_t / sqrt(abar_t) - sqrt(1/abar_t - 1) eps (clipped with clip_x0). With config.clip_x0 = C the
// mean is the posterior mean mu~(x_t, x0) = c1_t x0 + c2_t x_t of the clipped prediction
// x0 = clip(x_t / sqrt(abar_t) - sqrt(1/abar_t - 1) eps, -C, C),
// c1_t = beta_t sqrt(abar_{t-1}) / (1 - abar_t), c2_t = (1 - abar_{t-1}) sqrt(alpha_t) / (1 - abar_t).
class DdpmSampler : public Sampler {
 public:
  DdpmSampler(EpsFn eps, const BetaSchedule& betas, const SamplerConfig& config);
  std::string name() const override { return "ddpm"; }
  std::string describe() const override { return "ancestral, " + std::to_string(num_steps()) + " steps"; }
  int64_t num_steps() const override { return static_cast<int64_t>(coef_.size()); }
  at::Tensor init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const override;
  NoiseLevel init_level() const override { return levels_.back(); }
  StepOutput step(const at::Tensor& x, int64_t i, at::Generator& gen) const override;
  std::map<std::string, double> stats() const override { return {{"nfe", static_cast<double>(num_steps())}}; }

 private:
  struct Coef {
    double mean_x, mean_eps;       // unclipped mean = mean_x x - mean_eps eps
    double x0_x, x0_eps;           // x0 = x0_x x - x0_eps eps
    double post_x0, post_x;        // clipped mean = post_x0 x0 + post_x x
    double noise;                  // sigma_t
  };
  EpsFn eps_;
  std::vector<Coef> coef_;  // indexed by t
  std::vector<NoiseLevel> levels_;  // VP level of timestep t
  std::optional<double> clip_x0_;
};

// DDIM (eq. 12) over the descending subsequence tau = ddim_timesteps(T, steps, spacing), from
// x_T ~ N(0, I): with a = abar_{tau_i}, a' = abar_{tau_{i+1}} (1 after the last),
//   x0 = (x - sqrt(1 - a) eps) / sqrt(a),   c1 = eta sqrt((1 - a/a') (1 - a') / (1 - a)),
//   x' = sqrt(a') x0 + sqrt(1 - a' - c1^2) eps + c1 z.
// eta = 0 is deterministic. Spacing as in the DDIM code: "uniform" tau_k = k floor(T / steps) (its
// range(0, T, T // steps), first `steps` entries); "quad" tau_k = int((k sqrt(0.8 T) / (steps - 1))^2),
// which stops at 0.8 T; repeated quad timesteps (steps > sqrt(0.8 T) + 1: 30 or more for T = 1000) are
// dropped, since the reference's step from a timestep to itself is the identity, so the sampler may run fewer
// than `steps` network calls (num_steps(), "nfe"). With config.clip_x0 the prediction x0 is clipped and eps recomputed
// from it, as in improved-diffusion's ddim_sample.
class DdimSampler : public Sampler {
 public:
  DdimSampler(EpsFn eps, const BetaSchedule& betas, const SamplerConfig& config);
  std::string name() const override { return "ddim"; }
  std::string describe() const override;  // "ddim, S steps, eta E"
  int64_t num_steps() const override { return static_cast<int64_t>(coef_.size()); }
  at::Tensor init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const override;
  NoiseLevel init_level() const override { return levels_.front(); }
  StepOutput step(const at::Tensor& x, int64_t i, at::Generator& gen) const override;
  std::map<std::string, double> stats() const override { return {{"nfe", static_cast<double>(num_steps())}}; }
  const std::vector<int64_t>& timesteps() const { return timesteps_; }

 private:
  struct Coef {
    double x, eps;         // unclipped: x' = x x + eps eps + noise z
    double x0_x, x0_eps;   // x0 = x0_x x - x0_eps eps
    double clip_x0, clip_x;  // clipped: x' = clip_x0 x0 + clip_x x + noise z
    double noise;          // c1
  };
  EpsFn eps_;
  double eta_;
  std::vector<int64_t> timesteps_;
  std::vector<NoiseLevel> levels_;  // VP level of timesteps_[i]
  std::vector<Coef> coef_;  // indexed by step
  std::optional<double> clip_x0_;
};

// N(0, I), float32 on the generator's device: the DDPM / DDIM starting point x_T.
at::Tensor standard_normal(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen);

}  // namespace scorelab
