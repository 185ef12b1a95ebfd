#include <gtest/gtest.h>
#include <torch/torch.h>

#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>

#include "core/cli.h"
#include "core/error.h"
#include "core/io.h"
#include "methods/image_models.h"
#include "methods/image_train.h"
#include "support/fake_mnist.h"
#include "support/tiny_image.h"
#include "support/trainer_fixture.h"

namespace scorelab {
namespace {

namespace fs = std::filesystem;

using test_support::fake_mnist;

ImageTrainConfig tiny(const std::string& method, int stage = 1) {
  ImageTrainConfig c = test_support::tiny_train_config(method, fake_mnist(16, 8), 2, 4);
  c.stage = stage;
  return c;
}

std::string fresh(const std::string& name) { return test_support::fresh_path(name); }

TEST(ImageTrain, EveryMethodWritesItsMetrics) {
  for (auto [method, stage] : {std::pair<std::string, int>{"ar", 1}, {"smoothed-ar", 1}, {"smoothed-ar", 2}, {"ncsn", 1},
                               {"ddpm", 1}}) {
    const auto out = fresh("img-" + method + std::to_string(stage));
    auto m = run_image_train(tiny(method, stage), out, "train --test");
    for (const char* k : {"params", "test_loss_initial", "test_loss_final", "loss_unit", "images_per_s", "params_sha256"})
      EXPECT_TRUE(m.contains(k)) << method << " lacks " << k;
    EXPECT_TRUE(std::isfinite(m["test_loss_final"].get<double>())) << method;
    EXPECT_EQ(m["params_sha256"].get<std::string>().size(), 64u);
    EXPECT_EQ(read_run_metrics(out), m);
    for (const char* f : {"config.json", "train_loss.csv", "test_loss.csv", "checkpoint.ckpt", "model.pt"})
      EXPECT_TRUE(fs::exists(fs::path(out) / f)) << method << " " << f;
  }
}

TEST(ImageTrain, SlicedScoreMatchingAndHybridLossVariantsTrain) {
  auto c = tiny("ncsn");
  c.objective = "ssm";
  auto m = run_image_train(c, fresh("img-ssm"), "x");
  EXPECT_EQ(m["loss_unit"], "ssm");
  EXPECT_TRUE(std::isfinite(m["test_loss_final"].get<double>()));
  c = tiny("ddpm");
  c.hybrid = true;
  m = run_image_train(c, fresh("img-hybrid"), "x");
  EXPECT_TRUE(std::isfinite(m["test_loss_final"].get<double>()));
  c = tiny("ar");
  c.hybrid = true;
  EXPECT_THROW(c.validate(), ConfigError);
}

TEST(ImageTrain, SameSeedSameParameters) {
  auto c = tiny("smoothed-ar");
  auto a = run_image_train(c, fresh("img-seed-a"), "x");
  auto b = run_image_train(c, fresh("img-seed-b"), "x");
  EXPECT_EQ(a["params_sha256"], b["params_sha256"]);
  EXPECT_EQ(a["test_loss_final"], b["test_loss_final"]);
  c.runtime.seed = 9;
  auto other = run_image_train(c, fresh("img-seed-c"), "x");
  EXPECT_NE(a["params_sha256"], other["params_sha256"]);
}

// Stopped after 2 iterations and resumed to 4: the same weights as 4 uninterrupted iterations (data
// order, Adam state and PixelCNN++'s dropout masks all continue).
TEST(ImageTrain, ResumeIsBitIdentical) {
  for (const std::string method : {"ar", "ddpm"}) {
    auto c = tiny(method);
    c.train.iters = 4;
    c.eval_every = 100;
    auto straight = run_image_train(c, fresh("img-straight-" + method), "x");
    const auto out = fresh("img-resume-" + method);
    c.train.iters = 2;
    run_image_train(c, out, "x");
    c.train.iters = 4;
    c.train.resume = true;
    auto resumed = run_image_train(c, out, "x");
    EXPECT_TRUE(resumed["resumed"].get<bool>());
    EXPECT_EQ(straight["params_sha256"], resumed["params_sha256"]) << method;
  }
}

TEST(ImageTrain, LikelihoodLossesAreInBitsPerDim) {
  // An untrained PixelCNN++ on random bytes: a few bits/dim, never more than about 8 + slack.
  auto m = run_image_train(tiny("ar"), fresh("img-bpd"), "x");
  EXPECT_EQ(m["loss_unit"], "bits/dim");
  EXPECT_GT(m["test_loss_initial"].get<double>(), 1.0);
  EXPECT_LT(m["test_loss_initial"].get<double>(), 12.0);
}

TEST(ImageTrain, BadInputNamesTheFlagOrFile) {
  auto c = tiny("ar");
  c.stage = 2;
  EXPECT_THROW(c.validate(), ConfigError);
  c = tiny("ar");
  c.dataset = "svhn";
  EXPECT_THROW(c.validate(), ConfigError);
  c = tiny("ar");
  c.data_dir = fresh("no-data-here");
  try {
    run_image_train(c, fresh("img-missing"), "x");
    FAIL() << "missing data accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("get-data"), std::string::npos) << e.what();
  }
}

TEST(ImageModels, DescribeCountsThePresetParameters) {
  ImageTrainConfig c;
  c.method = "ar";
  c.preset = "paper";
  auto j = describe_image_model(c);
  EXPECT_EQ(j["params"].get<int64_t>(), 3369500);  // MNIST 5/40/10 (see tests/models/pixelcnnpp_test.cpp)
  int64_t sum = 0;
  for (const auto& l : j["layers"]) sum += l["params"].get<int64_t>();
  EXPECT_EQ(sum, j["params"].get<int64_t>());
}

}  // namespace
}  // namespace scorelab

#include "methods/toy_train.h"

namespace scorelab {
namespace {

// train --dataset <toy>: the toy lab's model trained alone, with image-style metrics.
TEST(ToyTrain, ReportsTestLossBeforeAndAfter) {
  namespace po = boost::program_options;
  for (auto [method, stage] : {std::pair<std::string, int>{"smoothed-ar", 2}, {"ncsn", 1}}) {
    ImageTrainConfig c;
    po::options_description desc;
    c.add_options(desc);
    po::variables_map vm;
    const std::string stage_flag = "--stage=" + std::to_string(stage);
    const std::string method_flag = "--method=" + method;
    std::vector<const char*> argv{"train", "--dataset=mog-1d", method_flag.c_str(), stage_flag.c_str(), "--iters=300",
                                  "--batch-size=128", "--quiet", "--threads=1"};
    ASSERT_TRUE(parse_cli(static_cast<int>(argv.size()), argv.data(), desc, vm, "usage"));
    const auto out = fresh("toy-train-" + method);
    auto m = run_toy_train(c, vm, out, "train --test");
    EXPECT_LT(m["test_loss_final"].get<double>(), m["test_loss_initial"].get<double>()) << method;
    EXPECT_EQ(m["iters"].get<int64_t>(), 300);
    EXPECT_EQ(m["params_sha256"].get<std::string>().size(), 64u);
    EXPECT_TRUE(fs::exists(fs::path(out) / "model.pt"));
    EXPECT_EQ(m["loss_unit"], method == "ncsn" ? "dsm" : "nats/dim");
  }
}

}  // namespace
}  // namespace scorelab
