#include "eval/plot.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
#include "core/runtime.h"

namespace scorelab {
namespace {
namespace fs = std::filesystem;

class PlotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!gnuplot_available()) GTEST_SKIP() << "gnuplot (pngcairo) is not installed; run scripts/setup";
    dir_ = fs::temp_directory_path() / ("scorelab_plot_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  // A non-empty PNG with its script and data folder beside it, and no temporary folder left.
  void expect_plot(const std::string& base) const {
    const fs::path png = dir_ / (base + ".png");
    ASSERT_TRUE(fs::exists(png)) << png;
    EXPECT_GT(fs::file_size(png), 1000u);
    std::ifstream in(png, std::ios::binary);
    char sig[8] = {};
    in.read(sig, 8);
    EXPECT_EQ(std::string(sig, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    EXPECT_TRUE(fs::exists(dir_ / (base + ".gp")));
    EXPECT_TRUE(fs::is_directory(dir_ / (base + "_data")));
    for (const auto& entry : fs::directory_iterator(dir_)) {
      EXPECT_NE(entry.path().filename().string().rfind('.', 0), 0u) << "left behind: " << entry.path();
    }
  }

  fs::path dir_;
};

GaussianMixture toy_2d() { return GaussianMixture({0.2, 0.8}, {{-5.0, -5.0}, {5.0, 5.0}}, {1.0, 1.0}); }

TEST_F(PlotTest, Samples2d) {
  const auto truth = toy_2d();
  auto gen = make_generator(1);
  const at::Tensor exact = truth.sample(3000, gen);
  const at::Tensor off = exact.mul(1.5);
  plot_samples((dir_ / "samples.png").string(), truth, {{"exact", exact}, {"scaled x1.5", off}, {"shift_1", exact + 1}},
               "2-D toy: samples");
  expect_plot("samples");
  // Rendering again replaces everything in place.
  plot_samples((dir_ / "samples.png").string(), truth, {{"exact", exact}}, "again");
  expect_plot("samples");
  EXPECT_FALSE(fs::exists(dir_ / "samples_data" / "samples_1.dat"));
}

TEST_F(PlotTest, Samples1d) {
  const GaussianMixture truth({0.3, 0.7}, {{-2.0}, {2.0}}, {0.5, 0.8});
  auto gen = make_generator(2);
  plot_samples((dir_ / "hist.png").string(), truth,
               {{"exact", truth.sample(2000, gen)}, {"collapsed", torch::zeros({100, 1})}}, "1-D toy");
  expect_plot("hist");
}

TEST_F(PlotTest, ScoreField) {
  const auto truth = toy_2d();
  // A learned score that is exact except for a constant bias: relative error is visible, never zero.
  const ScoreFn learned = [&truth](const at::Tensor& x, double sigma) {
    return truth.smoothed(sigma).score(x) + 0.5 / sigma;
  };
  plot_score_field((dir_ / "field.png").string(), truth, learned, {3.0, 0.5}, "score field");
  expect_plot("field");
  const GaussianMixture one_d({1.0}, {{0.0}}, {1.0});
  EXPECT_THROW(plot_score_field((dir_ / "bad.png").string(), one_d, learned, {1.0}, "x"), ConfigError);
  EXPECT_THROW(plot_score_field((dir_ / "bad.png").string(), truth, learned, {}, "x"), ConfigError);
  EXPECT_THROW(plot_score_field((dir_ / "bad.png").string(), truth, learned, {-1.0}, "x"), ConfigError);
}

TEST_F(PlotTest, Lines) {
  std::vector<std::pair<double, double>> loss, ema;
  for (int i = 1; i <= 200; ++i) {
    loss.emplace_back(i, 1.0 / i + 0.01 * (i % 7));
    ema.emplace_back(i, 1.0 / i);
  }
  ema.emplace_back(201, std::numeric_limits<double>::quiet_NaN());
  plot_lines((dir_ / "loss.png").string(), {{"loss", loss}, {"ema \"smoothed\"", ema}, {"empty", {}}}, "step", "loss",
             "training_loss", /*logy=*/true);
  expect_plot("loss");
  plot_lines((dir_ / "nodata.png").string(), {{"empty", {}}}, "step", "loss", "nothing yet");
  expect_plot("nodata");
}

}  // namespace
}  // namespace scorelab
