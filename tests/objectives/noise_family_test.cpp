// Perturbation noise families of DSM (issue 14, experiment 8): the draws, the densities, and the DSM target,
// whose conditional mean given x~ must be the score of the perturbed data.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "core/noise_family.h"
#include "core/runtime.h"
#include "data/mixture.h"
#include "objectives/objective.h"

namespace scorelab {
namespace {

std::vector<NoiseFamily> families() {
  return {NoiseFamily::by_name("gaussian"), NoiseFamily::by_name("laplace"), NoiseFamily::by_name("student-t", 5.0)};
}

TEST(NoiseFamily, DrawsHaveUnitVarianceAndTheFamilysShape) {
  for (const auto& f : families()) {
    auto gen = make_generator(11);
    auto u = f.draw({400000}, torch::zeros({1}, torch::kFloat64), gen);
    EXPECT_NEAR(u.mean().item<double>(), 0.0, 0.01) << f.name();
    EXPECT_NEAR(u.var().item<double>(), 1.0, 0.03) << f.name();
    // E|u|: sqrt(2/pi) Gaussian, b = 1/sqrt(2) Laplace; for the t, the density's own value by quadrature.
    auto grid = torch::linspace(-60, 60, 1200001, torch::kFloat64);
    const double h = 120.0 / 1200000;
    const double want = (grid.abs() * f.log_density(grid).exp()).sum().item<double>() * h;
    EXPECT_NEAR(u.abs().mean().item<double>(), want, 0.01) << f.name();
  }
}

TEST(NoiseFamily, DensityIntegratesToOneAndResidualIsMinusItsLogDerivative) {
  auto grid = torch::linspace(-60, 60, 1200001, torch::kFloat64);
  const double h = 120.0 / 1200000;
  for (const auto& f : families()) {
    EXPECT_NEAR((f.log_density(grid).exp()).sum().item<double>() * h, 1.0, 1e-6) << f.name();
    auto u = torch::tensor({-2.3, -0.7, 0.4, 1.9}, torch::kFloat64);
    const double e = 1e-6;
    auto fd = -(f.log_density(u + e) - f.log_density(u - e)) / (2 * e);
    EXPECT_TRUE(torch::allclose(f.residual(u), fd, 1e-6, 1e-6)) << f.name();
  }
}

// Vincent's identity for each family: E[-g(u) / sigma | x~] = grad log p_sigma(x~), p_sigma = p * q_sigma, on the
// 1-D mixture of mog-1d, both sides by quadrature (the right side by a central difference), and for Gaussian
// noise also against the exact smoothed mixture.
TEST(NoiseFamily, DsmTargetHasTheScoreOfThePerturbedDataAsItsConditionalMean) {
  const GaussianMixture p({0.4, 0.4, 0.2}, {{-2.0}, {2.0}, {0.0}}, {0.05, 0.05, 0.5});
  const double sigma = 0.5;
  auto x = torch::linspace(-6, 6, 240001, torch::kFloat64);
  const double h = 12.0 / 240000;
  auto px = p.log_prob(x.unsqueeze(1)).exp();
  for (const auto& f : families()) {
    auto q = [&](const at::Tensor& xt) { return (f.log_density((xt - x) / sigma).exp() / sigma); };
    auto log_p_sigma = [&](double xt) { return std::log((px * q(torch::full({1}, xt, torch::kFloat64))).sum().item<double>() * h); };
    for (double xt : {-3.1, -2.05, -1.2, -0.1, 0.6, 1.97, 2.8}) {
      auto xtt = torch::full({1}, xt, torch::kFloat64);
      auto w = px * q(xtt);
      const double target = (w * (-f.residual((xtt - x) / sigma) / sigma)).sum().item<double>() / w.sum().item<double>();
      const double e = 1e-4;
      const double score = (log_p_sigma(xt + e) - log_p_sigma(xt - e)) / (2 * e);
      EXPECT_NEAR(target, score, 2e-3 * (1.0 + std::abs(score))) << f.name() << " at " << xt;
      if (f.gaussian()) {
        auto exact = p.smoothed(sigma).score(torch::full({1, 1}, xt, torch::kFloat64)).item<double>();
        EXPECT_NEAR(target, exact, 2e-3 * (1.0 + std::abs(exact))) << "gaussian at " << xt;
      }
    }
  }
}

// With x = 0 and s = 0 the DSM loss is E||g(u)||^2 / 2: half the Fisher information of the noise per coordinate
// (Gaussian 1, Laplace 1 / b^2 = 2 exactly, scaled t nu (nu + 1) / ((nu + 3)(nu - 2))).
TEST(NoiseFamily, DsmLossUsesTheFamilysTarget) {
  const SigmaSchedule sigmas(2.0, 0.5, 3);
  ScoreNetFn zero = [](const at::Tensor& x, const at::Tensor&) { return torch::zeros_like(x); };
  const double nu = 5.0;
  const std::vector<double> fisher{1.0, 2.0, nu * (nu + 1) / ((nu + 3) * (nu - 2))};
  const auto fs = families();
  for (size_t i = 0; i < fs.size(); ++i) {
    auto gen = make_generator(5);
    const double loss = dsm_loss(zero, torch::zeros({200000, 2}), sigmas, gen, fs[i]).loss.item<double>();
    EXPECT_NEAR(loss, fisher[i], (i == 1 ? 1e-6 : 0.02) * fisher[i]) << fs[i].name();
  }
}

TEST(NoiseFamily, BadNamesAndDegreesOfFreedomAreRefused) {
  EXPECT_THROW(NoiseFamily::by_name("cauchy"), ConfigError);
  EXPECT_THROW(NoiseFamily::by_name("student-t", 2.0), ConfigError);
  EXPECT_NO_THROW(NoiseFamily::by_name("student-t", 2.5));
}

}  // namespace
}  // namespace scorelab
