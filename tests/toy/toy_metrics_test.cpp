#include "toy/toy_metrics.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "core/runtime.h"

namespace scorelab {
namespace {

// NCSN's toy (REFERENCE 3): 0.2 N((-5,-5), I) + 0.8 N((5,5), I).
GaussianMixture ncsn_toy() { return GaussianMixture({0.2, 0.8}, {{-5.0, -5.0}, {5.0, 5.0}}, {1.0, 1.0}); }

// Direct O(N M) loops of the unbiased MMD^2 formula, for comparison with the chunked code.
double mmd2_direct(const at::Tensor& x, const at::Tensor& y, const std::vector<double>& bw) {
  auto k = [&bw](const at::Tensor& a, const at::Tensor& b) {
    const double d2 = (a - b).pow(2).sum().item<double>();
    double s = 0.0;
    for (double h : bw) s += std::exp(-d2 / (2 * h * h));
    return s;
  };
  const int64_t n = x.size(0), m = y.size(0);
  double kxx = 0, kyy = 0, kxy = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (i != j) kxx += k(x[i], x[j]);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < m; ++j)
      if (i != j) kyy += k(y[i], y[j]);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) kxy += k(x[i], y[j]);
  return kxx / double(n * (n - 1)) + kyy / double(m * (m - 1)) - 2 * kxy / double(n * m);
}

TEST(ToyMetrics, DefaultBandwidthsAnalytic) {
  // s = 1; mixture mean (3, 3); variance per dim 0.2 (1 + 128/2) + 0.8 (1 + 8/2) = 17.
  const auto bw = default_bandwidths(ncsn_toy());
  ASSERT_EQ(bw.size(), 4u);
  EXPECT_DOUBLE_EQ(bw[0], 0.5);
  EXPECT_DOUBLE_EQ(bw[1], 1.0);
  EXPECT_DOUBLE_EQ(bw[2], 2.0);
  EXPECT_NEAR(bw[3], std::sqrt(17.0), 1e-12);
  // A single Gaussian: the widest bandwidth falls back to 4 s.
  const auto one = default_bandwidths(GaussianMixture({1.0}, {{0.0}}, {0.5}));
  EXPECT_DOUBLE_EQ(one[3], 2.0);
}

TEST(ToyMetrics, ExactSamplesScoreWell) {
  const auto truth = ncsn_toy();
  auto gen = make_generator(1);
  const at::Tensor x = truth.sample(2000, gen);
  const at::Tensor ref = truth.sample(2000, gen);
  const ToyMetrics m = compute_toy_metrics(x, ref, truth);
  EXPECT_LT(std::fabs(m.mmd2), 0.01) << m.mmd2;
  EXPECT_LT(m.mode_tv, 0.03);
  ASSERT_EQ(m.mode_weights.size(), 2u);
  EXPECT_NEAR(m.mode_weights[0] + m.mode_weights[1], 1.0, 1e-12);
  // P(||z|| > 3) for z ~ N(0, I_2) is exp(-9/2) = 0.0111; binomial std at N = 2000 is 0.0023.
  EXPECT_NEAR(m.off_mode, std::exp(-4.5), 0.007);
  // Separated modes: E log p = sum w log w - log(2 pi e).
  const double expected_logp = 0.2 * std::log(0.2) + 0.8 * std::log(0.8) - std::log(2 * M_PI) - 1.0;
  EXPECT_NEAR(m.true_logp, expected_logp, 0.1);
  EXPECT_EQ(m.nonfinite, 0);

  const ToyMetrics shifted = compute_toy_metrics(x + 1.0, ref, truth);
  EXPECT_GT(shifted.mmd2, 0.1);
  EXPECT_GT(shifted.mmd2, 20 * std::fabs(m.mmd2));
  EXPECT_LT(shifted.true_logp, m.true_logp - 0.5);  // E log p drops by ~||shift||^2 / 2 = 1
}

TEST(ToyMetrics, CollapsedOnOneModeGivesAnalyticTv) {
  const auto truth = ncsn_toy();
  auto gen = make_generator(2);
  const at::Tensor x = torch::randn({500, 2}, gen, torch::kFloat32).mul(0.5).add(-5.0);
  const at::Tensor ref = truth.sample(500, gen);
  const ToyMetrics m = compute_toy_metrics(x, ref, truth);
  EXPECT_DOUBLE_EQ(m.mode_weights[0], 1.0);
  EXPECT_DOUBLE_EQ(m.mode_weights[1], 0.0);
  EXPECT_NEAR(m.mode_tv, 0.8, 1e-12);  // 0.5 (|1 - 0.2| + |0 - 0.8|)
  EXPECT_GT(m.mmd2, 0.1);
}

