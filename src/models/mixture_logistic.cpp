#include "models/mixture_logistic.h"

#include <torch/torch.h>

namespace scorelab {

namespace {
struct Split {
  at::Tensor logits, means, log_scales;
};
Split split(const at::Tensor& params, double log_scale_min) {
  TORCH_CHECK(params.size(-1) % 3 == 0, "logistic mixture params must have 3M entries on the last axis, got ",
              params.size(-1));
  auto parts = params.chunk(3, -1);
  return {parts[0], parts[1], parts[2].clamp_min(log_scale_min)};
}
}  // namespace

at::Tensor logistic_mixture_log_prob(const at::Tensor& x, const at::Tensor& params, double log_scale_min) {
  auto p = split(params, log_scale_min);
  auto z = (x.unsqueeze(-1) - p.means) * torch::exp(-p.log_scales);
  // log logistic pdf: -z - 2 softplus(-z) - log s
  auto log_pdf = -z - 2 * torch::softplus(-z) - p.log_scales;
  return torch::logsumexp(log_pdf + torch::log_softmax(p.logits, -1), -1);
}

at::Tensor logistic_mixture_sample(const at::Tensor& params, at::Generator& gen, double log_scale_min) {
  auto p = split(params, log_scale_min);
  const double tiny = 1e-5;
  auto u_k = at::empty(p.logits.sizes(), p.logits.options()).uniform_(tiny, 1.0 - tiny, gen);
  auto k = (p.logits - torch::log(-torch::log(u_k))).argmax(-1, /*keepdim=*/true);
  auto mu = p.means.gather(-1, k).squeeze(-1);
  auto ls = p.log_scales.gather(-1, k).squeeze(-1);
  auto u = at::empty(mu.sizes(), mu.options()).uniform_(tiny, 1.0 - tiny, gen);
  return mu + torch::exp(ls) * (torch::log(u) - torch::log1p(-u));
}

}  // namespace scorelab
