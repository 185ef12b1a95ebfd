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

// ---- Gaussian blur (issue 15: blur smoothing). scipy.ndimage.gaussian_filter's definition: the kernel
// w_k = exp(-k^2 / (2 s^2)), k = -r..r, r = int(4 s + 0.5), normalised to sum 1, and its 'reflect' boundary
// (d c b a | a b c d | d c b a: the signal mirrored about its edges, repeated as often as the kernel needs).
at::Tensor gaussian_kernel1d(double blur_sigma);  // [2r + 1], float64 CPU
// The blur of a length-n signal as a matrix M [n, n] (float64 CPU): blur(v) = M v.
at::Tensor blur_matrix(int64_t n, double blur_sigma);
// Blurs x [N, D] (each row one 1-D signal: the toy's coordinates) or x [N, C, H, W] (each channel over H and W,
// separably); blur_sigma 0 returns x.
at::Tensor gaussian_blur(const at::Tensor& x, double blur_sigma);
// log |det B| of gaussian_blur as a linear map B on one example of shape `example_shape` ([D] or [C, H, W]).
double gaussian_blur_log_abs_det(at::IntArrayRef example_shape, double blur_sigma);

// The corruption q(x~ | x) of distribution smoothing: x~ = B (x + u) + sigma z with B a Gaussian blur (blur > 0) or
// the identity (Meng et al. 2021: B = I, sigma > 0), and u uniform dequantization noise on [-d, d] where d > 0
// (blur only on 8-bit images, so that x~ has a density; 0: none). Blur only on continuous data is deterministic.
struct Smoothing {
  double sigma = 0.0;       // noise std
  double blur = 0.0;        // blur std in pixels (images) or coordinates (the toy), 0: none
  double dequantize = 0.0;  // d: half the bin width of the uniform dequantization (1/255 on [-1, 1] pixels), 0: none
  bool has_noise() const { return sigma > 0; }
  bool has_blur() const { return blur > 0; }
  at::Tensor mean(const at::Tensor& x) const;                       // B x
  at::Tensor apply(const at::Tensor& x, at::Generator& gen) const;  // B (x + u) + sigma z (noise only: smooth(x, sigma))
};

// Which blurred pixels depend on `known` (bool, [N, C, H, W] or [N, D]) pixels only: those whose whole blur footprint
// is known (for blur smoothing's inpainting). Without blur, `known` itself.
at::Tensor blur_known_footprint(const at::Tensor& known, double blur_sigma);

}  // namespace scorelab
