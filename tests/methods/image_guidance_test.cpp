// Classifier guidance on images (issue 15): the noise-aware classifier's gradient, guidance at scale 0 against the
// unguided samplers of ncsn and ddpm, guidance raising the classifier's log-probability of the labels, and the
// classifier's training, folder round trip and refusals.
#include "methods/guidance.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "core/error.h"
#include "core/runtime.h"
#include "data/image_data.h"
#include "support/tiny_image.h"

namespace scorelab {
namespace {

namespace fs = std::filesystem;
using test_support::tiny_image_model;

std::shared_ptr<GuideClassifier> random_classifier(const LoadedImageModel& m, uint64_t seed) {
  auto g = std::make_shared<GuideClassifier>();
  seed_module_init(seed);
  NoisyClassifierConfig c;
  c.width = 8;
  c.embed = 16;
  g->net = NoisyClassifier(c);
  g->net->eval();
  std::tie(g->sigma_min, g->sigma_max) = guide_sigma_range(m);
  return g;
}

double mean_log_prob(const GuideClassifier& g, const at::Tensor& x, const at::Tensor& y, double sigma) {
  torch::NoGradGuard no_grad;
  return torch::log_softmax(g.net->forward(x, torch::full({1}, sigma, x.options())), 1)
      .gather(1, y.reshape({-1, 1}))
      .mean()
      .item<double>();
}

TEST(ImageClassifierGuidance, GradientIsTheDerivativeOfTheClassifierLogProbability) {
  const LoadedImageModel m = tiny_image_model("ddpm", 1, 1);
  auto g = random_classifier(m, 2);
  g->net->to(torch::kFloat64);
  auto gen = make_generator(3);
  const at::Tensor x = at::randn({3, 1, 8, 8}, gen, torch::TensorOptions().dtype(torch::kFloat64));
  const at::Tensor v = at::randn({3, 1, 8, 8}, gen, torch::TensorOptions().dtype(torch::kFloat64));
  const at::Tensor y = torch::tensor({1, 4, 7}, torch::kLong);
  for (double sigma : {0.05, 0.7, 20.0}) {
    const at::Tensor grad = guide_classifier_grad(g, y)(x, sigma);
    auto f = [&](const at::Tensor& z) { return 3 * mean_log_prob(*g, z, y, sigma); };
    const double h = 1e-5, fd = (f(x + h * v) - f(x - h * v)) / (2 * h);
    const double analytic = (grad * v).sum().item<double>();
    EXPECT_NEAR(analytic, fd, 1e-6 * std::max(1.0, std::abs(fd))) << "sigma " << sigma;
    EXPECT_GT(grad.abs().max().item<double>(), 0.0);
  }
}

// Scale 0 is the unguided sampler, byte for byte, for both score methods, whether or not a classifier is loaded;
// a positive scale changes the draws and returns the labels they were drawn for.
TEST(ImageClassifierGuidance, ScaleZeroIsTheUnguidedSampler) {
  for (const std::string method : {"ddpm", "ncsn"}) {
    LoadedModels plain;
    plain.main = tiny_image_model(method, 1, 4);
    LoadedModels guided = plain;
    guided.guide = random_classifier(plain.main, 5);
    SamplingConfig sc;
    sc.sampler = method == "ddpm" ? "ddim" : "annealed-langevin";
    sc.sampling.ddim_steps = 3;
    sc.sampling.steps_per_level = 2;
    auto draw = [&](const LoadedModels& models, double scale) {
      SamplingConfig c = sc;
      c.classifier_scale = scale;
      auto gen = make_generator(6);
      return draw_samples(c, models, 4, gen);
    };
    const ImageSamples a = draw(plain, 0.0), b = draw(guided, 0.0), c = draw(guided, 3.0);
    EXPECT_TRUE(torch::equal(a.samples, b.samples)) << method;
    EXPECT_FALSE(a.labels.defined()) << method;
    ASSERT_TRUE(c.labels.defined()) << method;
    EXPECT_EQ(c.labels.size(0), 4) << method;
    EXPECT_FALSE(torch::allclose(a.samples, c.samples)) << method;
  }
}

// Following grad log p(y | x, sigma) raises the classifier's log-probability of the drawn labels on the samples,
// against unguided samples scored for the same labels (an untrained U-Net and classifier: only the direction counts).
TEST(ImageClassifierGuidance, GuidanceRaisesTheClassifierLogProbabilityOfTheLabels) {
  LoadedModels models;
  models.main = tiny_image_model("ddpm", 1, 7);
  auto g = random_classifier(models.main, 8);
  models.guide = g;
  SamplingConfig sc;
  sc.sampler = "ddim";
  sc.sampling.ddim_steps = 5;
  auto draw = [&](double scale) {
    SamplingConfig c = sc;
    c.classifier_scale = scale;
    auto gen = make_generator(9);
    return draw_samples(c, models, 32, gen);
  };
  const ImageSamples guided = draw(20.0), unguided = draw(0.0);
  const double lo = g->sigma_min;
  const double lp_guided = mean_log_prob(*g, guided.samples, guided.labels, lo);
  const double lp_unguided = mean_log_prob(*g, unguided.samples, guided.labels, lo);
  EXPECT_GT(lp_guided, lp_unguided + 0.05) << lp_guided << " vs " << lp_unguided;
}

// Two classes told apart by brightness: the trained classifier separates them at small noise and not at the largest;
// its folder loads back to the same logits, is reused as it is, and refuses another model.
TEST(ImageClassifierGuidance, TrainsLoadsAndRefusesAnotherModel) {
  const LoadedImageModel ddpm = tiny_image_model("ddpm", 1, 10), ncsn = tiny_image_model("ncsn", 1, 11);
  auto gen = make_generator(12);
  auto make = [&](int64_t n) {
    const at::Tensor y = at::randint(2, {n}, gen, torch::TensorOptions().dtype(torch::kLong));
    const at::Tensor level = (y.to(torch::kFloat32) * 150 + 40).reshape({-1, 1, 1, 1});
    const at::Tensor images = (level + 30 * at::rand({n, 1, 8, 8}, gen)).clamp(0, 255).to(torch::kUInt8);
    return ImageDataset{images, y, "mnist"};
  };
  const ImageDataset train = make(256), test = make(200);
  const fs::path dir = fs::temp_directory_path() / ("scorelab-guide-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  GuideClassifierConfig gc;
  gc.iters = 150;
  gc.batch_size = 32;
  gc.eval_images = 200;
  gc.quiet = true;
  auto trained = load_or_train_guide_classifier(dir.string(), ddpm, train, test, gc, 13, c10::Device(c10::kCPU));
  const auto& by_sigma = trained->metrics["test_accuracy_by_sigma"];
  EXPECT_GT(by_sigma.front()["accuracy"].get<double>(), 0.95) << trained->metrics.dump();
  EXPECT_LT(by_sigma.back()["accuracy"].get<double>(), 0.8) << trained->metrics.dump();  // sigma_max: pure noise
  ASSERT_TRUE(fs::exists(dir / "config.json"));

  auto loaded = load_guide_classifier(dir.string(), ddpm, c10::Device(c10::kCPU));
  const at::Tensor x = at::randn({4, 1, 8, 8}, gen), s = torch::full({1}, 0.3);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(trained->net->forward(x, s), loaded->net->forward(x, s)));
  gc.iters = 1;  // a folder that holds one is used as it is
  auto again = load_or_train_guide_classifier(dir.string(), ddpm, train, test, gc, 99, c10::Device(c10::kCPU));
  EXPECT_EQ(again->metrics["iters"].get<int64_t>(), 150);
  EXPECT_THROW(load_guide_classifier(dir.string(), ncsn, c10::Device(c10::kCPU)), ConfigError);
  EXPECT_THROW(load_or_train_guide_classifier(dir.string(), ncsn, train, test, gc, 13, c10::Device(c10::kCPU)), ConfigError);
  EXPECT_THROW(load_guide_classifier((dir / "missing").string(), ddpm, c10::Device(c10::kCPU)), DataError);
  fs::remove_all(dir);
}

TEST(ImageClassifierGuidance, RefusesModelsAndScalesItCannotGuide) {
  EXPECT_THROW(guide_sigma_range(tiny_image_model("ar", 1, 14)), ConfigError);
  LoadedModels models;
  models.main = tiny_image_model("ddpm", 1, 15);
  SamplingConfig sc;
  sc.classifier_scale = 1.0;
  EXPECT_THROW(sc.validate_for(models), ConfigError);  // no classifier loaded
  sc.classifier_scale = -1.0;
  EXPECT_THROW(sc.validate(), ConfigError);
}

}  // namespace
}  // namespace scorelab
