#include "data/transforms.h"

#include <torch/torch.h>

namespace scorelab {

at::Tensor per_example(const at::Tensor& v, const at::Tensor& like) {
  std::vector<int64_t> shape(static_cast<size_t>(like.dim()), 1);
  shape[0] = like.size(0);
  return v.reshape(shape);
}

Noised add_gaussian_noise(const at::Tensor& x, double sigma, at::Generator& gen) {
  TORCH_CHECK(sigma >= 0, "noise sigma must be >= 0, got ", sigma);
  auto z = at::normal(0.0, 1.0, x.sizes(), gen, x.options());
  return {x + sigma * z, z};
}

Noised add_gaussian_noise(const at::Tensor& x, const at::Tensor& sigma, at::Generator& gen) {
  TORCH_CHECK(sigma.dim() == 1 && sigma.size(0) == x.size(0), "per-example sigma must be [N]");
  auto z = at::normal(0.0, 1.0, x.sizes(), gen, x.options());
  return {x + per_example(sigma.to(x.scalar_type()), x) * z, z};
}

at::Tensor smooth(const at::Tensor& x, double sigma, at::Generator& gen) { return add_gaussian_noise(x, sigma, gen).noisy; }

}  // namespace scorelab
