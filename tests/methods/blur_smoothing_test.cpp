// Blur smoothing (issue 15): the blur against scipy.ndimage.gaussian_filter's definition written out here,
// the objectives' x~ against that blur, its log-determinant, and the blur methods' inpainting and flags.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/runtime.h"
#include "data/transforms.h"
#include "methods/inpaint.h"
#include "methods/method.h"
#include "objectives/objective.h"
#include "support/tiny_image.h"

namespace scorelab {
namespace {

// scipy's 'reflect' boundary, written as repeated mirroring (d c b a | a b c d | d c b a).
int64_t mirror(int64_t j, int64_t n) {
  while (j < 0 || j >= n) j = j < 0 ? -j - 1 : 2 * n - 1 - j;
  return j;
}

// gaussian_filter(x, s, mode='reflect', truncate=4) on one 2-D plane, by direct summation in float64.
std::vector<double> reference_blur(const std::vector<double>& x, int64_t h, int64_t w, double s) {
  const int64_t r = static_cast<int64_t>(4.0 * s + 0.5);
  std::vector<double> k(2 * r + 1);
  double total = 0;
  for (int64_t i = -r; i <= r; ++i) total += k[i + r] = std::exp(-0.5 * i * i / (s * s));
  for (auto& v : k) v /= total;
  std::vector<double> out(h * w, 0.0);
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j)
      for (int64_t a = -r; a <= r; ++a)
        for (int64_t b = -r; b <= r; ++b)
          out[i * w + j] += k[a + r] * k[b + r] * x[mirror(i + a, h) * w + mirror(j + b, w)];
  return out;
}

at::Tensor reference_blur_images(const at::Tensor& x, double s) {  // [N, C, H, W]
  const at::Tensor xd = x.to(torch::kFloat64).contiguous();
  at::Tensor out = torch::empty_like(xd);
  const int64_t h = x.size(2), w = x.size(3);
  for (int64_t n = 0; n < x.size(0); ++n)
    for (int64_t c = 0; c < x.size(1); ++c) {
      const at::Tensor plane = xd[n][c].flatten();
      std::vector<double> v(plane.data_ptr<double>(), plane.data_ptr<double>() + plane.numel());
      const auto b = reference_blur(v, h, w, s);
      out[n][c].copy_(torch::tensor(b, torch::kFloat64).reshape({h, w}));
    }
  return out;
}

TEST(BlurSmoothing, BlurIsScipysGaussianFilterWithReflectBoundary) {
  auto gen = make_generator(3);
  // A kernel radius (4 s + 0.5 -> 6 for s = 1.5) wider than the 5-pixel side: the mirror repeats.
  for (double s : {0.5, 1.0, 1.5}) {
    const at::Tensor x = torch::rand({2, 3, 5, 7}, gen, torch::kFloat64) * 2 - 1;
    const at::Tensor got = gaussian_blur(x, s);
    EXPECT_LT((got - reference_blur_images(x, s)).abs().max().item<double>(), 1e-12) << s;
  }
  // Kernel: normalised, length 2 int(4 s + 0.5) + 1.
  const at::Tensor k = gaussian_kernel1d(1.0);
  EXPECT_EQ(k.size(0), 9);
  EXPECT_NEAR(k.sum().item<double>(), 1.0, 1e-15);
  EXPECT_NEAR((k[4] / k[5]).item<double>(), std::exp(0.5), 1e-12);
  // Blur preserves constants (rows of the matrix sum to 1) and [N, D] is the 1-D filter over the coordinates.
  EXPECT_LT((blur_matrix(2, 1.0).sum(1) - 1).abs().max().item<double>(), 1e-14);
  const at::Tensor v = torch::rand({4, 6}, gen, torch::kFloat64);
  const at::Tensor as_image = gaussian_blur(v.reshape({4, 1, 1, 6}), 1.0).reshape({4, 6});
  EXPECT_LT((gaussian_blur(v, 1.0) - as_image).abs().max().item<double>(), 1e-12);
  EXPECT_TRUE(torch::equal(gaussian_blur(v, 0.0), v));
}

TEST(BlurSmoothing, LogDeterminantIsThatOfTheFullLinearMap) {
  const std::vector<int64_t> shape = {2, 4, 5};
  const int64_t d = 40;
  // The map's matrix, column by column: the blur of each basis image.
  const at::Tensor basis = torch::eye(d, torch::kFloat64).reshape({d, 2, 4, 5});
  const at::Tensor m = gaussian_blur(basis, 0.8).reshape({d, d}).t();
  const double want = std::get<1>(at::linalg_slogdet(m)).item<double>();
  EXPECT_NEAR(gaussian_blur_log_abs_det(shape, 0.8), want, 1e-9 * std::abs(want));
  EXPECT_NEAR(gaussian_blur_log_abs_det({2}, 1.0), std::log(std::abs(at::linalg_det(blur_matrix(2, 1.0)).item<double>())),
              1e-12);
}

// Stage 1 of blur smoothing fits B x (blur) or B x + sigma z (blur + noise); stage 2 conditions on the same x~.
TEST(BlurSmoothing, ObjectivesSeeTheBlurredData) {
  auto gen0 = make_generator(5);
  const at::Tensor x = torch::rand({4, 1, 6, 6}, gen0) * 2 - 1;
  const at::Tensor blurred = reference_blur_images(x, 1.2).to(torch::kFloat32);
  at::Tensor seen, seen_cond;
  ObjectiveArgs a;
  a.log_prob = [&](const at::Tensor& v, const at::Tensor& cond) {
    seen = v.detach().clone();
    seen_cond = cond.defined() ? cond.detach().clone() : cond;
    return torch::zeros({v.size(0)}, v.options());
  };
  a.blur = 1.2;
  a.sigma = 0.0;
  auto g1 = make_generator(1);
  objective_registry().get("smoothed-nll")(a)->loss(x, g1);
  EXPECT_LT((seen - blurred).abs().max().item<double>(), 1e-5);
  EXPECT_GT((seen - x).abs().max().item<double>(), 0.05);  // it is not the clean data
  // Blur + noise: x~ - B x is the noise, N(0, sigma^2).
  a.sigma = 0.3;
  const at::Tensor big = torch::rand({256, 1, 6, 6}, gen0) * 2 - 1;
  objective_registry().get("smoothed-nll")(a)->loss(big, g1);
  const at::Tensor z = (seen - reference_blur_images(big, 1.2).to(torch::kFloat32)) / 0.3;
  EXPECT_NEAR(z.mean().item<double>(), 0.0, 0.02);
  EXPECT_NEAR(z.std().item<double>(), 1.0, 0.02);
  // Stage 2: x~ = B x is the condition; the target is x (dequantized by t when t > 0).
  a.sigma = 0.0;
  objective_registry().get("reverse-smoothing")(a)->loss(x, g1);
  EXPECT_LT((seen_cond - blurred).abs().max().item<double>(), 1e-5);
  EXPECT_TRUE(torch::equal(seen, x));
  // Without blur a noise level is needed.
  a.blur = 0.0;
  EXPECT_THROW(objective_registry().get("smoothed-nll")(a), ConfigError);
}

// The blur methods condition stage 1 only on blurred pixels whose whole footprint is known: the completion
// cannot depend on the hidden pixels.
TEST(BlurSmoothing, InpaintingDoesNotSeeTheHiddenPixels) {
  auto gen0 = make_generator(11);
  const at::Tensor images = torch::rand({2, 1, 8, 8}, gen0) * 2 - 1;
  at::Tensor mask = torch::zeros({2, 1, 8, 8});
  mask.slice(3, 0, 4).fill_(1.0);  // left half known
  at::Tensor other = images.clone();
  other.slice(3, 4, 8).copy_(torch::rand({2, 1, 8, 4}, gen0) * 2 - 1);  // different hidden pixels
  for (const std::string method : {"smoothed-ar-blur", "smoothed-ar-blur-noise"}) {
    LoadedModels models{test_support::tiny_image_model(method, 1, 6), test_support::tiny_image_model(method, 2, 7)};
    SamplingConfig config;
    config.denoise = "conditional-ar";
    auto g1 = make_generator(4), g2 = make_generator(4);
    const at::Tensor a = inpaint(config, models, images, mask, g1);
    const at::Tensor b = inpaint(config, models, other, mask, g2);
    const at::Tensor known = mask.gt(0.5);
    EXPECT_TRUE(torch::equal(a.masked_select(known), images.masked_select(known))) << method;
    EXPECT_TRUE(torch::equal(a.masked_select(~known), b.masked_select(~known))) << method;
    // single-step reverses Gaussian noise only: a clear error naming the flag.
    config.denoise = "single-step";
    try {
      get_method(method).validate_for(config, models);
      FAIL() << method << " accepted --denoise single-step";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("--denoise"), std::string::npos) << e.what();
    }
  }
}

