#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "core/runtime.h"
#include "models/pixelcnnpp.h"
#include "samplers/pixelcnn_sampling.h"

namespace scorelab {
namespace {

// Cached and naive draws read head parameters that agree to ~1e-7 (float reassociation: matrix products on
// gathered windows instead of whole-image convolutions, see pixelcnnpp_cache.h). The same generator stream
// then gives samples within kTol, relative to max(1, |x|): an inverse-CDF (bisection) draw deep in a tail,
// where a float32 CDF near 1 resolves only ~6e-8, moves by up to ~1e-5 for such tiny parameter changes (the
// reference sampler itself does too under any change of summation order, e.g. the thread count).
constexpr double kTol = 1e-5;

PixelCNNpp tiny_model(int64_t channels, PixelCNNConditioning mode, uint64_t seed) {
  seed_module_init(seed);
  PixelCNNppConfig c;
  c.nr_resnet = 1;
  c.nr_filters = 8;
  c.nr_logistic_mix = 3;
  c.input_channels = channels;
  c.conditioning = mode;
  PixelCNNpp model(c);
  model->eval();
  return model;
}

PixelCNNSampleOptions opts(const std::string& draw, bool continuous, bool cached) {
  PixelCNNSampleOptions o;
  o.draw = draw;
  o.continuous = continuous;
  o.cached = cached;
  return o;
}

double max_diff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }
double scaled_diff(const at::Tensor& a, const at::Tensor& b) {
  return ((a - b).abs() / b.abs().clamp_min(1.0)).max().item<double>();
}

TEST(PixelCNNSampling, CachedEqualsNaiveForEveryConditioningDrawAndLikelihood) {
  int64_t exact = 0, total = 0;
  for (auto mode : {PixelCNNConditioning::kNone, PixelCNNConditioning::kStacked, PixelCNNConditioning::kStream}) {
    for (int64_t channels : {1, 3}) {
      const int64_t h = 4, w = channels == 1 ? 8 : 4;
      auto model = tiny_model(channels, mode, 21);
      at::Tensor cond;
      if (mode != PixelCNNConditioning::kNone) {
        auto g = make_generator(5);
        cond = torch::randn({2, channels, h, w}, g, torch::kFloat32) * 0.5;
      }
      for (const std::string draw : {"bisection", "logistic"}) {
        for (bool continuous : {false, true}) {
          // Every draw x likelihood pair on the unconditional gray model; the two usual ones on the others.
          const bool usual = (draw == "bisection") == continuous;
          if (!usual && !(mode == PixelCNNConditioning::kNone && channels == 1)) continue;
          auto g1 = make_generator(99), g2 = make_generator(99);
          auto naive = sample_pixelcnnpp(*model, 2, channels, h, w, g1, opts(draw, continuous, false), cond);
          auto cached = sample_pixelcnnpp(*model, 2, channels, h, w, g2, opts(draw, continuous, true), cond);
          const std::string what = to_string(mode) + " C" + std::to_string(channels) + " " + draw +
                                   (continuous ? " continuous" : " discretized");
          ASSERT_EQ(cached.sizes(), (std::vector<int64_t>{2, channels, h, w})) << what;
          EXPECT_LE(scaled_diff(naive, cached), kTol) << what;
          exact += (naive == cached).sum().item<int64_t>();
          total += naive.numel();
          EXPECT_TRUE(torch::isfinite(cached).all().item<bool>()) << what;
          // Clamped: clean-data draws of p(x); p(x | x~) is not clamped by default (the authors' clamp=False).
          if (!continuous && mode == PixelCNNConditioning::kNone) EXPECT_LE(cached.abs().max().item<double>(), 1.0) << what;
          // Both consumed the generator identically: the next draws agree.
          EXPECT_TRUE(torch::equal(torch::rand({4}, g1), torch::rand({4}, g2))) << what;
          EXPECT_GT(cached.std().item<double>(), 1e-3) << what;  // not a constant image
        }
      }
    }
  }
  // Most values agree bit for bit (the clamped ones always do).
  EXPECT_GT(static_cast<double>(exact), 0.5 * static_cast<double>(total)) << exact << " of " << total;
}

TEST(PixelCNNSampling, SameSeedSameSamplesDifferentSeedDifferent) {
  auto model = tiny_model(1, PixelCNNConditioning::kNone, 22);
  auto o = opts("logistic", false, true);
  auto g1 = make_generator(1), g2 = make_generator(1), g3 = make_generator(2);
  auto a = sample_pixelcnnpp(*model, 2, 1, 8, 8, g1, o);
  auto b = sample_pixelcnnpp(*model, 2, 1, 8, 8, g2, o);
  auto c = sample_pixelcnnpp(*model, 2, 1, 8, 8, g3, o);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
}

TEST(PixelCNNSampling, KnownPixelsAreKeptExactlyAndConditionLaterOnes) {
  for (bool cached : {true, false}) {
    auto model = tiny_model(3, PixelCNNConditioning::kNone, 23);
    auto g0 = make_generator(3);
    auto known = torch::rand({2, 3, 4, 4}, g0, torch::kFloat32) * 2 - 1;
    auto mask = torch::zeros({2, 3, 4, 4});
    mask.slice(2, 0, 2) = 1.0;               // the top half is known (outpainting)
    mask[1][1][3][2] = 1.0;                  // and one channel of one late pixel
    auto g1 = make_generator(4), g2 = make_generator(4);
    auto o = opts("bisection", true, cached);
    auto with = sample_pixelcnnpp(*model, 2, 3, 4, 4, g1, o, {}, known, mask);
    auto free = sample_pixelcnnpp(*model, 2, 3, 4, 4, g2, o);
    auto keep = mask != 0;
    EXPECT_TRUE(torch::equal(with.masked_select(keep), known.masked_select(keep))) << cached;
    // Same generator stream as the free run, yet the drawn bottom half differs: it conditions on the known top.
    EXPECT_GT(max_diff(with.slice(2, 2, 4), free.slice(2, 2, 4)), 1e-3) << cached;
  }
  auto model = tiny_model(3, PixelCNNConditioning::kNone, 23);
  auto g = make_generator(3);
  auto o = opts("bisection", true, true);
  EXPECT_THROW(sample_pixelcnnpp(*model, 2, 3, 4, 4, g, o, {}, torch::zeros({2, 3, 4, 4})), c10::Error);
}

TEST(PixelCNNSampling, SamplerContractMatchesTheFunctionAndRunsInOrder) {
  auto model = tiny_model(1, PixelCNNConditioning::kStacked, 24);
  auto gc = make_generator(6);
  auto cond = torch::randn({3, 1, 4, 8}, gc, torch::kFloat32);
  for (bool cached : {true, false}) {
    auto o = opts("logistic", true, cached);
    PixelCNNSampler sampler(*model, 1, 4, 8, o, cond);
    EXPECT_EQ(sampler.num_steps(), 32);
    auto g1 = make_generator(7), g2 = make_generator(7);
    int64_t calls = 0;
    auto via_contract = run_sampler(sampler, 3, {1, 4, 8}, g1, [&](int64_t i, int64_t steps, const at::Tensor&) {
      EXPECT_EQ(i, calls);
      EXPECT_EQ(steps, 32);
      ++calls;
    });
    EXPECT_EQ(calls, 32);
    auto direct = sample_pixelcnnpp(*model, 3, 1, 4, 8, g2, o, cond);
    EXPECT_LE(max_diff(via_contract, direct), cached ? 0.0 : kTol) << cached;
    // A second run starts afresh at step 0; skipping a step is refused.
    auto g3 = make_generator(7);
    auto x = sampler.init(3, {1, 4, 8}, g3);
    x = sampler.step(x, 0, g3).x;
    EXPECT_THROW(sampler.step(x, 2, g3), c10::Error);
  }
  auto model_shared = std::make_shared<PixelCNNppImpl>(model->config());
  model_shared->eval();
  PixelCNNSampler owning(model_shared, 1, 4, 8, opts("logistic", false, true), cond);
  auto g4 = make_generator(8);
  EXPECT_THROW(owning.init(3, {1, 8, 8}, g4), c10::Error);
}

TEST(PixelCNNSampling, ValidateNamesTheFlag) {
  auto expect_flag = [](PixelCNNSampleOptions o, const std::string& flag, const std::string& value) {
    try {
      validate(o);
      ADD_FAILURE() << "no error for " << flag;
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(flag), std::string::npos) << what;
      EXPECT_NE(what.find(value), std::string::npos) << what;
    }
  };
  PixelCNNSampleOptions ok;
  EXPECT_NO_THROW(validate(ok));
  auto o = ok;
  o.draw = "gumbel";
  expect_flag(o, "--ar-draw", "gumbel");
  o = ok;
  o.clamp = "both";
  expect_flag(o, "--clamp", "both");
  o = ok;
  o.bisection.iters = 0;
  expect_flag(o, "--bisection-iters", "0");
  o = ok;
  o.bisection.u_min = 0.7;
  expect_flag(o, "--bisection-u-min", "0.7");
  auto model = tiny_model(1, PixelCNNConditioning::kNone, 25);
  auto g = make_generator(0);
  o = ok;
  o.clamp = "x";
  EXPECT_THROW(sample_pixelcnnpp(*model, 1, 1, 4, 4, g, o), ConfigError);
  EXPECT_THROW(PixelCNNSampler(*model, 1, 4, 4, o), ConfigError);
}

