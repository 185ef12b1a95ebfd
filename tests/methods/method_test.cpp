// The method, data-source and image data set registries: names, errors, and the per-entry settings the
// pipelines read; the model wrappers samplers run on.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "data/datasets.h"
#include "methods/method.h"
#include "data/source.h"
#include "methods/toy_method.h"
#include "models/registry.h"
#include "samplers/wrappers.h"

#include <torch/torch.h>

namespace scorelab {
namespace {

TEST(MethodRegistry, OneListServesToyAndImagesAndAClearErrorOtherwise) {
  EXPECT_EQ(method_names(), (std::vector<std::string>{"ar", "smoothed-ar", "ncsn", "ddpm", "smoothed-ar-blur",
                                                     "smoothed-ar-blur-noise", "ardm"}));
  auto toy = toy_method_registry().names();
  auto image = method_names();
  std::sort(toy.begin(), toy.end());
  std::sort(image.begin(), image.end());
  EXPECT_EQ(toy, image);
  // The toy lab's registry is a view of the same methods: same help, and each session is the method's own.
  ToyMethodConfig config;
  for (const auto& m : methods()) {
    EXPECT_EQ(toy_method_registry().help(m->name()), m->help());
    EXPECT_EQ(toy_method_registry().get(m->name())(config)->name(), m->name());
  }
  try {
    get_method("foo");
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("flag --method: got 'foo'; expected one of ar, smoothed-ar, ncsn, ddpm"),
              std::string::npos)
        << e.what();
  }
}

TEST(MethodRegistry, SamplersFollowWhatEachMethodOffers) {
  for (const auto& m : methods()) {
    if (m->default_sampler().empty()) {
      EXPECT_TRUE(m->likelihood()) << m->name() << ": only the pixel-by-pixel models have no sampler";
      continue;
    }
    EXPECT_TRUE(sampler_fits(m->default_sampler(), m->offered())) << m->name();
    for (const char* s : {"pc", "ode", "edm"}) EXPECT_TRUE(sampler_fits(s, m->offered())) << m->name() << " " << s;
    EXPECT_FALSE(sampler_fits("mala", m->offered())) << m->name() << ": a score-only model has no log-density";
  }
  EXPECT_FALSE(sampler_fits("ddim", get_method("ncsn").offered()));
  EXPECT_TRUE(sampler_fits("ddim", get_method("ddpm").offered()));
  EXPECT_EQ(get_method("smoothed-ar").max_stage(), 2);
  EXPECT_TRUE(get_method("ddpm").supports_hybrid());
  EXPECT_FALSE(get_method("ncsn").supports_hybrid());
}

TEST(ImageDatasetRegistry, EntriesHoldEveryPerDatasetDefault) {
  EXPECT_EQ(image_dataset("mnist").channels, 1);
  EXPECT_EQ(image_dataset("fashion-mnist").size, 28);
  EXPECT_EQ(image_dataset("cifar10").channels, 3);
  EXPECT_EQ(image_dataset("cifar10").size, 32);
  EXPECT_DOUBLE_EQ(image_dataset("mnist").smoothing_sigma, 0.5);
  EXPECT_DOUBLE_EQ(image_dataset("cifar10").smoothing_sigma, 0.3);
  EXPECT_EQ(image_dataset("cifar10").ncsn_paper_levels, 232);
  EXPECT_DOUBLE_EQ(image_dataset("cifar10").bisection.bound, bisection_cifar10().bound);
  EXPECT_DOUBLE_EQ(image_dataset("mnist").bisection.bound, bisection_mnist().bound);
  EXPECT_EQ(image_dataset("cifar10").classifier_arch, "resnet");
  EXPECT_TRUE(is_image_dataset("fashion-mnist"));
  EXPECT_FALSE(is_image_dataset("mog"));
  try {
    image_dataset("svhn");
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("flag --dataset: got 'svhn'; expected one of mnist, fashion-mnist, cifar10"),
              std::string::npos)
        << e.what();
  }
}

TEST(MethodRegistry, NetworksFollowTheDataSource) {
  const DataSource mog = data_source("mog"), mnist = data_source("mnist");
  const std::map<std::string, std::pair<std::string, std::string>> expected = {
      {"ar", {"toy-ar", "pixelcnnpp"}},
      {"smoothed-ar", {"toy-ar", "pixelcnnpp"}},
      {"ncsn", {"score-mlp", "ncsnv2"}},
      {"ddpm", {"eps-mlp", "unet"}},
      {"smoothed-ar-blur", {"toy-ar", "pixelcnnpp"}},
      {"smoothed-ar-blur-noise", {"toy-ar", "pixelcnnpp"}},
      {"ardm", {"ardm-mlp", "unet"}}};
  for (const auto& m : methods()) {
    const auto& [toy, image] = expected.at(m->name());
    EXPECT_EQ(m->networks(mog), std::vector<std::string>{toy}) << m->name();
    EXPECT_EQ(m->networks(mnist), std::vector<std::string>{image}) << m->name();
    for (const auto& net : m->networks(mnist)) EXPECT_TRUE(model_registry().contains(net)) << net;
    for (const auto& net : m->networks(mog)) EXPECT_TRUE(model_registry().contains(net)) << net;
  }
}

