#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/pixelcnnpp.h"
#include "models/pixelcnnpp_cache.h"

namespace scorelab {
namespace {

// Matrix products on gathered windows instead of whole-image convolutions reassociate float sums.
constexpr double kTol = 1e-5;

PixelCNNppConfig tiny(int64_t channels, PixelCNNConditioning mode, int64_t nr_resnet = 1) {
  PixelCNNppConfig c;
  c.nr_resnet = nr_resnet;
  c.nr_filters = 8;
  c.nr_logistic_mix = 3;
  c.input_channels = channels;
  c.conditioning = mode;
  return c;
}

struct Case {
  int64_t channels, height, width, nr_resnet;
  PixelCNNConditioning mode;
};

std::string describe(const Case& k) {
  return to_string(k.mode) + " C" + std::to_string(k.channels) + " " + std::to_string(k.height) + "x" +
         std::to_string(k.width) + " nr" + std::to_string(k.nr_resnet);
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (auto mode : {PixelCNNConditioning::kNone, PixelCNNConditioning::kStacked, PixelCNNConditioning::kStream}) {
    out.push_back({1, 8, 8, 1, mode});
    out.push_back({3, 4, 4, 1, mode});
  }
  out.push_back({1, 8, 12, 2, PixelCNNConditioning::kNone});    // non-square, two blocks per stage
  out.push_back({1, 6, 8, 1, PixelCNNConditioning::kStacked});  // 12 x 8 network input: x starts mid-block
  return out;
}

// Pixel by pixel, the cache's head parameters at each position equal the full forward's on a random image
// (they depend only on earlier pixels, so the full image's forward is the reference at every position).
TEST(PixelCNNppCache, PerPositionParamsEqualTheFullForward) {
  torch::NoGradGuard no_grad;
  for (const auto& k : cases()) {
    torch::manual_seed(11);
    PixelCNNpp model(tiny(k.channels, k.mode, k.nr_resnet));
    model->eval();
    const int64_t n = 2;
    auto x = torch::rand({n, k.channels, k.height, k.width}) * 2 - 1;
    at::Tensor cond;
    if (k.mode != PixelCNNConditioning::kNone) cond = torch::randn({n, k.channels, k.height, k.width}) * 0.5;
    auto full = model->forward(x, cond);
    PixelCNNppCache cache(*model, n, k.height, k.width, cond);
    ASSERT_EQ(cache.positions(), k.height * k.width);
    double worst = 0.0;
    for (int64_t pos = 0; pos < cache.positions(); ++pos) {
      const int64_t r = pos / k.width, c = pos % k.width;
      auto p = cache.params_at(pos);
      ASSERT_EQ(p.sizes(), (std::vector<int64_t>{n, full.size(1)}));
      worst = std::max(worst, (p - full.select(2, r).select(2, c)).abs().max().item<double>());
      cache.set_pixel(pos, x.select(2, r).select(2, c));
    }
    EXPECT_LE(worst, kTol) << describe(k);
    EXPECT_GT(full.abs().max().item<double>(), 0.1) << describe(k);  // not trivially zero
  }
}

TEST(PixelCNNppCache, ParamsAllEqualsTheForwardPass) {
  torch::NoGradGuard no_grad;
  for (const auto& k : cases()) {
    torch::manual_seed(12);
    PixelCNNpp model(tiny(k.channels, k.mode, k.nr_resnet));
    model->eval();
    auto x = torch::rand({3, k.channels, k.height, k.width}) * 2 - 1;
    at::Tensor cond;
    if (k.mode != PixelCNNConditioning::kNone) cond = torch::randn({3, k.channels, k.height, k.width}) * 0.5;
    PixelCNNppCache cache(*model, 3, k.height, k.width, cond);
    auto cached = cache.params_all(x);
    auto full = model->forward(x, cond);
    ASSERT_EQ(cached.sizes(), full.sizes()) << describe(k);
    EXPECT_LE((cached - full).abs().max().item<double>(), kTol) << describe(k);
  }
}

// Parameters at a position must not change when later pixels change (causality of the cache itself).
TEST(PixelCNNppCache, ParamsDoNotSeeThePixelItselfOrLaterOnes) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(13);
  PixelCNNpp model(tiny(3, PixelCNNConditioning::kNone));
  model->eval();
  auto x = torch::rand({1, 3, 8, 8}) * 2 - 1;
  auto y = x.clone();
  y.select(2, 5).slice(2, 3, 8).uniform_(-1, 1);  // pixel (5, 3) and after, on that row
  y.slice(2, 6, 8).uniform_(-1, 1);
  PixelCNNppCache a(*model, 1, 8, 8), b(*model, 1, 8, 8);
  auto pa = a.params_all(x), pb = b.params_all(y);
  const int64_t first = 5 * 8 + 3;
  auto flat_a = pa.flatten(2), flat_b = pb.flatten(2);
  EXPECT_TRUE(torch::equal(flat_a.slice(2, 0, first + 1), flat_b.slice(2, 0, first + 1)));
  EXPECT_FALSE(torch::equal(flat_a.slice(2, first + 1), flat_b.slice(2, first + 1)));
}

TEST(PixelCNNppCache, RejectsOutOfOrderUseAndTrainingMode) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(14);
  PixelCNNpp model(tiny(1, PixelCNNConditioning::kNone));
  model->eval();
  PixelCNNppCache cache(*model, 2, 8, 8);
  EXPECT_THROW(cache.params_at(1), c10::Error);  // pixel 0 is not set yet
  EXPECT_NO_THROW(cache.params_at(0));
  EXPECT_THROW(cache.set_pixel(1, torch::zeros({2, 1})), c10::Error);
  EXPECT_THROW(cache.set_pixel(0, torch::zeros({3, 1})), c10::Error);
  cache.set_pixel(0, torch::zeros({2, 1}));
  EXPECT_EQ(cache.known(), 1);
  EXPECT_THROW(PixelCNNppCache(*model, 2, 6, 8), c10::Error);  // not a multiple of 4
  model->train();
  EXPECT_THROW(PixelCNNppCache(*model, 2, 8, 8), c10::Error);
}

}  // namespace
}  // namespace scorelab
