// The stochastic Heun sampler of Karras et al. 2022 (EDM, Algorithm 2) on any denoiser
// D(x, sigma) = x + sigma^2 s(x, sigma), in the VE coordinates of the noise process.
#pragma once
#include <memory>
#include <vector>

#include "core/noise.h"
#include "samplers/registry.h"
#include "samplers/sampler.h"

namespace scorelab {

// sigma_i = (sigma_max^(1/rho) + i / (N - 1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho, i < N
// (N = config.ddim_steps, i.e. --steps; the process's sigma_max / sigma_min; a VP process snaps them to its
// timesteps), sigma_N = 0. Step i: gamma = min(S_churn / N, sqrt(2) - 1) when sigma_i in [S_tmin, S_tmax],
// else 0; sigma^ = sigma_i (1 + gamma), x^ = x + sqrt(sigma^2 - sigma_i^2) S_noise z (gamma > 0 only);
// d = (x^ - D(x^, sigma^)) / sigma^; x' = x^ + (sigma_{i+1} - sigma^) d; unless sigma_{i+1} = 0, the Heun
// correction x' = x^ + (sigma_{i+1} - sigma^) (d + d') / 2 with d' at (x', sigma_{i+1}).
// Churn 0 (the default) is deterministic after the prior draw; NFE = 2 N - 1.
class EdmSampler : public Sampler {
 public:
  EdmSampler(ScoreFn score, std::shared_ptr<const NoiseProcess> process, const SamplerConfig& config);
  std::string name() const override { return "edm"; }
  std::string describe() const override { return "edm, " + std::to_string(num_steps()) + " steps"; }
  int64_t num_steps() const override { return static_cast<int64_t>(sigmas_.size()) - 1; }
  at::Tensor init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const override;
  NoiseLevel init_level() const override { return NoiseLevel::ve(sigmas_.front()); }
  StepOutput step(const at::Tensor& x, int64_t i, at::Generator& gen) const override;
  std::map<std::string, double> stats() const override {
    return {{"nfe", static_cast<double>(2 * num_steps() - 1)}};
  }
  const std::vector<double>& sigmas() const { return sigmas_; }  // N + 1 values, the last 0

 private:
  at::Tensor denoise(const at::Tensor& x, double sigma) const;
  ScoreFn score_;
  std::shared_ptr<const NoiseProcess> process_;
  std::vector<double> sigmas_;
  double gamma_max_, s_tmin_, s_tmax_, s_noise_;
};

// Karras et al.'s sigma schedule: n values from hi down to lo with exponent rho.
std::vector<double> karras_sigmas(double hi, double lo, int64_t n, double rho);

}  // namespace scorelab
