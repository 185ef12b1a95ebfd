// Single-step gradient (Tweedie) denoising (Meng et al. 2021, REFERENCE 1; NCSNv2's final step).
#pragma once
#include "samplers/sampler.h"

namespace scorelab {

// x_bar = x~ + sigma^2 s(x~, sigma): the posterior mean E[x | x~] when x~ = x + sigma z and s is the
// exact score of the smoothed density. One step, applied to given noisy samples: init throws
// std::logic_error, use run_sampler_from(sampler, x_noisy, gen). The registry's "single-step" uses
// the smallest sigma in SamplerArgs::sigmas (the smoothing level the model was trained at).
// If the ScoreFn needs autograd (the gradient of a likelihood), it enables grad locally.
class SingleStepDenoiser : public Sampler {
 public:
  SingleStepDenoiser(ScoreFn score, double sigma);
  std::string name() const override { return "single-step"; }
  int64_t num_steps() const override { return 1; }
  at::Tensor init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const override;
  StepOutput step(const at::Tensor& x, int64_t i, at::Generator& gen) const override;
  double sigma() const { return sigma_; }

 private:
  ScoreFn score_;
  double sigma_;
};

}  // namespace scorelab
