#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "core/runtime.h"
#include "data/mixture.h"
#include "toy/toy.h"

namespace scorelab {
namespace {

GaussianMixture two_d() { return GaussianMixture({0.3, 0.7}, {{-1.0, 0.5}, {1.5, -0.5}}, {0.4, 0.8}); }

// Riemann sum of exp(log_prob) over a fine 2-D grid covering the mass.
double integrate_2d(const GaussianMixture& g, double lo, double hi, int n) {
  auto t = torch::linspace(lo, hi, n, torch::kFloat64);
  auto grid = torch::stack(torch::meshgrid({t, t}, "ij"), -1).reshape({-1, 2});
  const double h = (hi - lo) / (n - 1);
  return (g.log_prob(grid).exp().sum() * h * h).item<double>();
}

TEST(GaussianMixture, DensityIntegratesToOne) {
  EXPECT_NEAR(integrate_2d(two_d(), -6, 6, 601), 1.0, 1e-4);
  EXPECT_NEAR(integrate_2d(two_d().smoothed(0.7), -8, 8, 601), 1.0, 1e-4);
  GaussianMixture one_d({0.4, 0.6}, {{-2.0}, {2.0}}, {0.05, 0.3});
  auto x = torch::linspace(-4, 4, 40001, torch::kFloat64).unsqueeze(1);
  EXPECT_NEAR((one_d.log_prob(x).exp().sum() * (8.0 / 40000)).item<double>(), 1.0, 1e-6);
}

TEST(GaussianMixture, ScoreMatchesFiniteDifferences) {
  auto g = two_d();
  auto x = torch::tensor({{0.1, 0.2}, {-1.3, 0.9}, {2.0, -1.0}, {5.0, 5.0}}, torch::kFloat64);
  auto s = g.score(x);
  const double h = 1e-5;
  for (int d = 0; d < 2; ++d) {
    auto e = torch::zeros({1, 2}, torch::kFloat64);
    e[0][d] = h;
    auto fd = (g.log_prob(x + e) - g.log_prob(x - e)) / (2 * h);
    EXPECT_TRUE(torch::allclose(s.select(1, d), fd, 1e-5, 1e-6)) << s << fd;
  }
}

TEST(GaussianMixture, SmoothedDensityIsTheConvolution) {
  // p_sigma(y) = E_z[p(y - sigma z)]: compare the closed form with a numerical convolution at a few points.
  auto g = two_d();
  const double sigma = 0.5;
  auto smoothed = g.smoothed(sigma);
  auto t = torch::linspace(-4, 4, 161, torch::kFloat64);
  const double h = 8.0 / 160;
  auto z = torch::stack(torch::meshgrid({t, t}, "ij"), -1).reshape({-1, 2});
  auto kernel = (-0.5 * z.pow(2).sum(1)).exp() / (2 * M_PI);
  for (auto y : {std::vector<double>{0.0, 0.0}, {1.0, -0.3}, {-1.2, 0.7}}) {
    auto yt = torch::tensor(y, torch::kFloat64).unsqueeze(0);
    const double conv = (g.log_prob(yt - sigma * z).exp() * kernel).sum().item<double>() * h * h;
    EXPECT_NEAR(smoothed.log_prob(yt).exp().item<double>(), conv, 1e-5);
  }
}

TEST(GaussianMixture, SamplesMatchWeightsAndMoments) {
  auto g = two_d();
  auto gen = make_generator(1);
  auto x = g.sample(200000, gen).to(torch::kFloat64);
  auto r = g.responsibilities(x).argmax(1);
  EXPECT_NEAR(r.eq(1).to(torch::kFloat64).mean().item<double>(), 0.7, 0.01);
  const double mean0 = 0.3 * -1.0 + 0.7 * 1.5;
  EXPECT_NEAR(x.select(1, 0).mean().item<double>(), mean0, 0.01);
  auto gen2 = make_generator(1);
  EXPECT_TRUE(torch::equal(g.sample(10, gen2), g.sample(10, gen2)) == false);
  auto a = make_generator(7), b = make_generator(7);
  EXPECT_TRUE(torch::equal(g.sample(10, a), g.sample(10, b)));
}

TEST(GaussianMixture, RejectsBadParameters) {
  EXPECT_THROW(GaussianMixture({1.0}, {{0.0}}, {-1.0}), ConfigError);
  EXPECT_THROW(GaussianMixture({1.0, 1.0}, {{0.0}}, {1.0}), ConfigError);
  EXPECT_THROW(GaussianMixture({1.0, 1.0}, {{0.0}, {1.0, 2.0}}, {1.0, 1.0}), ConfigError);
  EXPECT_THROW(two_d().smoothed(-0.1), ConfigError);
}

TEST(ToyDatasets, RegistryAndFiles) {
  auto mog = make_toy_dataset("mog");
  EXPECT_EQ(mog.components(), 25);
  EXPECT_EQ(make_toy_dataset("mog-1d").dim(), 1);
  auto w = make_toy_dataset("mog-weights").weights();
  EXPECT_DOUBLE_EQ(w[0], 0.2);
  EXPECT_THROW(make_toy_dataset("nope"), ConfigError);
  EXPECT_THROW(make_toy_dataset("file"), ConfigError);

  const std::string dir = ::testing::TempDir();
  auto write = [&](const std::string& name, const std::string& text) {
    std::string p = dir + "/" + name;
    FILE* f = std::fopen(p.c_str(), "w");
    std::fputs(text.c_str(), f);
    std::fclose(f);
    return p;
  };
  auto good = write("good.json", R"({"weights": [1, 3], "means": [[0, 0], [2, 2]], "stds": [0.5, 0.5]})");
  EXPECT_DOUBLE_EQ(make_toy_dataset("file", good).weights()[1], 0.75);
  auto check_error = [&](const std::string& path, const std::string& needle) {
    try {
      make_toy_dataset("file", path);
      ADD_FAILURE() << "expected an error for " << path;
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  check_error(write("trunc.json", R"({"weights": [1, 3], "means": [[0, 0)"), "not valid JSON");
  check_error(write("missing.json", R"({"weights": [1], "means": [[0, 0]]})"), "stds");
  check_error(write("type.json", R"({"weights": "a", "means": [[0, 0]], "stds": [1]})"), "wrong type");
  check_error(write("extra.json", R"({"weights": [1], "means": [[0, 0]], "stds": [1], "w": 2})"), "unknown key");
  check_error(write("neg.json", R"({"weights": [1], "means": [[0, 0]], "stds": [-1]})"), "std 0");
  check_error(dir + "/does-not-exist.json", "does-not-exist.json");
}

}  // namespace
}  // namespace scorelab
