#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "core/runtime.h"
#include "core/schedule.h"

namespace scorelab {
namespace {

constexpr double kPi = 3.14159265358979323846;

TEST(SigmaSchedule, GeometricEndpointsAndConstantRatio) {
  SigmaSchedule s(20.0, 1.0, 10);  // the NCSN toy schedule (REFERENCE 3)
  ASSERT_EQ(s.size(), 10);
  EXPECT_DOUBLE_EQ(s.sigma(0), 20.0);
  EXPECT_DOUBLE_EQ(s.sigma(9), 1.0);
  const double ratio = std::pow(1.0 / 20.0, 1.0 / 9.0);
  for (int64_t i = 1; i < s.size(); ++i) EXPECT_NEAR(s.sigma(i) / s.sigma(i - 1), ratio, 1e-12) << i;
  at::Tensor t = s.as_tensor();
  EXPECT_EQ(t.scalar_type(), at::kDouble);
  EXPECT_EQ(t.size(0), 10);
  EXPECT_DOUBLE_EQ(t[3].item<double>(), s.sigma(3));
}

TEST(SigmaSchedule, RejectsBadLevels) {
  EXPECT_EQ(SigmaSchedule(0.5, 0.5, 1).sigmas(), std::vector<double>{0.5});
  EXPECT_THROW(SigmaSchedule(1.0, 0.0, 5), ConfigError);
  EXPECT_THROW(SigmaSchedule(1.0, 2.0, 5), ConfigError);
  EXPECT_THROW(SigmaSchedule(1.0, 0.1, 0), ConfigError);
  EXPECT_THROW(SigmaSchedule(std::vector<double>{}), ConfigError);
  EXPECT_THROW(SigmaSchedule(std::vector<double>{1.0, 1.0}), ConfigError);
  EXPECT_THROW(SigmaSchedule(std::vector<double>{1.0, -0.5}), ConfigError);
  EXPECT_EQ(SigmaSchedule(std::vector<double>{3.0, 1.0, 0.2}).sigma(2), 0.2);
}

TEST(BetaSchedule, LinearEndpointsAndAlphaBarProducts) {
  auto b = BetaSchedule::linear(1000);  // DDPM: 1e-4 -> 0.02
  ASSERT_EQ(b.steps(), 1000);
  EXPECT_DOUBLE_EQ(b.beta(0), 1e-4);
  EXPECT_NEAR(b.beta(999), 0.02, 1e-15);
  EXPECT_NEAR(b.beta(500) - b.beta(499), (0.02 - 1e-4) / 999.0, 1e-15);
  double prod = 1.0;
  for (int64_t t = 0; t < b.steps(); ++t) {
    prod *= 1.0 - b.beta(t);
    ASSERT_NEAR(b.alpha_bar(t), prod, 1e-14) << t;
  }
  EXPECT_NEAR(b.alpha_bar(999), 4.036e-5, 1e-8);  // DDPM's abar_T: x_T is almost pure noise
}

TEST(BetaSchedule, CosineFollowsAlphaBarFormula) {
  const int64_t T = 1000;
  const double s = 0.008;
  auto b = BetaSchedule::cosine(T, s);
  auto f = [&](double t) { return std::pow(std::cos((t / T + s) / (1 + s) * kPi / 2), 2); };
  // Index t is continuous time (t+1)/T; betas are clipped at 0.999 only in the last steps.
  for (int64_t t : {0, 1, 10, 100, 500, 900, 990}) EXPECT_NEAR(b.alpha_bar(t) / (f(t + 1.0) / f(0.0)), 1.0, 1e-9) << t;
  for (int64_t t = 0; t < T; ++t) ASSERT_LE(b.beta(t), 0.999);
  EXPECT_DOUBLE_EQ(b.beta(T - 1), 0.999);
  EXPECT_THROW(BetaSchedule::by_name("sigmoid", 10), ConfigError);
  EXPECT_DOUBLE_EQ(BetaSchedule::by_name("cosine", 50).beta(7), BetaSchedule::cosine(50).beta(7));
  EXPECT_DOUBLE_EQ(BetaSchedule::by_name("linear", 1000).beta(7), BetaSchedule::linear(1000).beta(7));
  // Other T rescale Ho et al.'s ends by 1000 / T, keeping abar_T near 0.
  EXPECT_DOUBLE_EQ(BetaSchedule::by_name("linear", 50).beta(7), BetaSchedule::linear(50, 2e-3, 0.4).beta(7));
  EXPECT_LT(BetaSchedule::by_name("linear", 50).alpha_bar(49), 1e-3);
  EXPECT_THROW(BetaSchedule::linear(0), ConfigError);
  EXPECT_THROW(BetaSchedule::linear(10, 0.0, 0.02), ConfigError);
}

TEST(BetaSchedule, PosteriorVarianceAndSigmaEquivalent) {
  auto b = BetaSchedule::linear(100, 1e-3, 0.05);
  EXPECT_EQ(b.posterior_variance(0), 0.0);
  for (int64_t t : {1, 2, 50, 99}) {
    const double expected = (1 - b.alpha_bar(t - 1)) / (1 - b.alpha_bar(t)) * b.beta(t);
    EXPECT_NEAR(b.posterior_variance(t), expected, 1e-15);
    EXPECT_LT(b.posterior_variance(t), b.beta(t));
    // x_t / sqrt(abar_t) = x0 + sigma_t e: sigma_t^2 = (1 - abar_t) / abar_t.
    const double sig = b.sigma_equivalent(t);
    EXPECT_NEAR(sig * sig * b.alpha_bar(t), 1 - b.alpha_bar(t), 1e-14);
    EXPECT_GT(sig, b.sigma_equivalent(t - 1));
  }
  EXPECT_NEAR(b.sigma_equivalent(0), std::sqrt(1e-3 / (1 - 1e-3)), 1e-15);
}

// Chains q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t) from fixed x0 and checks the closed-form
// marginal q(x_t | x0) = N(sqrt(abar_t) x0, 1 - abar_t).
TEST(BetaSchedule, ForwardChainMatchesClosedFormMarginal) {
  auto b = BetaSchedule::linear(200, 1e-4, 0.04);
  at::Generator gen = make_generator(7);
  const int64_t n = 20000;
  at::Tensor x0 = torch::tensor({1.5, -0.7}, torch::kFloat64).repeat({n, 1});  // [n, 2]
  at::Tensor x = x0.clone();
  for (int64_t t = 0; t < b.steps(); ++t) {
    x = x * std::sqrt(1 - b.beta(t)) + torch::randn(x.sizes(), gen, torch::kFloat64) * std::sqrt(b.beta(t));
    if (t == 9 || t == 99 || t == 199) {
      at::Tensor mean = x.mean(0), var = x.var(0);
      for (int64_t d = 0; d < 2; ++d) {
        const double m_exp = std::sqrt(b.alpha_bar(t)) * x0[0][d].item<double>();
        const double v_exp = 1 - b.alpha_bar(t);
        // 5 standard errors of the mean and of the variance (relative sd sqrt(2/n)).
        EXPECT_NEAR(mean[d].item<double>(), m_exp, 5 * std::sqrt(v_exp / n)) << "t=" << t << " d=" << d;
        EXPECT_NEAR(var[d].item<double>() / v_exp, 1.0, 5 * std::sqrt(2.0 / n)) << "t=" << t << " d=" << d;
      }
    }
  }
}

}  // namespace
}  // namespace scorelab
