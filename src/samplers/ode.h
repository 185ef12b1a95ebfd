// Probability-flow ODE sampling (Song et al. 2021; Karras et al. 2022 eq. 3): in the VE coordinates of the
// noise process, dx/dsigma = -sigma s(x, sigma) = (x - D(x, sigma)) / sigma, integrated in u = log sigma
// (dx/du = -sigma^2 s) from sigma_max down to sigma_min.
#pragma once
#include <memory>
#include <vector>

#include "core/noise.h"
#include "samplers/registry.h"
#include "samplers/sampler.h"

namespace scorelab {

// The loop's steps are N = config.ddim_steps (--steps) intervals of a geometric sigma grid between the
// process's sigma_max and sigma_min (a VP process: snapped to its timesteps; its network is evaluated at the
// nearest timestep in between, k-diffusion's quantised discrete schedule). Each interval is integrated by
// config.ode_solver:
//   euler, heun, rk4   one step of that method (1, 2, 4 evaluations);
//   rk45               Dormand-Prince 5(4) with adaptive sub-steps: error RMS over the whole batch
//                      (scipy's solve_ivp on the flattened batch, as score_sde) against atol + rtol |x|.
// Deterministic after the prior draw. With config.final_denoise the last step also returns
// D(x, sigma_min) = x + sigma_min^2 s. stats(): "nfe" (network evaluations per sample in the last run).
class ProbabilityFlowSampler : public Sampler {
 public:
  ProbabilityFlowSampler(ScoreFn score, std::shared_ptr<const NoiseProcess> process, const SamplerConfig& config);
  std::string name() const override { return "ode"; }
  std::string describe() const override { return "ode (" + solver_ + "), " + std::to_string(num_steps()) + " steps"; }
  int64_t num_steps() const override { return static_cast<int64_t>(sigmas_.size()) - 1; }
  at::Tensor init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const override;
  NoiseLevel init_level() const override { return NoiseLevel::ve(sigmas_.front()); }
  StepOutput step(const at::Tensor& x, int64_t i, at::Generator& gen) const override;
  std::map<std::string, double> stats() const override;
  const std::vector<double>& sigmas() const { return sigmas_; }

 private:
  at::Tensor drift(const at::Tensor& x, double u) const;  // dx/du at u = log sigma
  ScoreFn score_;
  std::shared_ptr<const NoiseProcess> process_;
  std::vector<double> sigmas_;  // N + 1 grid points, decreasing
  std::string solver_;
  double rtol_, atol_;
  bool final_denoise_;
  mutable int64_t nfe_ = 0, rejected_ = 0;
};

}  // namespace scorelab
