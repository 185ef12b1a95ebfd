#include "models/ardm_net.h"

#include <torch/torch.h>

namespace scorelab {

ArdmMLPImpl::ArdmMLPImpl(const ArdmMLPConfig& c) : config_(c) {
  TORCH_CHECK(c.dim >= 1 && c.categories >= 2, "ardm-mlp: dim >= 1 and categories >= 2");
  net_ = register_module("net", MLP(2 * c.dim + 1, c.hidden, c.depth, c.dim * c.categories));
}

at::Tensor ArdmMLPImpl::forward(const at::Tensor& x, const at::Tensor& known) {
  const int64_t n = x.size(0), d = config_.dim, k = config_.categories;
  TORCH_CHECK(x.dim() == 2 && x.size(1) == d && known.sizes() == x.sizes(), "ardm-mlp: x and known must be [N, ", d,
              "]; got ", x.sizes(), " and ", known.sizes());
  const at::Tensor m = known.to(torch::kFloat32);
  const at::Tensor v = (x.to(torch::kFloat32) * (2.0 / (k - 1)) - 1.0) * m;
  const at::Tensor h = torch::cat({v, m, m.mean(1, /*keepdim=*/true)}, 1);
  return net_->forward(h).reshape({n, d, k});
}

std::pair<at::Tensor, at::Tensor> ardm_image_inputs(const at::Tensor& x, const at::Tensor& known) {
  const at::Tensor m = known.to(torch::kFloat32);
  const at::Tensor v = (x.to(torch::kFloat32) / 127.5 - 1.0) * m;
  const at::Tensor t = m.flatten(1).mean(1) * 1000.0;
  return {torch::cat({v, m}, 1), t};
}

at::Tensor ardm_image_logits(const at::Tensor& out, int64_t channels, int64_t categories) {
  const int64_t n = out.size(0), h = out.size(2), w = out.size(3);
  TORCH_CHECK(out.dim() == 4 && out.size(1) == channels * categories, "ardm_image_logits: expected [N, ",
              channels * categories, ", H, W]; got ", out.sizes());
  return out.reshape({n, channels, categories, h, w}).permute({0, 1, 3, 4, 2}).reshape({n, channels * h * w, categories});
}

}  // namespace scorelab
