#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "core/runtime.h"
#include "models/ncsnv2.h"
#include "models/registry.h"

namespace scorelab {
namespace {

int64_t count_params(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

NCSNv2Config tiny(int64_t channels, int64_t size) { return ncsnv2_preset("tiny", channels, size); }

TEST(NCSNv2, OutputShapeAndFiniteFor28x28x1And32x32x3) {
  seed_module_init(0);
  auto gen = make_generator(1);
  for (auto [c, s] : {std::pair<int64_t, int64_t>{1, 28}, {3, 32}}) {
    NCSNv2 net(tiny(c, s));
    auto x = torch::rand({2, c, s, s}, gen);
    auto out = net->forward(x, torch::tensor({0.5, 2.0}));
    EXPECT_EQ(out.sizes(), x.sizes()) << c << "x" << s;
    EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
  }
}

// s(x, sigma) = net(x) / sigma: doubling sigma halves the output exactly (up to float rounding).
TEST(NCSNv2, OutputScalesAsOneOverSigma) {
  seed_module_init(2);
  auto gen = make_generator(3);
  NCSNv2 net(tiny(3, 32));
  auto x = torch::rand({3, 3, 32, 32}, gen);
  auto sigma = torch::tensor({0.01, 0.3, 7.0});
  auto a = net->forward(x, sigma);
  auto b = net->forward(x, 2 * sigma);
  EXPECT_TRUE(torch::allclose(b, a / 2, 1e-5, 0)) << (b - a / 2).abs().max().item<double>();
  // One sigma for all examples broadcasts.
  auto c = net->forward(x, torch::tensor({0.3}));
  EXPECT_TRUE(torch::allclose(c[1], a[1], 1e-6, 0));
}

TEST(NCSNv2, GradientsReachEveryParameter) {
  seed_module_init(4);
  auto gen = make_generator(5);
  NCSNv2 net(tiny(1, 12));
  auto x = torch::rand({2, 1, 12, 12}, gen);
  net->forward(x, torch::tensor({0.1, 1.0})).pow(2).sum().backward();
  for (const auto& p : net->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

// InstanceNorm++ against its formula, in double precision.
TEST(NCSNv2, InstanceNormPlusMatchesFormula) {
  seed_module_init(6);
  auto gen = make_generator(7);
  InstanceNormPlus norm(4);
  norm->to(torch::kFloat64);
  {
    torch::NoGradGuard ng;
    for (auto& p : norm->parameters()) p.uniform_(0.5, 1.5, gen);
  }
  auto x = torch::randn({2, 4, 5, 3}, gen, torch::kFloat64) + torch::arange(4, torch::kFloat64).view({1, 4, 1, 1});
  auto p = norm->named_parameters();
  auto alpha = p["alpha"].view({1, 4, 1, 1}), gamma = p["gamma"].view({1, 4, 1, 1});
  auto beta = p["beta"].view({1, 4, 1, 1});
  auto mu = x.mean({2, 3}, true);
  auto var = x.var({2, 3}, false, true);
  auto m = mu.mean(1, true);
  auto v = mu.var(1, true, true);
  auto expected = gamma * ((x - mu) / (var + 1e-5).sqrt() + alpha * (mu - m) / (v + 1e-5).sqrt()) + beta;
  EXPECT_TRUE(torch::allclose(norm->forward(x), expected, 1e-10, 1e-12));
  // Unlike plain instance norm it sees a shift of one channel's mean.
  auto shifted = x.clone();
  shifted.select(1, 2).add_(3.0);
  EXPECT_GT((norm->forward(shifted) - norm->forward(x)).abs().max().item<double>(), 0.1);
}

// Conditional mode (NCSN v1): one (gamma, alpha, beta) row per level; init gamma, alpha ~ 1, beta = 0.
TEST(NCSNv2, ConditionalInstanceNormPlusUsesPerLevelParameters) {
  seed_module_init(8);
  auto gen = make_generator(9);
  InstanceNormPlus norm(3, /*num_classes=*/4);
  ASSERT_TRUE(norm->conditional());
  auto w = norm->named_parameters()["embed.weight"];
  ASSERT_EQ(w.sizes(), (std::vector<int64_t>{4, 9}));
  EXPECT_NEAR(w.narrow(1, 0, 6).mean().item<double>(), 1.0, 0.02);
  EXPECT_EQ(w.narrow(1, 6, 3).abs().max().item<double>(), 0.0);
  {
    torch::NoGradGuard ng;
    w.uniform_(-1, 1, gen);
  }
  auto x = torch::randn({1, 3, 4, 4}, gen).expand({2, 3, 4, 4}).contiguous();
  auto out = norm->forward(x, torch::tensor({1, 3}, torch::kInt64));
  EXPECT_GT((out[0] - out[1]).abs().max().item<double>(), 1e-3);
  // Level 1 alone gives the same result as in the batch.
  auto one = norm->forward(x.narrow(0, 0, 1), torch::tensor({1}, torch::kInt64));
  EXPECT_TRUE(torch::allclose(one[0], out[0], 1e-6, 1e-6));
  EXPECT_THROW(norm->forward(x), c10::Error);  // levels are required
}

TEST(NCSNv2, ConditionalNetworkPicksNearestLevel) {
  seed_module_init(10);
  auto c = tiny(1, 8);
  c.sigmas = {10.0, 1.0, 0.1};
  NCSNv2 net(c);
  auto lv = net->levels(torch::tensor({20.0, 9.0, 1.2, 0.2, 0.01}));
  EXPECT_TRUE(torch::equal(lv, torch::tensor({0, 0, 1, 2, 2}, torch::kInt64)));
  {
    torch::NoGradGuard ng;
    for (auto& p : net->named_parameters())
      if (p.key().find("embed") != std::string::npos) p.value().normal_(1.0, 0.5);
  }
  auto gen = make_generator(11);
  auto x = torch::rand({1, 1, 8, 8}, gen);
  // Different levels: different networks, beyond the 1/sigma scaling.
  auto a = net->forward(x, torch::tensor({1.0})) * 1.0;
  auto b = net->forward(x, torch::tensor({10.0})) * 10.0;
  EXPECT_GT((a - b).abs().max().item<double>(), 1e-3);
}

// The NCSNv2 CIFAR-10 model (ngf 128, 3 channels), constructed only. Closed form from the reference
// layout with n = ngf, C = channels (3x3 convs with bias unless noted; InstanceNorm++ has 3F):
//   begin/end convs 18Cn + n + C; res1 2 x (18n^2 + 8n); res2 (29n^2 + 11n) + (72n^2 + 16n);
//   res3 and res4 each (108n^2 + 18n) + (72n^2 + 16n); refine1 288n^2, refine2 504n^2 + 4n,
//   refine3 360n^2 + 2n, refine4 162n^2 + 2n (bias-free RCU / CRP convs); final norm 3n.
//   Total 1811 n^2 + 123 n + 18 C n + C = 29,694,083 for n = 128, C = 3: the published "29.7M".
TEST(NCSNv2, ReferenceParameterCount) {
  auto expected = [](int64_t n, int64_t c) { return 1811 * n * n + 123 * n + 18 * c * n + c; };
  NCSNv2 paper(ncsnv2_preset("paper", 3, 32));
  EXPECT_EQ(count_params(*paper), expected(128, 3));
  EXPECT_EQ(expected(128, 3), 29694083);
  EXPECT_NEAR(count_params(*paper) / 29.7e6, 1.0, 0.01);
  // The count does not depend on the image size (28x28 uses the same layout).
  NCSNv2 small(ncsnv2_preset("small", 1, 28));
  EXPECT_EQ(count_params(*small), expected(32, 1));
}

TEST(NCSNv2, BadConfigsAreRejected) {
  EXPECT_THROW(ncsnv2_preset("huge", 1, 28), ConfigError);
  EXPECT_THROW(ncsnv2_preset("tiny", 1, 27), ConfigError);
  auto c = tiny(1, 8);
  c.sigmas = {1.0, -1.0};
  EXPECT_THROW(NCSNv2{c}, ConfigError);
}

TEST(NCSNv2, BuiltThroughTheRegistry) {
  seed_module_init(12);
  ModelArgs a;
  a.channels = 3;
  a.image_size = 32;
  a.size_preset = "tiny";
  a.base_channels = 4;
  auto net = build_model<NCSNv2Impl>("ncsnv2", a);
  EXPECT_EQ(net->config().ngf, 4);
  EXPECT_EQ(count_params(*net), 1811 * 16 + 123 * 4 + 18 * 3 * 4 + 3);
}

}  // namespace
}  // namespace scorelab
