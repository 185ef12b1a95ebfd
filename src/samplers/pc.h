// Predictor-corrector sampling (Song et al. 2021, score_sde `pc_sampler`): at each of N noise levels,
// `corrector_steps` Langevin corrector steps with the signal-to-noise step rule, then one reverse-diffusion
// predictor step to the next level.
#pragma once
#include <memory>
#include <vector>

#include "core/noise.h"
#include "samplers/registry.h"
#include "samplers/sampler.h"

namespace scorelab {

// Runs in the VE coordinates of the process (x / alpha, so a VP network runs on its sigma_t grid, Karras
// et al. 2022 sec. 3): levels sigma_0 > ... > sigma_{N-1} geometric between the process's sigma_max and
// sigma_min (N = config.ddim_steps, i.e. --steps; a VP process snaps them to its timesteps), sigma_N = 0.
// Step i: M = config.corrector_steps corrector updates at sigma_i,
//   g = s(x, sigma_i), z ~ N(0, I), h = 2 (snr ||z|| / ||g||)^2 (norms averaged over the batch, as score_sde),
//   x <- x + h g + sqrt(2 h) z,
// then the predictor x <- x + (sigma_i^2 - sigma_{i+1}^2) s(x, sigma_i) + sqrt(sigma_i^2 - sigma_{i+1}^2) z,
// without the noise on the last step (score_sde's denoise = True). Starts from the process's prior.
class PredictorCorrectorSampler : public Sampler {
 public:
  PredictorCorrectorSampler(ScoreFn score, std::shared_ptr<const NoiseProcess> process, const SamplerConfig& config);
  std::string name() const override { return "pc"; }
  std::string describe() const override { return "pc, " + std::to_string(num_steps()) + " steps"; }
  int64_t num_steps() const override { return static_cast<int64_t>(sigmas_.size()); }
  at::Tensor init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const override;
  NoiseLevel init_level() const override { return NoiseLevel::ve(sigmas_.front()); }
  StepOutput step(const at::Tensor& x, int64_t i, at::Generator& gen) const override;
  std::map<std::string, double> stats() const override;
  const std::vector<double>& sigmas() const { return sigmas_; }

 private:
  ScoreFn score_;
  std::shared_ptr<const NoiseProcess> process_;
  std::vector<double> sigmas_;
  double snr_;
  int64_t corrector_steps_;
};

}  // namespace scorelab
