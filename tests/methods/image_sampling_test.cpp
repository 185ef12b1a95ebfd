#include "methods/image_sampling.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "core/error.h"
#include "core/io.h"
#include "core/params_io.h"
#include "core/runtime.h"
#include "support/tiny_image.h"
#include "support/trainer_fixture.h"
#include "models/discretized_logistic.h"
#include "models/pixelcnnpp.h"

namespace scorelab {
namespace {

namespace fs = std::filesystem;

std::string fresh(const std::string& name) { return test_support::fresh_path(name); }

// Tiny untrained models on 8x8 gray images (all four methods, smoothed-ar stages 1 and 2).
LoadedImageModel tiny(const std::string& method, int stage = 1, int64_t channels = 1) {
  return test_support::tiny_image_model(method, stage, 11 + stage, channels);
}

LoadedModels models_of(LoadedImageModel main) { return LoadedModels{std::move(main), std::nullopt}; }

SamplingConfig fast_config() {
  SamplingConfig c;
  c.sampling.steps_per_level = 2;
  c.sampling.ddim_steps = 4;
  return c;
}

// x ~ N(mu, s^2) per pixel, x~ = x + sigma z: the exact score of N(mu, s^2 + sigma^2) makes the single step
// x~ + sigma^2 s(x~) the posterior mean mu + s^2 / (s^2 + sigma^2) (x~ - mu).
TEST(ImageSampling, SingleStepWithExactScoreIsThePosteriorMean) {
  const double mu = 0.3, s = 0.4, sigma = 0.5, v = s * s + sigma * sigma;
  auto gen = make_generator(1);
  at::Tensor noisy = mu + std::sqrt(v) * torch::randn({4, 1, 6, 6}, gen, torch::kFloat64);
  ScoreFn exact = [&](const at::Tensor& x, double) { return -(x - mu) / v; };
  at::Tensor out = denoise_single_step(exact, noisy, sigma, gen);
  at::Tensor posterior_mean = mu + (s * s / v) * (noisy - mu);
  EXPECT_TRUE(torch::allclose(out, posterior_mean, 1e-12, 1e-12));
}

// The authors' detached gradient is, per pixel, d/dx log sum_k pi_k logistic(x; mu_k, s_k) with the network's
// parameters held fixed: sum_k w_k(x) (-tanh(z_k / 2) / s_k), w_k the component posteriors, z_k = (x - mu_k) / s_k.
TEST(ImageSampling, DetachedGradientIsThePerPixelMixtureDerivative) {
  auto m = tiny("smoothed-ar");
  auto& net = pixelcnn_of(m.model);
  auto gen = make_generator(2);
  at::Tensor x = 0.7 * torch::randn({2, 1, 8, 8}, gen, torch::kFloat32);
  at::Tensor detached = pixelcnn_score_fn(m.model, true)(x, 0.5);
  at::Tensor full = pixelcnn_score_fn(m.model, false)(x, 0.5);

  torch::NoGradGuard ng;
  const int64_t mix = net.config().nr_logistic_mix;
  at::Tensor p = net.forward(x);
  at::Tensor logits = p.slice(1, 0, mix), means = p.slice(1, mix, 2 * mix);
  at::Tensor log_s = p.slice(1, 2 * mix, 3 * mix).clamp_min(-7.0);
  at::Tensor z = (x - means) * torch::exp(-log_s);
  at::Tensor log_comp = torch::log_softmax(logits, 1) - z - log_s - 2 * torch::softplus(-z);
  at::Tensor w = torch::softmax(log_comp, 1);
  at::Tensor analytic = (w * (-torch::tanh(z / 2) * torch::exp(-log_s))).sum(1, true);
  EXPECT_TRUE(torch::allclose(detached, analytic, 1e-4, 1e-5))
      << (detached - analytic).abs().max().item<double>();
  // The full gradient adds every later pixel's dependence on x through the network.
  EXPECT_GT((full - detached).abs().max().item<double>(), 1e-3);
}

// --grad full is the true gradient of log p_theta(x~): central finite differences in float64.
TEST(ImageSampling, FullGradientMatchesFiniteDifferences) {
  auto m = tiny("smoothed-ar");
  m.model.module->to(torch::kFloat64);
  auto& net = pixelcnn_of(m.model);
  auto gen = make_generator(3);
  at::Tensor x = 0.7 * torch::randn({1, 1, 8, 8}, gen, torch::kFloat64);
  at::Tensor full = pixelcnn_score_fn(m.model, false)(x, 0.5);
  torch::NoGradGuard ng;
  auto log_p = [&](const at::Tensor& y) { return mix_logistic_log_prob(y, net.forward(y)).sum().item<double>(); };
  const double h = 1e-5;
  for (int64_t idx : {0, 9, 27, 50}) {
    at::Tensor up = x.clone(), down = x.clone();
    up.view({-1})[idx] += h;
    down.view({-1})[idx] -= h;
    const double fd = (log_p(up) - log_p(down)) / (2 * h);
    EXPECT_NEAR(full.view({-1})[idx].item<double>(), fd, 1e-5 * std::max(1.0, std::abs(fd))) << idx;
  }
}

TEST(ImageSampling, SnapshotStepsAreEvenAndEndAtTheLastStep) {
  EXPECT_EQ(SamplingMonitor::snapshot_steps(10, 3), (std::vector<int64_t>{3, 6, 9}));
  EXPECT_EQ(SamplingMonitor::snapshot_steps(784, 4), (std::vector<int64_t>{195, 391, 587, 783}));
  EXPECT_EQ(SamplingMonitor::snapshot_steps(3, 5), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_TRUE(SamplingMonitor::snapshot_steps(10, 0).empty());
}

TEST(ImageSampling, EveryMethodDrawsFiniteImagesAndWritesSnapshots) {
  struct Case {
    std::string method, sampler;
    int64_t stage_snapshots;  // snapshots per run with K = 3
  };
  for (const Case& k : {Case{"ddpm", "ddpm", 3}, Case{"ddpm", "ddim", 3}, Case{"ncsn", "", 3}, Case{"ar", "", 3},
                        Case{"smoothed-ar", "", 4}}) {
    auto config = fast_config();
    config.sampler = k.sampler;
    config.snapshots = 3;
    const auto dir = fresh("sampling-snap-" + k.method + k.sampler);
    SamplingMonitor monitor(dir, 3, false);
    auto gen = make_generator(4);
    auto out = draw_samples(config, models_of(tiny(k.method)), 2, gen, &monitor);
    EXPECT_EQ(out.samples.sizes(), (std::vector<int64_t>{2, 1, 8, 8})) << k.method;
    EXPECT_TRUE(torch::isfinite(out.samples).all().item<bool>()) << k.method;
    // smoothed-ar: 3 snapshots of stage 1 and the single denoising step.
    EXPECT_EQ(static_cast<int64_t>(monitor.snapshot_files().size()), k.stage_snapshots) << k.method << k.sampler;
    for (const auto& f : monitor.snapshot_files()) EXPECT_TRUE(fs::exists(f)) << f;
    EXPECT_EQ(out.noisy.defined(), k.method == "smoothed-ar");
    if (k.method == "ar") {  // clean data: clamped to [-1, 1] by default
      EXPECT_LE(out.samples.abs().max().item<double>(), 1.0);
    }
  }
}

// With learned variances (improved DDPM) the U-Net emits [eps, v]: the samplers read eps only.
TEST(ImageSampling, LearnedVarianceModelsSampleWithTheirEps) {
  ImageTrainConfig c;
  c.method = "ddpm";
  c.preset = "tiny";
  c.timesteps = 10;
  c.hybrid = true;
  seed_module_init(13);
  auto config = fast_config();
  auto gen = make_generator(9);
  auto out = draw_samples(config, models_of(build_loaded_image_model(c, 1, 8)), 2, gen);
  EXPECT_EQ(out.samples.sizes(), (std::vector<int64_t>{2, 1, 8, 8}));
  EXPECT_TRUE(torch::isfinite(out.samples).all().item<bool>());
}

TEST(ImageSampling, SmoothedArSingleStepIsTweedieOnTheStageOneDraws) {
  auto config = fast_config();
  config.grad = "detached";
  auto models = models_of(tiny("smoothed-ar"));
  auto gen = make_generator(5);
  auto out = draw_samples(config, models, 2, gen);
  const double sigma = models.main.config.smoothing_sigma();
  at::Tensor expected = out.noisy + sigma * sigma * pixelcnn_score_fn(models.main.model, true)(out.noisy, sigma);
  EXPECT_TRUE(torch::allclose(out.samples, expected, 1e-5, 1e-6));

  // conditional-ar: the stage-2 model fills x given x~; a fixed seed gives the same images.
  config.denoise = "conditional-ar";
  models.stage2 = tiny("smoothed-ar", 2);
  auto g1 = make_generator(6), g2 = make_generator(6);
  auto a = draw_samples(config, models, 2, g1), b = draw_samples(config, models, 2, g2);
  EXPECT_TRUE(torch::equal(a.samples, b.samples));
  EXPECT_TRUE(torch::isfinite(a.samples).all().item<bool>());
  // Stage 2 is not clamped by default (the authors' clamp=False); --clamp unit keeps it in [-1, 1].
  config.clamp = "unit";
  auto g3 = make_generator(6);
  EXPECT_LE(draw_samples(config, models, 2, g3).samples.abs().max().item<double>(), 1.0);
}

TEST(ImageSampling, BadChoicesNameTheFlag) {
  auto expect_flag = [](const std::function<void()>& fn, const std::string& flag) {
    try {
      fn();
      FAIL() << "accepted; expected an error naming " << flag;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(flag), std::string::npos) << e.what();
    }
  };
  SamplingConfig c;
  c.ar_draw = "gumbel";
  expect_flag([&] { c.validate(); }, "--ar-draw");
  c = SamplingConfig{};
  c.grad = "partial";
  expect_flag([&] { c.validate(); }, "--grad");
  c = SamplingConfig{};
  c.snapshots = -1;
  expect_flag([&] { c.validate(); }, "--snapshots");
  c = SamplingConfig{};
  c.sampler = "ddim";
  expect_flag([&] { c.validate_for(models_of(tiny("ncsn"))); }, "--sampler");
  c.sampling.ddim_steps = 50;  // T = 10
  expect_flag([&] { c.validate_for(models_of(tiny("ddpm"))); }, "--steps");
  c = SamplingConfig{};
  c.denoise = "conditional-ar";
  expect_flag([&] { c.validate_for(models_of(tiny("smoothed-ar"))); }, "--stage2-dir");
}

// A train folder (config.json + model.pt) is rebuilt with identical weights; bad folders are clear errors.
TEST(ImageSampling, LoaderRebuildsTheTrainedModel) {
  ImageTrainConfig c;
  c.method = "ddpm";
  c.preset = "tiny";
  c.timesteps = 10;
  seed_module_init(21);
  ImageModel m = build_image_model(c, 1, 28);
  const auto dir = fresh("sampling-loader");
  fs::create_directories(dir);
  write_json(dir + "/config.json", c.to_json());
  export_state_dict(*m.module, dir + "/model.pt");
  auto loaded = load_image_model(dir);
  EXPECT_EQ(params_sha256(*loaded.model.module), params_sha256(*m.module));
  EXPECT_EQ(loaded.channels, 1);
  EXPECT_EQ(loaded.size, 28);
  EXPECT_EQ(loaded.model.betas->steps(), 10);
  EXPECT_FALSE(loaded.model.module->is_training());

  EXPECT_THROW(load_image_model(fresh("sampling-no-such-dir")), DataError);
  fs::remove(dir + "/model.pt");
  EXPECT_THROW(load_image_model(dir), DataError);  // neither model.pt nor checkpoint.ckpt
  auto toy = c.to_json();
  toy["dataset"] = "mog";
  write_json(dir + "/config.json", toy);
  EXPECT_THROW(load_image_model(dir), ConfigError);
}

}  // namespace
}  // namespace scorelab
