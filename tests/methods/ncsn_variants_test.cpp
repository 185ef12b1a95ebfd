// Issue 14, experiments 10 and 11 on images: the class-conditional NCSN (--condition class) and the U-Net with an
// NCSN head (--score-net unet).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/io.h"
#include "core/runtime.h"
#include "methods/image_compare.h"
#include "methods/image_models.h"
#include "methods/image_sampling.h"
#include "methods/image_train.h"
#include "models/ncsnv2.h"
#include "models/unet.h"
#include "support/fake_mnist.h"
#include "support/tiny_image.h"
#include "support/trainer_fixture.h"

namespace scorelab {
namespace {

namespace fs = std::filesystem;

// Every parameter redrawn N(0, 0.1^2): the reference initialisation zeroes the U-Net's output layer, which would
// make the checks below trivially true.
void scramble(torch::nn::Module& m, uint64_t seed) {
  torch::NoGradGuard ng;
  auto gen = make_generator(seed);
  for (auto& p : m.parameters()) p.copy_(torch::randn(p.sizes(), gen) * 0.1);
}

ImageTrainConfig ncsn_config(const std::string& score_net, const std::string& condition) {
  ImageTrainConfig c = test_support::tiny_train_config("ncsn", test_support::fake_mnist(16, 8, "ncsn-variants"), 2, 4);
  c.score_net = score_net;
  c.condition = condition;
  return c;
}

TEST(NcsnVariants, ConditionalNetworksDependOnTheLabelAndRefuseMissingOnes) {
  auto gen = make_generator(1);
  const at::Tensor x = torch::rand({1, 1, 12, 12}, gen).expand({3, 1, 12, 12}).contiguous();
  const at::Tensor sigma = torch::full({1}, 0.3);
  const at::Tensor y = torch::tensor({0, 1, 2}, torch::kLong);

  seed_module_init(2);
  NCSNv2Config nc = ncsnv2_preset("tiny", 1, 12);
  nc.classes = 3;
  NCSNv2 ncsn(nc);
  scramble(*ncsn, 3);
  UNetConfig uc = unet_preset("tiny", 1, 12);
  uc.classes = 3;
  UNet unet(uc);
  scramble(*unet, 4);
  for (const at::Tensor& out : {ncsn->forward(x, sigma, y), unet->forward(x, torch::full({1}, 5.0), y)}) {
    ASSERT_TRUE(torch::isfinite(out).all().item<bool>());
    const double scale = out.abs().max().item<double>();
    EXPECT_GT((out[0] - out[1]).abs().max().item<double>(), 1e-3 * scale);
    EXPECT_GT((out[1] - out[2]).abs().max().item<double>(), 1e-3 * scale);
  }
  // Same label: the same rows as a batch of one (labels act per row).
  EXPECT_TRUE(torch::allclose(ncsn->forward(x.slice(0, 1, 2), sigma, y.slice(0, 1, 2)), ncsn->forward(x, sigma, y).slice(0, 1, 2),
                              1e-5, 1e-6));
  EXPECT_THROW(ncsn->forward(x, sigma), c10::Error);
  EXPECT_THROW(unet->forward(x, torch::full({1}, 5.0)), c10::Error);
  EXPECT_THROW(ncsn->forward(x, sigma, torch::tensor({0, 1, 3}, torch::kLong)), c10::Error);  // label out of range
  NCSNv2 plain(ncsnv2_preset("tiny", 1, 12));
  EXPECT_THROW(plain->forward(x, sigma, y), c10::Error);
}

// NCSN v1's level conditioning and the class conditioning together: one InstanceNorm++ row per (level, class).
TEST(NcsnVariants, LevelAndClassConditioningIndexOneRowPerPair) {
  seed_module_init(5);
  NCSNv2Config nc = ncsnv2_preset("tiny", 1, 12);
  nc.sigmas = {1.0, 0.1};
  nc.classes = 2;
  NCSNv2 net(nc);
  scramble(*net, 6);
  auto gen = make_generator(7);
  const at::Tensor x = torch::rand({1, 1, 12, 12}, gen).expand({4, 1, 12, 12}).contiguous();
  const at::Tensor out = net->forward(x, torch::tensor({1.0, 1.0, 0.1, 0.1}), torch::tensor({0, 1, 0, 1}, torch::kLong));
  // Undo the 1 / sigma scaling: four distinct rows means four distinct embedding rows.
  const at::Tensor raw = out * torch::tensor({1.0, 1.0, 0.1, 0.1}).reshape({4, 1, 1, 1});
  for (int i = 0; i < 4; ++i)
    for (int j = i + 1; j < 4; ++j) EXPECT_GT((raw[i] - raw[j]).abs().max().item<double>(), 1e-4) << i << " vs " << j;
}

// Registering the label embedding last keeps every other initial weight of the U-Net as the unconditional one's.
TEST(NcsnVariants, ConditionalUNetInitialisesTheSharedWeightsAsTheUnconditionalOne) {
  UNetConfig uc = unet_preset("tiny", 1, 12);
  seed_module_init(8);
  UNet plain(uc);
  uc.classes = 10;
  seed_module_init(8);
  UNet cond(uc);
  const auto a = plain->named_parameters(), b = cond->named_parameters();
  EXPECT_EQ(b.size(), a.size() + 1);
  for (const auto& item : a) EXPECT_TRUE(torch::equal(item.value(), b[item.key()])) << item.key();
}

// s(x, sigma) = UNet(2x - 1, t) / sigma with t = 1000 log(sigma / sigma_min) / log(sigma_max / sigma_min).
TEST(NcsnVariants, UNetHeadIsTheUNetOfLogSigmaOverSigma) {
  ImageTrainConfig c = ncsn_config("unet", "none");
  c.sigma_max = 2.0;
  c.sigma_min = 0.02;
  seed_module_init(9);
  ImageModel m = build_image_model(c, 1, 28);
  EXPECT_EQ(m.name, "unet-ncsn");
  auto net = std::dynamic_pointer_cast<UNetImpl>(m.module);
  ASSERT_TRUE(net);
  scramble(*net, 10);
  net->eval();
  auto gen = make_generator(11);
  const at::Tensor x = torch::rand({3, 1, 28, 28}, gen);
  const at::Tensor sigma = torch::tensor({0.02, 0.2, 2.0});
  const at::Tensor t = torch::tensor({0.0, 500.0, 1000.0});
  const at::Tensor expected = net->forward(2 * x - 1, t) / sigma.reshape({3, 1, 1, 1});
  const at::Tensor got = m.score(x, sigma);
  EXPECT_TRUE(torch::allclose(got, expected, 1e-4, 1e-5)) << (got - expected).abs().max().item<double>();
  EXPECT_GT(expected.abs().max().item<double>(), 1e-3);
  // The trained levels are the schedule's, as for NCSNv2.
  EXPECT_NEAR(m.sigmas->sigmas().front(), 2.0, 1e-12);
  EXPECT_NEAR(m.sigmas->sigmas().back(), 0.02, 1e-12);
}

// The objective of a class-conditional model sees the labels bound to it, and refuses to run without them.
TEST(NcsnVariants, ConditionalObjectiveUsesTheBoundLabels) {
  for (const std::string net : {"ncsnv2", "unet"}) {
    seed_module_init(12);
    ImageModel m = build_image_model(ncsn_config(net, "class"), 1, 28);
    scramble(*m.module, 13);
    ASSERT_TRUE(m.labels);
    auto data = make_generator(14);
    const at::Tensor x = torch::rand({4, 1, 28, 28}, data) * 2 - 1;
    auto loss = [&](const at::Tensor& y) {
      *m.labels = y;
      auto g = make_generator(15);
      return m.objective->loss(x, g).loss.item<double>();
    };
    const double a = loss(torch::tensor({0, 1, 2, 3}, torch::kLong));
    EXPECT_EQ(a, loss(torch::tensor({0, 1, 2, 3}, torch::kLong))) << net;
    EXPECT_NE(a, loss(torch::tensor({4, 5, 6, 7}, torch::kLong))) << net;
    *m.labels = at::Tensor();
    auto g = make_generator(15);
    EXPECT_THROW(m.objective->loss(x, g), ConfigError) << net;
  }
}

// End to end: train, reload, sample with labels (uniform over the ten classes, one per row).
TEST(NcsnVariants, TrainReloadAndSampleWithLabels) {
  for (const auto& [net, condition] : {std::pair<std::string, std::string>{"unet", "none"}, {"unet", "class"}, {"ncsnv2", "class"}}) {
    const std::string out = test_support::fresh_path("ncsn-" + net + "-" + condition);
    ImageTrainConfig c = ncsn_config(net, condition);
    const nlohmann::json metrics = run_image_train(c, out, "train --test");
    EXPECT_TRUE(std::isfinite(metrics["test_loss_final"].get<double>())) << net << condition;
    const nlohmann::json config = read_json((fs::path(out) / "config.json").string());
    EXPECT_EQ(config.contains("score_net"), net != "ncsnv2");
    EXPECT_EQ(config.contains("condition"), condition != "none");
    LoadedModels models;
    models.main = load_image_model(out, c10::Device(c10::kCPU));
    EXPECT_EQ(models.main.config.score_net, net);
    EXPECT_EQ(models.main.config.condition, condition);
    SamplingConfig sc;
    sc.sampling.steps_per_level = 1;
    auto gen = make_generator(16);
    const ImageSamples s = draw_samples(sc, models, 5, gen);
    EXPECT_TRUE(torch::isfinite(s.samples).all().item<bool>());
    EXPECT_EQ(s.labels.defined(), condition == "class");
    if (s.labels.defined()) {
      EXPECT_EQ(s.labels.size(0), 5);
      EXPECT_GE(s.labels.min().item<int64_t>(), 0);
      EXPECT_LE(s.labels.max().item<int64_t>(), 9);
      EXPECT_FALSE(models.main.model.labels->defined());  // unbound after the draw
    }
  }
}

TEST(NcsnVariants, DefaultConfigsKeepTheirJson) {
  const nlohmann::json j = ImageTrainConfig().to_json();
  EXPECT_FALSE(j.contains("score_net"));
  EXPECT_FALSE(j.contains("condition"));
  EXPECT_FALSE(ImageCompareConfig().to_json().contains("score_net"));
  EXPECT_FALSE(ImageCompareConfig().to_json().contains("condition"));
}

TEST(NcsnVariants, BadChoicesNameTheFlag) {
  auto message = [](const auto& config) {
    try {
      config.validate();
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  ImageTrainConfig c = ncsn_config("resnet", "none");
  EXPECT_NE(message(c).find("--score-net: got 'resnet'"), std::string::npos) << message(c);
  c = ncsn_config("ncsnv2", "digit");
  EXPECT_NE(message(c).find("--condition: got 'digit'"), std::string::npos) << message(c);
  c = ncsn_config("unet", "none");
  c.method = "ddpm";
  EXPECT_NE(message(c).find("--score-net: got 'unet'"), std::string::npos) << message(c);
  c = ncsn_config("ncsnv2", "class");
  c.objective = "ssm";
  EXPECT_NE(message(c).find("--condition: got 'class'"), std::string::npos) << message(c);
  ImageCompareConfig ic;
  ic.methods = "ar";
  ic.condition = "class";
  EXPECT_NE(message(ic).find("--condition: got 'class'; expected none unless --method includes ncsn or ddpm"), std::string::npos)
      << message(ic);
}

}  // namespace
}  // namespace scorelab
