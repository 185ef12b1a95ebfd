#include "samplers/autoregressive.h"

#include <torch/torch.h>

namespace scorelab {

AutoregressiveSampler::AutoregressiveSampler(ARDrawFn draw, int64_t positions)
    : draw_(std::move(draw)), positions_(positions) {
  TORCH_CHECK(draw_, "autoregressive: the draw function is empty");
  TORCH_CHECK(positions_ > 0, "autoregressive: expected a positive number of positions, got ", positions_);
}

at::Tensor AutoregressiveSampler::init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const {
  auto shape = batch_shape(n, sample_shape);
  const int64_t per_sample = c10::multiply_integers(sample_shape);
  TORCH_CHECK(per_sample == positions_, "autoregressive: a sample of shape ", sample_shape, " has ", per_sample,
              " entries but the model has ", positions_, " positions");
  return at::zeros(shape, at::TensorOptions().dtype(at::kFloat).device(gen.device()));
}

StepOutput AutoregressiveSampler::step(const at::Tensor& x, int64_t i, at::Generator& gen) const {
  TORCH_CHECK(i >= 0 && i < positions_, "autoregressive: position ", i, " outside [0, ", positions_, ")");
  TORCH_CHECK(x.dim() >= 1 && x.numel() == x.size(0) * positions_, "autoregressive: x of shape ", x.sizes(),
              " does not hold ", positions_, " positions per sample");
  at::Tensor value = draw_(x, i, gen);
  TORCH_CHECK(value.defined() && value.numel() == x.size(0), "autoregressive: the draw function returned ",
              value.defined() ? value.numel() : 0, " values for position ", i, "; expected one per sample (",
              x.size(0), ")");
  at::Tensor out = x.clone(at::MemoryFormat::Contiguous);
  out.view({x.size(0), positions_}).select(1, i).copy_(value.reshape({x.size(0)}));
  return {out, NoiseLevel::none(), {}};
}

}  // namespace scorelab