TEST(ToyMetrics, FarAwayPointsAreOffMode) {
  const auto truth = ncsn_toy();
  auto gen = make_generator(3);
  const at::Tensor x = torch::randn({100, 2}, gen, torch::kFloat32).add(40.0);
  const ToyMetrics m = compute_toy_metrics(x, truth.sample(100, gen), truth);
  EXPECT_DOUBLE_EQ(m.off_mode, 1.0);
  // Just inside 3 std of a mean is on-mode.
  const at::Tensor near = torch::tensor({{5.0 + 2.99, 5.0}, {-5.0, -5.0 - 2.99}}, torch::kFloat64);
  EXPECT_DOUBLE_EQ(compute_toy_metrics(near, truth.sample(10, gen), truth).off_mode, 0.0);
}

TEST(ToyMetrics, NonFiniteRowsAreCountedOffModeAndExcluded) {
  const auto truth = ncsn_toy();
  auto gen = make_generator(4);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  at::Tensor x = torch::tensor({{5.0, 5.0}, {5.5, 4.5}, {4.0, 5.0}, {nan, 1.0}, {inf, 0.0}}, torch::kFloat64);
  const at::Tensor ref = truth.sample(50, gen);
  const ToyMetrics m = compute_toy_metrics(x, ref, truth);
  EXPECT_EQ(m.nonfinite, 2);
  EXPECT_DOUBLE_EQ(m.off_mode, 0.4);
  EXPECT_DOUBLE_EQ(m.mode_weights[0], 0.0);
  EXPECT_DOUBLE_EQ(m.mode_weights[1], 0.6);
  EXPECT_NEAR(m.mode_tv, 0.5 * (0.2 + 0.2 + 0.4), 1e-12);  // the non-finite mass is a category of weight 0
  EXPECT_TRUE(std::isfinite(m.true_logp));
  const auto bw = default_bandwidths(truth);
  EXPECT_NEAR(m.mmd2, mmd2_unbiased(x.narrow(0, 0, 3), ref, bw), 1e-12);
  // All non-finite: NaN mmd and log p, everything off-mode.
  const ToyMetrics all_bad = compute_toy_metrics(torch::full({3, 2}, nan, torch::kFloat64), ref, truth);
  EXPECT_TRUE(std::isnan(all_bad.mmd2));
  EXPECT_TRUE(std::isnan(all_bad.true_logp));
  EXPECT_DOUBLE_EQ(all_bad.off_mode, 1.0);
  EXPECT_DOUBLE_EQ(all_bad.mode_tv, 1.0);
}

TEST(ToyMetrics, TinyMmdMatchesHandComputation) {
  // x = {(0,0), (1,0)}, y = {(0,0), (0,2)}: squared distances xx 1; yy 4; xy 0, 4, 1, 5.
  const at::Tensor x = torch::tensor({{0.0, 0.0}, {1.0, 0.0}}, torch::kFloat64);
  const at::Tensor y = torch::tensor({{0.0, 0.0}, {0.0, 2.0}}, torch::kFloat64);
  const std::vector<double> bw = {1.0, 2.0};
  auto k = [](double d2) { return std::exp(-d2 / 2.0) + std::exp(-d2 / 8.0); };
  const double expected = k(1) + k(4) - 2.0 * (k(0) + k(4) + k(1) + k(5)) / 4.0;
  EXPECT_NEAR(mmd2_unbiased(x, y, bw), expected, 1e-14);
  const auto truth = ncsn_toy();
  EXPECT_NEAR(compute_toy_metrics(x, y, truth, bw).mmd2, expected, 1e-14);
}

TEST(ToyMetrics, ChunkedEqualsDirect) {
  auto gen = make_generator(5);
  const at::Tensor x = torch::randn({37, 3}, gen, torch::kFloat64);
  const at::Tensor y = torch::randn({23, 3}, gen, torch::kFloat64).mul(1.5).add(0.3);
  const std::vector<double> bw = {0.3, 1.0, 3.0};
  const double direct = mmd2_direct(x, y, bw);
  EXPECT_NEAR(mmd2_unbiased(x, y, bw, 1), direct, 1e-12);
  EXPECT_NEAR(mmd2_unbiased(x, y, bw, 5), direct, 1e-12);
  EXPECT_NEAR(mmd2_unbiased(x, y, bw, 1000), direct, 1e-12);
  EXPECT_NEAR(mmd2_unbiased(x, y, bw), direct, 1e-12);
  EXPECT_GT(direct, 0.01);  // the sets differ, so the comparison is not of two zeros
}

TEST(ToyMetrics, RejectsBadShapes) {
  const auto truth = ncsn_toy();
  auto gen = make_generator(6);
  EXPECT_THROW(compute_toy_metrics(torch::zeros({4, 3}), truth.sample(4, gen), truth), c10::Error);
  EXPECT_THROW(compute_toy_metrics(truth.sample(4, gen), truth.sample(1, gen), truth), c10::Error);
  EXPECT_THROW(compute_toy_metrics(truth.sample(4, gen), truth.sample(4, gen), truth, {1.0, -1.0}), c10::Error);
}

}  // namespace
}  // namespace scorelab
