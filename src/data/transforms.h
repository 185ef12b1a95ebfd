// Gaussian smoothing / perturbation noise on data, as the objectives name it: forwards to the VE marginals of
// core/noise.h, the one place noise is added to data (STYLE 4).
#pragma once
#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>

namespace scorelab {

struct Noised {
  at::Tensor noisy;  // x + sigma * z
  at::Tensor noise;  // z ~ N(0, I)
};

// x~ = x + sigma * z with z ~ N(0, I); sigma is a scalar (> 0) ...
Noised add_gaussian_noise(const at::Tensor& x, double sigma, at::Generator& gen);
// ... or one sigma per example (sigma: [N], broadcast over the other dimensions).
Noised add_gaussian_noise(const at::Tensor& x, const at::Tensor& sigma, at::Generator& gen);
// q(x~ | x) = N(x, sigma^2 I) of distribution smoothing (Meng et al. 2021); fresh noise every call.
at::Tensor smooth(const at::Tensor& x, double sigma, at::Generator& gen);
// Broadcasts a per-example vector [N] against x [N, ...].
at::Tensor per_example(const at::Tensor& v, const at::Tensor& like);

}  // namespace scorelab
