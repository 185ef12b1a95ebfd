#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "core/runtime.h"
#include "core/schedule.h"
#include "objectives/objective.h"

namespace scorelab {
namespace {

// Data N(mu, s^2 I) in 2-D; its score after smoothing by sigma is -(x - mu) / (s^2 + sigma^2).
constexpr double kS = 0.7;
const std::vector<double> kMu{1.0, -2.0};

at::Tensor gaussian_data(int64_t n, uint64_t seed) {
  auto g = make_generator(seed);
  return torch::tensor(kMu, torch::kFloat64) + kS * at::normal(0.0, 1.0, {n, 2}, g, torch::kFloat64);
}

ScoreNetFn true_score(double scale = 1.0, double shift = 0.0) {
  return [=](const at::Tensor& x, const at::Tensor& sigma) {
    auto v = (kS * kS + sigma.pow(2)).unsqueeze(1);
    return scale * -(x - torch::tensor(kMu, x.options())) / v + shift;
  };
}

TEST(Dsm, TrueScoreAttainsTheAnalyticMinimum) {
  SigmaSchedule sigmas(3.0, 0.1, 5);
  auto x = gaussian_data(400000, 1);
  auto g = make_generator(2);
  const double at_truth = dsm_loss(true_score(), x, sigmas, g).loss.item<double>();
  // 1/2 lambda ||s* - target||^2 has expectation D/2 * s^2 / (s^2 + sigma^2), averaged over the levels.
  double expected = 0;
  for (double s : sigmas.sigmas()) expected += 0.5 * 2 * kS * kS / (kS * kS + s * s) / sigmas.size();
  EXPECT_NEAR(at_truth, expected, 0.01 * expected);
  for (auto [scale, shift] : {std::pair{1.2, 0.0}, {0.8, 0.0}, {1.0, 0.3}}) {
    auto g2 = make_generator(2);
    EXPECT_GT(dsm_loss(true_score(scale, shift), x, sigmas, g2).loss.item<double>(), at_truth + 1e-3);
  }
}

TEST(Ssm, TrueScoreBeatsPerturbedScores) {
  SigmaSchedule sigmas(1.0, 0.5, 2);
  auto x = gaussian_data(100000, 3);
  auto loss = [&](const ScoreNetFn& f) {
    auto g = make_generator(4);
    return ssm_loss(f, x, sigmas, 1, g).loss.item<double>();
  };
  const double at_truth = loss(true_score());
  // Sliced score matching = E[tr(J) + 1/2 ||s||^2] = -1/2 E||s*||^2 at the optimum (per level, times sigma^2).
  double expected = 0;
  for (double s : sigmas.sigmas()) expected += s * s * (-0.5 * 2 / (kS * kS + s * s)) / sigmas.size();
  EXPECT_NEAR(at_truth, expected, 0.05 * std::abs(expected));
  EXPECT_GT(loss(true_score(1.3)), at_truth);
  EXPECT_GT(loss(true_score(0.7)), at_truth);
  EXPECT_GT(loss(true_score(1.0, 0.4)), at_truth);
}

TEST(DdpmLoss, PosteriorMeanNoiseIsTheMinimiser) {
  auto betas = BetaSchedule::linear(100, 1e-3, 0.2);
  auto x = gaussian_data(200000, 5);
  auto abar = torch::tensor(betas.alpha_bars(), torch::kFloat64);
  // E[eps | x_t] = b (x_t - a mu) / (a^2 s^2 + b^2) for Gaussian data, a = sqrt(abar), b = sqrt(1 - abar).
  auto optimal = [&](double scale) -> EpsNetFn {
    return [=](const at::Tensor& xt, const at::Tensor& t) {
      auto ab = abar.index_select(0, t).unsqueeze(1);
      auto a = ab.sqrt(), b = (1 - ab).sqrt();
      return scale * b * (xt - a * torch::tensor(kMu, xt.options())) / (ab * kS * kS + 1 - ab);
    };
  };
  auto loss = [&](const EpsNetFn& f, bool anti) {
    auto g = make_generator(6);
    return ddpm_loss(f, x, betas, anti, g).loss.item<double>();
  };
  const double at_opt = loss(optimal(1.0), false);
  double expected = 0;
  for (double ab : betas.alpha_bars()) expected += ab * kS * kS / (ab * kS * kS + 1 - ab) / betas.steps();
  EXPECT_NEAR(at_opt, expected, 0.01 * expected + 1e-3);
  EXPECT_NEAR(loss(optimal(1.0), true), expected, 0.01 * expected + 1e-3);
  EXPECT_GT(loss(optimal(1.1), false), at_opt);
  EXPECT_GT(loss(optimal(0.9), false), at_opt);
}

TEST(Likelihood, NllIsPerDimensionAndSmoothingAddsNoise) {
  auto x = torch::zeros({200000, 2}, torch::kFloat64);
  LogProbFn lp = [](const at::Tensor& v, const at::Tensor& cond) {
    EXPECT_FALSE(cond.defined());
    return -v.pow(2).sum(1) - 1.0;
  };
  EXPECT_NEAR(nll_loss(lp, x).loss.item<double>(), 0.5, 1e-12);
  // E[-log p(x + sigma z)] / D = (D sigma^2 + 1) / D with sigma = 0.7.
  auto g = make_generator(9);
  EXPECT_NEAR(smoothed_nll_loss(lp, x, 0.7, g).loss.item<double>(), 0.49 + 0.5, 0.01);
  LogProbFn conditional = [](const at::Tensor& v, const at::Tensor& cond) {
    EXPECT_TRUE(cond.defined());
    return -(v - cond).pow(2).sum(1);
  };
  // The condition is x~ = x + sigma z, so E[||x - x~||^2] / D = sigma^2.
  auto g2 = make_generator(9);
  EXPECT_NEAR(reverse_smoothing_loss(conditional, x, 0.7, g2).loss.item<double>(), 0.49, 0.01);
}

// With the exact p(x~) and the exact posterior p(x | x~) of Gaussian data, the two-stage bound is tight:
// it equals log p(x) for every draw of x~.
TEST(Likelihood, SmoothingBoundIsTightWithExactStages) {
  const double s = 0.8, sigma = 0.5, v = s * s + sigma * sigma;
  auto g = make_generator(12);
  auto x = s * at::normal(0.0, 1.0, {1000, 2}, g, torch::kFloat64);
  auto x_tilde = x + sigma * at::normal(0.0, 1.0, {1000, 2}, g, torch::kFloat64);
  auto log_normal = [](const at::Tensor& y, const at::Tensor& mean, double var) {
    return (-0.5 * (y - mean).pow(2) / var - 0.5 * std::log(2 * M_PI * var)).sum(1);
  };
  auto lp_tilde = log_normal(x_tilde, torch::zeros_like(x_tilde), v);
  auto lp_post = log_normal(x, s * s / v * x_tilde, s * s * sigma * sigma / v);
  auto bound = smoothing_log_bound(lp_tilde, lp_post, x, x_tilde, sigma);
  auto exact = log_normal(x, torch::zeros_like(x), s * s);
  EXPECT_TRUE(torch::allclose(bound, exact, 1e-9, 1e-9));
  // A worse stage 2 gives a strictly lower bound.
  auto loose = smoothing_log_bound(lp_tilde, log_normal(x, x_tilde, sigma * sigma), x, x_tilde, sigma);
  EXPECT_LT(loose.mean().item<double>(), exact.mean().item<double>());
}

TEST(ObjectiveRegistry, FactoriesSayWhatIsMissing) {
  ObjectiveArgs empty;
  for (const auto& name : objective_registry().names()) {
    try {
      objective_registry().get(name)(empty);
      ADD_FAILURE() << name << " accepted empty arguments";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(objective_registry().get("nope"), ConfigError);
}

}  // namespace
}  // namespace scorelab

namespace scorelab {
namespace {

TEST(DdpmHybrid, KlAndDecoderAreProperAndTheLossAddsTheVlbTerm) {
  auto m = torch::tensor({0.3, -1.0}, torch::kFloat64), lv = torch::tensor({-2.0, 0.5}, torch::kFloat64);
  EXPECT_TRUE(torch::allclose(gaussian_kl(m, lv, m, lv), torch::zeros(2, torch::kFloat64)));
  EXPECT_GT(gaussian_kl(m, lv, m + 0.1, lv).min().item<double>(), 0.0);
  // The discretized Gaussian decoder is a distribution over the 256 levels.
  auto levels = torch::arange(256, torch::kFloat64) / 127.5 - 1.0;
  for (double mean : {-1.0, 0.0, 0.37}) {
    auto lp = discretized_gaussian_log_likelihood(levels, torch::full({256}, mean, torch::kFloat64),
                                                  torch::full({256}, std::log(0.01), torch::kFloat64));
    EXPECT_NEAR(lp.exp().sum().item<double>(), 1.0, 1e-6) << mean;
  }
  // With the same draws, hybrid = L_simple + T/1000 * L_vlb term >= L_simple; t = 0 uses the decoder.
  auto betas = BetaSchedule::linear(4, 0.1, 0.5);
  auto g0 = make_generator(1);
  auto x = (torch::randint(256, {64, 1, 4, 4}, g0, torch::kFloat64) / 127.5 - 1.0);
  EpsNetFn eps_var = [](const at::Tensor& xt, const at::Tensor&) { return torch::cat({0.5 * xt, torch::zeros_like(xt)}, 1); };
  EpsNetFn eps_only = [](const at::Tensor& xt, const at::Tensor&) { return 0.5 * xt; };
  auto ga = make_generator(2), gb = make_generator(2);
  auto hybrid = ddpm_hybrid_loss(eps_var, x, betas, false, ga);
  auto simple = ddpm_loss(eps_only, x, betas, false, gb);
  EXPECT_TRUE(torch::isfinite(hybrid.per_example).all().item<bool>());
  EXPECT_GT(hybrid.loss.item<double>(), simple.loss.item<double>());
  EpsNetFn wrong = [](const at::Tensor& xt, const at::Tensor&) { return xt; };
  auto gc = make_generator(2);
  EXPECT_THROW(ddpm_hybrid_loss(wrong, x, betas, false, gc), c10::Error);
}

}  // namespace
}  // namespace scorelab
