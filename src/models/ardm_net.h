// The networks of order-agnostic ARDM (objectives/ardm.h; issue 15): logits [N, D, K] for every variable given the
// known ones and the mask.
//   ardm-mlp (mixtures, the coordinates discretised into K bins): an MLP of [known values on [-1, 1], mask,
//            fraction known] -> D * K logits;
//   on images the DDPM U-Net with 2C inputs ([x on [-1, 1] where known else 0, mask]), C * K outputs and the
//   fraction known as its time input (methods/ardm.cpp).
#pragma once
#include <ATen/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "models/mlp.h"

namespace scorelab {

struct ArdmMLPConfig {
  int64_t dim = 2;
  int64_t categories = 256;
  int64_t hidden = 128;
  int64_t depth = 3;
};

class ArdmMLPImpl : public torch::nn::Module {
 public:
  explicit ArdmMLPImpl(const ArdmMLPConfig& config);
  // x [N, D] int64 in 0..K-1 (ignored where not known), known [N, D] bool -> logits [N, D, K].
  at::Tensor forward(const at::Tensor& x, const at::Tensor& known);
  const ArdmMLPConfig& config() const { return config_; }

 private:
  ArdmMLPConfig config_;
  MLP net_{nullptr};
};
TORCH_MODULE(ArdmMLP);

// The inputs of the image network: [x / 127.5 - 1 where known else 0, mask] ([N, 2C, H, W]) and the fraction known
// scaled to the U-Net's timestep range, 1000 * known / D ([N]), for x [N, C, H, W] int64 in 0..255.
std::pair<at::Tensor, at::Tensor> ardm_image_inputs(const at::Tensor& x, const at::Tensor& known);
// The network's output [N, C * K, H, W] (channel c's K logits at c * K .. c * K + K - 1) as logits [N, C H W, K], the
// variables in the order of x.flatten(1) for x [N, C, H, W].
at::Tensor ardm_image_logits(const at::Tensor& out, int64_t channels, int64_t categories);

}  // namespace scorelab
