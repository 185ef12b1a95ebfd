// Autoregressive sampling behind the sampler contract: the levels are the positions (STYLE 2).
#pragma once
#include "samplers/sampler.h"

namespace scorelab {

// Fills positions 0..positions-1 in order: step i sets x[:, i] = draw(x, i, gen), where x is viewed
// as [N, positions] (a sample of shape [C, H, W] is filled in its flattened, row-major order).
// Starts from zeros of the sample shape (float32, on the generator's device). Each step writes into a
// copy, so the caller's x is never modified.
class AutoregressiveSampler : public Sampler {
 public:
  AutoregressiveSampler(ARDrawFn draw, int64_t positions);
  std::string name() const override { return "autoregressive"; }
  int64_t num_steps() const override { return positions_; }
  at::Tensor init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const override;
  // Each step's state is reported clean: the filled positions are samples (a projection sets known ones).
  NoiseLevel init_level() const override { return NoiseLevel::none(); }
  StepOutput step(const at::Tensor& x, int64_t i, at::Generator& gen) const override;

 private:
  ARDrawFn draw_;
  int64_t positions_;
};

}  // namespace scorelab
