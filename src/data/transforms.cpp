#include "data/transforms.h"

#include <torch/torch.h>

#include <cmath>

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

at::Tensor gaussian_kernel1d(double blur_sigma) {
  TORCH_CHECK(blur_sigma > 0 && std::isfinite(blur_sigma), "gaussian_kernel1d: blur sigma must be > 0");
  const auto r = static_cast<int64_t>(4.0 * blur_sigma + 0.5);
  at::Tensor k = torch::arange(-r, r + 1, torch::kFloat64);
  k = torch::exp(-0.5 * k * k / (blur_sigma * blur_sigma));
  return k / k.sum();
}

at::Tensor blur_matrix(int64_t n, double blur_sigma) {
  TORCH_CHECK(n >= 1, "blur_matrix: n must be >= 1");
  const at::Tensor kernel = gaussian_kernel1d(blur_sigma);
  const auto w = kernel.accessor<double, 1>();
  const int64_t r = (kernel.size(0) - 1) / 2;
  at::Tensor m = torch::zeros({n, n}, torch::kFloat64);
  auto a = m.accessor<double, 2>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = -r; k <= r; ++k) {
      int64_t j = ((i + k) % (2 * n) + 2 * n) % (2 * n);  // 'reflect': period 2n, mirrored in its second half
      if (j >= n) j = 2 * n - 1 - j;
      a[i][j] += w[k + r];
    }
  return m;
}

at::Tensor gaussian_blur(const at::Tensor& x, double blur_sigma) {
  if (blur_sigma == 0) return x;
  TORCH_CHECK(x.dim() == 2 || x.dim() == 4, "gaussian_blur: x must be [N, D] or [N, C, H, W]");
  const auto opts = x.options();
  if (x.dim() == 2) return x.matmul(blur_matrix(x.size(1), blur_sigma).to(opts).t());
  const at::Tensor mh = blur_matrix(x.size(2), blur_sigma).to(opts);
  const at::Tensor mw = blur_matrix(x.size(3), blur_sigma).to(opts);
  return mh.matmul(x).matmul(mw.t());
}

double gaussian_blur_log_abs_det(at::IntArrayRef shape, double blur_sigma) {
  if (blur_sigma == 0) return 0.0;
  const auto logdet = [&](int64_t n) { return std::get<1>(at::linalg_slogdet(blur_matrix(n, blur_sigma))).item<double>(); };
  if (shape.size() == 1) return logdet(shape[0]);
  TORCH_CHECK(shape.size() == 3, "gaussian_blur_log_abs_det: a shape [D] or [C, H, W]");
  // Per channel B = M_H (x) M_W: log |det| = W log |det M_H| + H log |det M_W|.
  const double h = static_cast<double>(shape[1]), w = static_cast<double>(shape[2]);
  return static_cast<double>(shape[0]) * (w * logdet(shape[1]) + h * logdet(shape[2]));
}

at::Tensor Smoothing::mean(const at::Tensor& x) const { return gaussian_blur(x, blur); }

at::Tensor Smoothing::apply(const at::Tensor& x, at::Generator& gen) const {
  const at::Tensor m = mean(dequantize > 0 ? x + at::empty_like(x).uniform_(-dequantize, dequantize, gen) : x);
  return has_noise() ? smooth(m, sigma, gen) : m;
}

at::Tensor blur_known_footprint(const at::Tensor& known, double blur_sigma) {
  if (blur_sigma == 0) return known.to(torch::kBool);
  // The blur of the unknown indicator is exactly 0 where no unknown pixel is mixed in (all weights are > 0).
  const at::Tensor reach = gaussian_blur((~known.to(torch::kBool)).to(torch::kFloat64), blur_sigma);
  return reach == 0;
}

}  // namespace scorelab
