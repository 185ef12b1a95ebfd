#include "models/mlp.h"

#include <torch/torch.h>

#include "core/precision.h"

namespace scorelab {

MLPImpl::MLPImpl(int64_t in, int64_t hidden, int64_t depth, int64_t out) {
  TORCH_CHECK(in > 0 && hidden > 0 && depth >= 1 && out > 0, "MLP sizes must be positive");
  body_ = torch::nn::Sequential();
  int64_t width = in;
  for (int64_t i = 0; i < depth; ++i) {
    body_->push_back(torch::nn::Linear(width, hidden));
    body_->push_back(torch::nn::SiLU());
    width = hidden;
  }
  last_ = torch::nn::Linear(width, out);
  register_module("body", body_);
  register_module("last", last_);
}

at::Tensor MLPImpl::forward(const at::Tensor& x) {
  MixedPrecisionScope mixed;  // --precision bf16: the matrix products in bf16, the output fp32
  return to_float32(last_->forward(body_->forward(x)));
}

at::Tensor sinusoidal_embedding(const at::Tensor& t, int64_t dim, double max_period) {
  TORCH_CHECK(dim % 2 == 0, "sinusoidal embedding dim must be even");
  const int64_t half = dim / 2;
  auto freqs = torch::exp(-std::log(max_period) * torch::arange(half, t.options().dtype(torch::kFloat32)) / half);
  auto args = t.to(torch::kFloat32).unsqueeze(-1) * freqs.unsqueeze(0);
  return torch::cat({torch::sin(args), torch::cos(args)}, -1);
}

}  // namespace scorelab