TEST(PixelCNNSampling, ClampResolvesByLikelihood) {
  PixelCNNSampleOptions o;
  EXPECT_TRUE(clamps_to_unit(o));  // discretized: clean data in [-1, 1]
  o.continuous = true;
  EXPECT_FALSE(clamps_to_unit(o));  // smoothed data: no clamp
  o.clamp = "unit";
  EXPECT_TRUE(clamps_to_unit(o));
  o.continuous = false;
  o.clamp = "none";
  EXPECT_FALSE(clamps_to_unit(o));
  // An unclamped draw from a wide mixture leaves [-1, 1]; the clamped one does not.
  auto params = torch::zeros({64, 3});  // M = 1: logit 0, mean 0, log-scale 0 (s = 1)
  auto g1 = make_generator(9), g2 = make_generator(9);
  o.draw = "logistic";
  auto free = draw_pixel(params, 1, g1, o);
  o.clamp = "unit";
  auto unit = draw_pixel(params, 1, g2, o);
  EXPECT_GT(free.abs().max().item<double>(), 1.0);
  EXPECT_LE(unit.abs().max().item<double>(), 1.0);
  EXPECT_TRUE(torch::equal(unit, free.clamp(-1.0, 1.0)));
}

}  // namespace
}  // namespace scorelab
