#include "train/ema.h"

#include <torch/torch.h>

namespace scorelab {

Ema::Ema(std::vector<at::Tensor> params, double decay) : params_(std::move(params)), decay_(decay) {
  TORCH_CHECK(decay >= 0 && decay < 1, "EMA decay must be in [0, 1), got ", decay);
  torch::NoGradGuard ng;
  for (const auto& p : params_) shadow_.push_back(p.detach().clone());
}

void Ema::update() {
  torch::NoGradGuard ng;
  for (size_t i = 0; i < shadow_.size(); ++i) shadow_[i].mul_(decay_).add_(params_[i].detach(), 1.0 - decay_);
}

void Ema::copy_to_params() const {
  torch::NoGradGuard ng;
  for (size_t i = 0; i < shadow_.size(); ++i) params_[i].copy_(shadow_[i]);
}

}  // namespace scorelab