TEST(DataSource, SaysMixtureOrImagesWithShapeAndRange) {
  const DataSource mog = data_source("mog");
  EXPECT_TRUE(mog.mixture());
  EXPECT_FALSE(mog.from_file);
  EXPECT_EQ(mog.shape, (std::vector<int64_t>{2}));
  // 5x5 grid of spacing 2 (means -4..4), std 0.1: the 3-std box is [-4.3, 4.3].
  EXPECT_NEAR(mog.low, -4.3, 1e-9);
  EXPECT_NEAR(mog.high, 4.3, 1e-9);
  EXPECT_EQ(mog.image, nullptr);
  EXPECT_EQ(data_source("mog-1d").shape, (std::vector<int64_t>{1}));
  EXPECT_EQ(data_source("").name, "mog");  // the toy default
  const DataSource file = data_source("file");
  EXPECT_TRUE(file.mixture());
  EXPECT_TRUE(file.from_file);
  EXPECT_TRUE(file.shape.empty()) << "the shape is known once --mixture is read";
  const DataSource cifar = data_source("cifar10");
  EXPECT_TRUE(cifar.images());
  EXPECT_EQ(cifar.shape, (std::vector<int64_t>{3, 32, 32}));
  ASSERT_NE(cifar.image, nullptr);
  EXPECT_EQ(cifar.image->name, "cifar10");
  EXPECT_EQ(data_source("fashion-mnist").shape, (std::vector<int64_t>{1, 28, 28}));
  EXPECT_TRUE(is_data_source("mnist"));
  EXPECT_TRUE(is_data_source("mog-ring"));
  EXPECT_FALSE(is_data_source("svhn"));
  try {
    data_source("svhn");
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("flag --dataset: got 'svhn'; expected one of "), std::string::npos) << what;
    EXPECT_NE(what.find("mog-1d"), std::string::npos) << what;
    EXPECT_NE(what.find("cifar10"), std::string::npos) << what;
  }
}

// The wrappers offer what they say, and the denoised estimate is Tweedie's: for data N(0, 1) smoothed at
// sigma, E[x0 | x] = x / (1 + sigma^2).
TEST(ModelWrappers, OfferWhatTheyHoldAndDenoiseByTweedie) {
  auto truth = std::make_shared<GaussianMixture>(std::vector<double>{1.0}, std::vector<std::vector<double>>{{0.0}},
                                                 std::vector<double>{1.0});
  auto sigmas = std::make_shared<SigmaSchedule>(2.0, 0.1, 4);
  const ModelWrapper exact = exact_mixture_model(truth, sigmas, "the exact mixture");
  EXPECT_EQ(exact.offered(), (std::vector<std::string>{"score", "sigmas", "process", "log_density"}));
  EXPECT_TRUE(sampler_fits("mala", exact.offered()));
  const SamplerArgs args = exact.args(SamplerConfig{});
  EXPECT_TRUE(args.score && args.log_density && args.sigmas && args.process);
  EXPECT_FALSE(args.eps);
  EXPECT_EQ(args.model, "the exact mixture");
  const at::Tensor x = torch::linspace(-3, 3, 7).unsqueeze(1);
  for (double sigma : {0.1, 0.5, 2.0}) {
    const at::Tensor want = x / (1 + sigma * sigma);
    EXPECT_TRUE(torch::allclose(exact.denoised(x, sigma), want, 1e-5, 1e-5)) << sigma;
  }
  // A VE score net offers no log-density; a VP eps net offers eps and a VE-coordinate score.
  const ModelWrapper ve = ve_score_model(exact.score, sigmas, "net");
  EXPECT_FALSE(sampler_fits("mala", ve.offered()));
  EXPECT_FALSE(ve.args(SamplerConfig{}).log_density);
  auto betas = std::make_shared<BetaSchedule>(BetaSchedule::by_name("linear", 100));
  const ModelWrapper vp = vp_eps_model([](const at::Tensor& x, int64_t) { return torch::zeros_like(x); }, betas, "eps");
  EXPECT_TRUE(sampler_fits("ddim", vp.offered()));
  EXPECT_TRUE(sampler_fits("pc", vp.offered()));
  const SamplerArgs vargs = vp.args(SamplerConfig{});
  EXPECT_TRUE(vargs.eps && vargs.score && vargs.betas && vargs.process);
}

}  // namespace
}  // namespace scorelab
