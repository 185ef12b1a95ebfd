#include "samplers/denoise.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace scorelab {

SingleStepDenoiser::SingleStepDenoiser(ScoreFn score, double sigma) : score_(std::move(score)), sigma_(sigma) {
  TORCH_CHECK(score_, "single-step: the score function is empty");
  TORCH_CHECK(sigma_ > 0 && std::isfinite(sigma_), "single-step: expected a finite sigma > 0, got ", sigma_);
}

at::Tensor SingleStepDenoiser::init(int64_t, at::IntArrayRef, at::Generator&) const {
  throw std::logic_error(
      "single-step denoising has no starting distribution of its own: draw noisy samples x~ (e.g. from the "
      "smoothed model) and call run_sampler_from(sampler, x_noisy, gen)");
}

StepOutput SingleStepDenoiser::step(const at::Tensor& x, int64_t i, at::Generator&) const {
  TORCH_CHECK(i == 0, "single-step: step ", i, " outside [0, 1)");
  at::Tensor s = score_(x, sigma_);
  check_model_output(s, x, "single-step", "score");
  at::Tensor out = x.add(s, sigma_ * sigma_);
  return {out, NoiseLevel::none(), out};
}

}  // namespace scorelab
