#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "core/runtime.h"
#include "models/discretized_logistic.h"
#include "models/pixelcnnpp.h"
#include "models/registry.h"

namespace scorelab {
namespace {

PixelCNNppConfig tiny(int64_t channels, PixelCNNConditioning mode = PixelCNNConditioning::kNone) {
  PixelCNNppConfig c;
  c.nr_resnet = 1;
  c.nr_filters = 8;
  c.nr_logistic_mix = 2;
  c.input_channels = channels;
  c.conditioning = mode;
  return c;
}

int64_t count_params(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

TEST(PixelCNNppLayers, StrideTwoStagesAndTransposedConvsRestoreSizes) {
  torch::manual_seed(0);
  auto x = torch::randn({1, 4, 28, 28});
  for (Shift shift : {Shift::kDown, Shift::kDownRight}) {
    const std::array<int64_t, 2> k =
        shift == Shift::kDown ? std::array<int64_t, 2>{2, 3} : std::array<int64_t, 2>{2, 2};
    ShiftedConv2d down(4, 4, shift, k, 2);
    ShiftedDeconv2d up(4, 4, shift);
    auto h14 = down->forward(x);
    auto h7 = down->forward(h14);
    EXPECT_EQ(h14.sizes(), (std::vector<int64_t>{1, 4, 14, 14}));
    EXPECT_EQ(h7.sizes(), (std::vector<int64_t>{1, 4, 7, 7}));
    EXPECT_EQ(up->forward(h7).sizes(), (std::vector<int64_t>{1, 4, 14, 14}));
    EXPECT_EQ(up->forward(up->forward(h7)).sizes(), (std::vector<int64_t>{1, 4, 28, 28}));
  }
  auto s = torch::arange(1, 7, torch::kFloat32).view({1, 1, 2, 3});
  EXPECT_TRUE(torch::equal(down_shift(s), torch::tensor({0.f, 0.f, 0.f, 1.f, 2.f, 3.f}).view({1, 1, 2, 3})));
  EXPECT_TRUE(torch::equal(right_shift(s), torch::tensor({0.f, 1.f, 2.f, 0.f, 4.f, 5.f}).view({1, 1, 2, 3})));
}

TEST(PixelCNNpp, OutputShapes28x28Gray32x32Rgb) {
  torch::manual_seed(1);
  torch::NoGradGuard no_grad;
  for (auto mode : {PixelCNNConditioning::kNone, PixelCNNConditioning::kStacked, PixelCNNConditioning::kStream}) {
    PixelCNNpp gray(tiny(1, mode));
    PixelCNNpp rgb(tiny(3, mode));
    gray->eval();
    rgb->eval();
    const bool cond = mode != PixelCNNConditioning::kNone;
    auto xg = torch::rand({2, 1, 28, 28}) * 2 - 1;
    auto xc = torch::rand({2, 3, 32, 32}) * 2 - 1;
    EXPECT_EQ(gray->forward(xg, cond ? xg : at::Tensor()).sizes(), (std::vector<int64_t>{2, 6, 28, 28}));
    EXPECT_EQ(rgb->forward(xc, cond ? xc : at::Tensor()).sizes(), (std::vector<int64_t>{2, 20, 32, 32}));
  }
}

// Causality by gradients. One copy of x per raster position p (batch N = H * W, copies independent in eval
// mode): the output at p of copy p is summed and back-propagated, so the gradient of copy p is
// d out(p) / d x. It must be exactly zero at every position >= p (all channels of the pixel p itself
// included: the in-pixel order is the likelihood's coupling), and, checking the receptive field, nonzero at
// the neighbourhood before p (no blind spot: the two rows above within 3 columns either side, and the three
// pixels to the left). With a condition, out(p) may depend on x~ anywhere.
struct CausalityResult {
  bool future_zero = true;
  bool past_nonzero = true;
  bool cond_after_p_nonzero = true;  // out(p) sees some x~ pixel after p (p < last)
};

CausalityResult check_causality(PixelCNNppImpl& model, int64_t c, int64_t h, int64_t w, bool with_cond) {
  const int64_t n = h * w;
  auto x = (torch::rand({1, c, h, w}) * 2 - 1).repeat({n, 1, 1, 1}).requires_grad_(true);
  at::Tensor cond;
  if (with_cond) cond = (torch::rand({1, c, h, w}) * 2 - 1).repeat({n, 1, 1, 1}).requires_grad_(true);
  auto out = model.forward(x, cond);
  auto sel = torch::zeros({n, 1, h, w});
  for (int64_t p = 0; p < n; ++p) sel[p][0][p / w][p % w] = 1.0;
  (out * sel).sum().backward();
  auto gx = x.grad().abs().sum(1).view({n, n});  // [copy p, position q]
  CausalityResult r;
  for (int64_t p = 0; p < n; ++p) {
    if (gx[p].slice(0, p, n).max().item<float>() != 0.0f) r.future_zero = false;
    const int64_t i = p / w, j = p % w;
    for (int64_t q = 0; q < p; ++q) {
      const int64_t qi = q / w, qj = q % w;
      const bool near = (qi == i && j - qj <= 3) || (qi >= i - 2 && qi < i && std::abs(qj - j) <= 3);
      if (near && gx[p][q].item<float>() == 0.0f) r.past_nonzero = false;
    }
    if (with_cond && p + 1 < n) {
      auto gc = cond.grad()[p].abs().sum(0).view({n});
      if (gc.slice(0, p + 1, n).max().item<float>() == 0.0f) r.cond_after_p_nonzero = false;
    }
  }
  return r;
}

TEST(PixelCNNpp, CausalUnconditionalGrayAndRgb) {
  torch::manual_seed(2);
  for (int64_t c : {1, 3}) {
    PixelCNNpp model(tiny(c));
    model->eval();
    auto r = check_causality(*model, c, 8, 8, false);
    EXPECT_TRUE(r.future_zero) << "channels " << c;
    EXPECT_TRUE(r.past_nonzero) << "channels " << c << ": blind spot";
  }
}

TEST(PixelCNNpp, CausalStackedAndStreamConditioning) {
  torch::manual_seed(3);
  for (auto mode : {PixelCNNConditioning::kStacked, PixelCNNConditioning::kStream}) {
    PixelCNNpp model(tiny(3, mode));
    model->eval();
    const int64_t h = mode == PixelCNNConditioning::kStacked ? 4 : 8;  // stacked: an 8x8 network input
    auto r = check_causality(*model, 3, h, 8, true);
    EXPECT_TRUE(r.future_zero) << to_string(mode);
    EXPECT_TRUE(r.past_nonzero) << to_string(mode);
    EXPECT_TRUE(r.cond_after_p_nonzero) << to_string(mode);
  }
}

TEST(PixelCNNpp, WeightNormScaleInvariance) {
  torch::manual_seed(4);
  PixelCNNpp model(tiny(3, PixelCNNConditioning::kStream));
  model->eval();
  torch::NoGradGuard no_grad;
  auto x = torch::rand({2, 3, 8, 8}) * 2 - 1;
  auto before = model->forward(x, x.flip(3));
  int64_t scaled = 0;
  for (auto& kv : model->named_parameters()) {
    if (kv.key().size() >= 8 && kv.key().substr(kv.key().size() - 8) == "weight_v") {
      kv.value().mul_(2.5 + 0.01 * static_cast<double>(scaled));  // a different factor per layer
      ++scaled;
    }
  }
  EXPECT_GT(scaled, 20);
  auto after = model->forward(x, x.flip(3));
  EXPECT_TRUE(torch::allclose(before, after, 1e-4, 1e-5)) << (before - after).abs().max().item<float>();
  // g does scale the output of a layer: w = g v / ||v||.
  WNConv2d conv(3, 4, std::array<int64_t, 2>{2, 2});
  auto y0 = conv->forward(x);
  conv->weight_g.mul_(2.0);
  EXPECT_TRUE(torch::allclose(conv->forward(x) - conv->bias.view({1, 4, 1, 1}),
                              2.0 * (y0 - conv->bias.view({1, 4, 1, 1})), 1e-5, 1e-5));
}

TEST(PixelCNNpp, DropoutUsesTheModelGeneratorAndIsReproducible) {
  auto run = [](uint64_t seed) {
    torch::manual_seed(5);
    auto c = tiny(1);
    c.dropout_seed = seed;
    PixelCNNpp model(c);
    model->train();
    torch::NoGradGuard no_grad;
    auto x = torch::linspace(-1, 1, 64).view({1, 1, 8, 8});
    auto a = model->forward(x);
    auto b = model->forward(x);
    model->eval();
    return std::vector<at::Tensor>{a, b, model->forward(x)};
  };
  auto r1 = run(7), r2 = run(7), r3 = run(8);
  EXPECT_TRUE(torch::equal(r1[0], r2[0]));
  EXPECT_TRUE(torch::equal(r1[1], r2[1]));
  EXPECT_FALSE(torch::equal(r1[0], r1[1]));  // masks differ between calls
  EXPECT_FALSE(torch::equal(r1[0], r3[0]));
  EXPECT_FALSE(torch::equal(r1[0], r1[2]));  // eval: no dropout
  EXPECT_TRUE(torch::equal(r1[2], r3[2]));
}

TEST(PixelCNNpp, LikelihoodsOfTheHeadAreFiniteAndDifferentiable) {
  torch::manual_seed(6);
  PixelCNNpp model(tiny(3));
  auto x = torch::rand({2, 3, 8, 8}) * 2 - 1;
  auto params = model->forward(x);
  auto lp = discretized_mix_logistic_log_prob(x, params) + mix_logistic_log_prob(x, params);
  ASSERT_EQ(lp.sizes(), (std::vector<int64_t>{2}));
  lp.sum().backward();
  for (const auto& p : model->parameters()) ASSERT_TRUE(torch::isfinite(p.grad()).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(lp).all().item<bool>());
}

TEST(PixelCNNpp, ParameterCountsMatchTheClosedFormAndTheReference) {
  torch::manual_seed(7);
  for (auto mode : {PixelCNNConditioning::kNone, PixelCNNConditioning::kStacked, PixelCNNConditioning::kStream}) {
    for (int64_t c : {1, 3}) {
      auto cfg = tiny(c, mode);
      cfg.nr_resnet = 2;
      PixelCNNpp model(cfg);
      EXPECT_EQ(count_params(*model), pixelcnnpp_param_count(cfg)) << to_string(mode) << " " << c;
    }
  }
  PixelCNNpp mnist(pixelcnnpp_mnist_preset());
  const int64_t n_mnist = count_params(*mnist);
  EXPECT_EQ(n_mnist, pixelcnnpp_param_count(pixelcnnpp_mnist_preset()));
  const int64_t n_cifar = pixelcnnpp_param_count(pixelcnnpp_cifar10_preset());
  std::printf("PixelCNN++ parameters: MNIST preset (5/40/10, gray) %lld, CIFAR-10 preset (5/160/10, RGB) %lld\n",
              static_cast<long long>(n_mnist), static_cast<long long>(n_cifar));
  // Reference implementations report about 53M for CIFAR-10; 2092 F^2 + O(F) for F = 160.
  EXPECT_NEAR(static_cast<double>(n_cifar) / 53e6, 1.0, 0.03);
}

TEST(PixelCNNpp, ConfigErrorsAndRegistry) {
  auto bad = tiny(2);
  EXPECT_THROW(PixelCNNpp{bad}, ConfigError);
  EXPECT_THROW(parse_pixelcnn_conditioning("sideways"), ConfigError);
  EXPECT_THROW(pixelcnnpp_preset("huge", 1), ConfigError);
  EXPECT_EQ(parse_pixelcnn_conditioning("stream"), PixelCNNConditioning::kStream);
  ModelArgs args;
  args.size_preset = "tiny";
  args.channels = 1;
  args.mixtures = 3;
  args.conditioning = "stacked";
  auto model = build_model<PixelCNNppImpl>("pixelcnnpp", args);
  EXPECT_EQ(model->config().nr_filters, 8);
  EXPECT_EQ(model->config().output_channels(), 9);
  EXPECT_EQ(model->config().conditioning, PixelCNNConditioning::kStacked);
  // Shape errors are reported, not silently cropped.
  torch::NoGradGuard no_grad;
  PixelCNNpp plain(tiny(1));
  EXPECT_THROW(plain->forward(torch::zeros({1, 1, 10, 8})), c10::Error);
  EXPECT_THROW(plain->forward(torch::zeros({1, 1, 8, 8}), torch::zeros({1, 1, 8, 8})), c10::Error);
}

}  // namespace
}  // namespace scorelab
