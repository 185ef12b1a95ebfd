#include "models/noisy_classifier.h"

#include <torch/torch.h>

#include <string>

#include "core/error.h"
#include "models/mlp.h"

namespace scorelab {

void NoisyClassifierConfig::validate() const {
  auto positive = [](const char* name, double v) {
    if (!(v > 0)) throw ConfigError(std::string("noisy-classifier: ") + name + " must be > 0, got " + std::to_string(v));
  };
  positive("channels", static_cast<double>(channels));
  positive("width", static_cast<double>(width));
  positive("classes", static_cast<double>(classes));
  positive("data_std", data_std);
  if (embed < 2 || embed % 2 != 0) throw ConfigError("noisy-classifier: embed must be even and >= 2, got " + std::to_string(embed));
}

NoisyClassifierImpl::NoisyClassifierImpl(const NoisyClassifierConfig& config) : config_(config) {
  config_.validate();
  const int64_t w = config_.width, e = config_.embed;
  convs_ = register_module("convs", torch::nn::ModuleList());
  norms_ = register_module("norms", torch::nn::ModuleList());
  film_ = register_module("film", torch::nn::ModuleList());
  int64_t in = config_.channels;
  for (int i = 0; i < 3; ++i) {
    const int64_t out = w << i;
    convs_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(i == 0 ? 1 : 2).padding(1)));
    norms_->push_back(torch::nn::GroupNorm(torch::nn::GroupNormOptions(std::min<int64_t>(8, out), out)));
    film_->push_back(torch::nn::Linear(e, out));
    in = out;
  }
  emb1_ = register_module("emb1", torch::nn::Linear(e, e));
  emb2_ = register_module("emb2", torch::nn::Linear(e, e));
  head_ = register_module("head", torch::nn::Linear(in, config_.classes));
}

at::Tensor NoisyClassifierImpl::forward(const at::Tensor& x, const at::Tensor& sigma) {
  const int64_t n = x.size(0);
  at::Tensor s = sigma.to(x.scalar_type()).reshape({-1});
  if (s.size(0) == 1 && n != 1) s = s.expand({n});
  const at::Tensor c_in = torch::rsqrt(s * s + config_.data_std * config_.data_std).reshape({-1, 1, 1, 1});
  at::Tensor e = sinusoidal_embedding(torch::log(s) * 10.0, config_.embed).to(x.scalar_type());
  e = emb2_->forward(torch::silu(emb1_->forward(e)));
  e = torch::silu(e);
  at::Tensor h = x * c_in;
  for (size_t i = 0; i < convs_->size(); ++i) {
    h = convs_[i]->as<torch::nn::Conv2d>()->forward(h);
    h = norms_[i]->as<torch::nn::GroupNorm>()->forward(h);
    h = torch::silu(h + film_[i]->as<torch::nn::Linear>()->forward(e).unsqueeze(-1).unsqueeze(-1));
  }
  return head_->forward(h.mean({2, 3}));
}

}  // namespace scorelab