// The footprint mask keeps exactly the blurred pixels that mix known pixels only: on a 16-wide image with the left 8
// columns known and blur 0.5 (radius int(4 * 0.5 + 0.5) = 2), columns 0..5.
TEST(BlurSmoothing, KnownFootprintIsTheKnownPixelsShrunkByTheKernelRadius) {
  at::Tensor known = torch::zeros({1, 1, 6, 16}, torch::kBool);
  known.slice(3, 0, 8).fill_(true);
  const at::Tensor got = blur_known_footprint(known, 0.5);
  at::Tensor want = torch::zeros_like(known);
  want.slice(3, 0, 6).fill_(true);
  EXPECT_TRUE(torch::equal(got, want));
  // A hole in the middle: known everywhere except one pixel; its 5x5 neighbourhood is lost.
  at::Tensor holed = torch::ones({1, 1, 9, 9}, torch::kBool);
  holed[0][0][4][4] = false;
  EXPECT_EQ((~blur_known_footprint(holed, 0.5)).sum().item<int64_t>(), 25);
  EXPECT_TRUE(torch::equal(blur_known_footprint(known, 0.0), known));
}

TEST(BlurSmoothing, ConfigsCarryTheBlurOnlyForTheBlurMethods) {
  ImageTrainConfig c;
  c.method = "smoothed-ar-blur";
  EXPECT_EQ(c.smoothing().blur, 1.0);
  EXPECT_EQ(c.smoothing().sigma, 0.0);
  EXPECT_EQ(c.to_json().at("blur_sigma").get<double>(), 1.0);
  c.method = "smoothed-ar-blur-noise";
  c.blur_sigma = 2.0;
  EXPECT_EQ(c.smoothing().blur, 2.0);
  EXPECT_EQ(c.smoothing().sigma, 0.5);  // MNIST's smoothing sigma
  c.validate();
  c.method = "smoothed-ar";
  EXPECT_THROW(c.validate(), ConfigError);  // --blur-sigma with a method without blur
  c.blur_sigma = 0.0;
  EXPECT_FALSE(c.to_json().contains("blur_sigma"));
  EXPECT_EQ(c.smoothing().blur, 0.0);
  c.method = "smoothed-ar-blur";
  c.blur_sigma = -1.0;
  EXPECT_THROW(c.validate(), ConfigError);
  c.blur_sigma = 0.0;
  c.sigma = 0.3;  // noise with the blur-only method
  EXPECT_THROW(c.validate(), ConfigError);
  EXPECT_EQ(c.smoothing().dequantize, 1.0 / 255.0);  // 8-bit pixels dequantized before the blur
}

}  // namespace
}  // namespace scorelab
