#include "models/toy_score.h"

#include <torch/torch.h>

namespace scorelab {

ScoreMLPImpl::ScoreMLPImpl(const ToyNetConfig& config) : config_(config) {
  net_ = register_module("net", MLP(config.dim + config.embed, config.hidden, config.depth, config.dim));
}

at::Tensor ScoreMLPImpl::forward(const at::Tensor& x, const at::Tensor& sigma) {
  auto s = sigma.to(x.scalar_type()).reshape({-1, 1});
  auto c_in = torch::rsqrt(s * s + config_.scale * config_.scale);
  auto emb = sinusoidal_embedding(torch::log(s).squeeze(1) * 10.0, config_.embed).to(x.scalar_type());
  return net_->forward(torch::cat({x * c_in, emb}, 1)) / s;
}

EpsMLPImpl::EpsMLPImpl(const ToyNetConfig& config) : config_(config) {
  net_ = register_module("net", MLP(config.dim + config.embed, config.hidden, config.depth, config.dim));
}

at::Tensor EpsMLPImpl::forward(const at::Tensor& x, const at::Tensor& t) {
  auto emb = sinusoidal_embedding(t, config_.embed).to(x.scalar_type());
  return net_->forward(torch::cat({x, emb}, 1));
}

}  // namespace scorelab
