#include "models/toy_score.h"

#include <torch/torch.h>

#include "core/error.h"

namespace scorelab {

namespace {
bool edm(const ToyNetConfig& c, const char* net) {
  if (c.precond == "none") return false;
  if (c.precond == "edm") return true;
  throw ConfigError(std::string(net) + ": preconditioning '" + c.precond + "'; expected none or edm");
}
}  // namespace

ScoreMLPImpl::ScoreMLPImpl(const ToyNetConfig& config) : config_(config) {
  net_ = register_module("net", MLP(config.dim + config.embed, config.hidden, config.depth, config.dim));
  if (config.classes < 0) throw ConfigError("score-mlp: classes must be >= 0, got " + std::to_string(config.classes));
  if (config.classes > 0) label_embed_ = register_module("label_embed", torch::nn::Embedding(config.classes, config.embed));
  if (edm(config, "score-mlp")) {
    if (!config.centre.empty() && static_cast<int64_t>(config.centre.size()) != config.dim)
      throw ConfigError("score-mlp: centre has " + std::to_string(config.centre.size()) + " coordinates, expected " +
                        std::to_string(config.dim));
    centre_ = register_buffer("centre", config.centre.empty() ? torch::zeros({1, config.dim})
                                                              : torch::tensor(config.centre, torch::kFloat32).reshape({1, -1}));
  }
}

at::Tensor ScoreMLPImpl::forward(const at::Tensor& x, const at::Tensor& sigma, const at::Tensor& labels) {
  TORCH_CHECK(labels.defined() == (config_.classes > 0), "score-mlp: ",
              config_.classes > 0 ? "a class-conditional network needs labels" : "an unconditional network takes no labels");
  auto s = sigma.to(x.scalar_type()).reshape({-1, 1});
  const double sd2 = config_.scale * config_.scale;
  auto c_in = torch::rsqrt(s * s + sd2);
  auto emb = sinusoidal_embedding(torch::log(s).squeeze(1) * 10.0, config_.embed).to(x.scalar_type());
  if (labels.defined()) emb = emb + label_embed_->forward(labels.to(torch::kLong)).to(x.scalar_type());
  if (!centre_.defined()) return net_->forward(torch::cat({x * c_in, emb}, 1)) / s;
  auto xc = x - centre_.to(x.scalar_type());
  auto f = net_->forward(torch::cat({xc * c_in, emb}, 1));
  return -xc * (c_in * c_in) + f * (config_.scale * c_in / s);
}

EpsMLPImpl::EpsMLPImpl(const ToyNetConfig& config) : config_(config) {
  net_ = register_module("net", MLP(config.dim + config.embed, config.hidden, config.depth, config.dim));
  if (edm(config, "eps-mlp")) {
    if (config.alphas_cumprod.empty()) throw ConfigError("eps-mlp: edm preconditioning needs the schedule's abar_t");
    // sqrt(abar_t) and sqrt(1 - abar_t), formed in double: 1 - abar_t in float32 loses digits near t = 0.
    auto ab = torch::tensor(config.alphas_cumprod, torch::kFloat64);
    coef_ = register_buffer("eps_coef", torch::stack({torch::sqrt(ab), torch::sqrt(1.0 - ab)}, 1).to(torch::kFloat32));
  }
}

at::Tensor EpsMLPImpl::forward(const at::Tensor& x, const at::Tensor& t) {
  auto emb = sinusoidal_embedding(t, config_.embed).to(x.scalar_type());
  auto f = net_->forward(torch::cat({x, emb}, 1));
  if (!coef_.defined()) return f;
  auto k = coef_.index_select(0, t.to(torch::kLong)).to(x.scalar_type());  // [N, 2]
  return k.select(1, 1).unsqueeze(1) * x - k.select(1, 0).unsqueeze(1) * f;
}

ToyClassifierImpl::ToyClassifierImpl(const ToyNetConfig& config) : config_(config) {
  if (config.classes < 1) throw ConfigError("classifier-mlp: classes must be >= 1, got " + std::to_string(config.classes));
  net_ = register_module("net", MLP(config.dim + config.embed, config.hidden, config.depth, config.classes));
}

at::Tensor ToyClassifierImpl::forward(const at::Tensor& x, const at::Tensor& sigma) {
  const auto s = sigma.to(x.scalar_type()).reshape({-1, 1});
  const auto c_in = torch::rsqrt(s * s + config_.scale * config_.scale);
  const auto emb = sinusoidal_embedding(torch::log(s).squeeze(1) * 10.0, config_.embed).to(x.scalar_type());
  return net_->forward(torch::cat({x * c_in, emb}, 1));
}

}  // namespace scorelab
