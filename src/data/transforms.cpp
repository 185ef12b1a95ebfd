#include "data/transforms.h"

#include <torch/torch.h>

#include "core/noise.h"

namespace scorelab {

at::Tensor per_example(const at::Tensor& v, const at::Tensor& like) {
  std::vector<int64_t> shape(static_cast<size_t>(like.dim()), 1);
  shape[0] = like.size(0);
  return v.reshape(shape);
}

Noised add_gaussian_noise(const at::Tensor& x, double sigma, at::Generator& gen) {
  Perturbed p = perturb_ve(x, sigma, gen);
  return {p.noisy, p.noise};
}

Noised add_gaussian_noise(const at::Tensor& x, const at::Tensor& sigma, at::Generator& gen) {
  Perturbed p = perturb_ve(x, sigma, gen);
  return {p.noisy, p.noise};
}

at::Tensor smooth(const at::Tensor& x, double sigma, at::Generator& gen) { return add_gaussian_noise(x, sigma, gen).noisy; }

}  // namespace scorelab
