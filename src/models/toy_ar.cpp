#include "models/toy_ar.h"

#include <torch/torch.h>

#include "models/mixture_logistic.h"
#include "models/mlp.h"

namespace scorelab {

ToyARImpl::ToyARImpl(const ToyARConfig& config) : config_(config) {
  TORCH_CHECK(config.dim >= 1 && config.cond_dim >= 0 && config.mixtures >= 1 && config.scale > 0,
              "ToyAR: bad sizes");
  const int64_t M = config.mixtures;
  // Spread the initial component locations over [-2, 2] (in units of the data scale) so that every
  // component starts near data; logits and log-scales start at 0.
  auto init_bias = torch::zeros({3 * M});
  init_bias.slice(0, M, 2 * M).copy_(torch::linspace(-2.0, 2.0, M));
  nets_ = register_module("nets", torch::nn::ModuleList());
  for (int64_t d = 0; d < config.dim; ++d) {
    const int64_t in = d + config.cond_dim;
    if (in == 0) {
      base_ = register_parameter("base", init_bias.clone());
      nets_->push_back(torch::nn::Identity());
    } else {
      MLP net(in, config.hidden, config.depth, 3 * M);
      torch::NoGradGuard no_grad;
      net->last()->bias.copy_(init_bias);
      net->last()->weight.mul_(0.1);
      nets_->push_back(net);
    }
  }
}

at::Tensor ToyARImpl::params(const at::Tensor& x, int64_t pos, const at::Tensor& cond) {
  TORCH_CHECK(pos >= 0 && pos < config_.dim, "ToyAR: position out of range");
  const int64_t n = x.size(0);
  const int64_t M = config_.mixtures;
  at::Tensor raw;
  if (pos == 0 && config_.cond_dim == 0) {
    raw = base_.unsqueeze(0).expand({n, 3 * M});
  } else {
    std::vector<at::Tensor> inputs;
    if (pos > 0) inputs.push_back(x.slice(1, 0, pos) / config_.scale);
    if (config_.cond_dim > 0) {
      TORCH_CHECK(cond.defined() && cond.size(1) == config_.cond_dim, "ToyAR: expected a condition of width ",
                  config_.cond_dim);
      inputs.push_back(cond / config_.scale);
    }
    raw = nets_[pos]->as<MLPImpl>()->forward(torch::cat(inputs, 1));
  }
  auto parts = raw.chunk(3, 1);
  const double log_scale = std::log(config_.scale);
  return torch::cat({parts[0], parts[1] * config_.scale, parts[2] + log_scale}, 1);
}

at::Tensor ToyARImpl::conditional_log_prob(const at::Tensor& x, const at::Tensor& cond, bool detach_params) {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == config_.dim, "ToyAR: x must be [N, ", config_.dim, "], got ", x.sizes());
  at::Tensor total = torch::zeros({x.size(0)}, x.options());
  const at::Tensor x_in = detach_params ? x.detach() : x;
  const at::Tensor c_in = (detach_params && cond.defined()) ? cond.detach() : cond;
  for (int64_t d = 0; d < config_.dim; ++d) {
    auto p = params(x_in, d, c_in);
    if (detach_params) p = p.detach();
    total = total + logistic_mixture_log_prob(x.select(1, d), p);
  }
  return total;
}

at::Tensor ToyARImpl::log_prob(const at::Tensor& x, const at::Tensor& cond) {
  return conditional_log_prob(x, cond, /*detach_params=*/false);
}

at::Tensor ToyARImpl::draw(const at::Tensor& x, int64_t pos, const at::Tensor& cond, at::Generator& gen) {
  return logistic_mixture_sample(params(x, pos, cond), gen);
}

at::Tensor ToyARImpl::score(const at::Tensor& x, const at::Tensor& cond, bool detached) {
  torch::AutoGradMode enable(true);
  auto xg = x.detach().requires_grad_(true);
  auto lp = conditional_log_prob(xg, cond, detached).sum();
  return torch::autograd::grad({lp}, {xg})[0].detach();
}

}  // namespace scorelab
