// Likelihoods (issue 12): Hutchinson's estimator, the ODE solvers, the probability-flow ODE against exact
// mixture densities, the DDPM bound against a known optimum, and the bits/dim convention.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/runtime.h"
#include "core/schedule.h"
#include "data/mixture.h"
#include "eval/likelihood.h"

namespace scorelab {
namespace {

TEST(Likelihood, HutchinsonIsUnbiasedForAKnownJacobian) {
  torch::manual_seed(0);
  const at::Tensor A = torch::tensor({{1.5, 0.3, -0.2}, {0.7, -0.4, 0.1}, {0.0, 2.0, 0.25}}, torch::kFloat64);
  const double trace = 1.5 - 0.4 + 0.25;
  auto g = [&](const at::Tensor& x) { return torch::matmul(x.pow(2) * 0.5, A.t()); };  // J = A diag(x)
  const at::Tensor x = torch::tensor({{1.0, -2.0, 0.5}}, torch::kFloat64);
  const double want = 1.5 * 1.0 + (-0.4) * (-2.0) + 0.25 * 0.5;  // sum_i A_ii x_i
  EXPECT_NEAR(divergence_exact(g, x).item<double>(), want, 1e-12);
  auto gen = make_generator(3);
  for (const bool gaussian : {false, true}) {
    const int64_t K = 4000;
    const at::Tensor v = gaussian ? torch::randn({K, 1, 3}, gen, torch::kFloat64)
                                  : torch::randint(0, 2, {K, 1, 3}, gen, torch::kFloat64) * 2 - 1;
    const at::Tensor est = divergence_hutchinson(g, x, v).flatten();
    const double mean = est.mean().item<double>(), se = est.std().item<double>() / std::sqrt(double(K));
    EXPECT_NEAR(mean, want, 4 * se) << (gaussian ? "gaussian" : "rademacher") << " se " << se;
    EXPECT_GT(se, 0.0);
  }
  // A linear map: every Rademacher probe is exact up to the off-diagonal terms; the mean is the trace.
  auto lin = [&](const at::Tensor& y) { return torch::matmul(y, A.t()); };
  EXPECT_NEAR(divergence_exact(lin, x).item<double>(), trace, 1e-12);
}

TEST(Likelihood, SolversIntegrateAKnownOde) {
  const at::Tensor y0 = torch::tensor({{1.0, 2.0}}, torch::kFloat64);
  auto f = [](double, const at::Tensor& y) { return -y; };
  const double want = std::exp(-2.0);
  for (const auto& [solver, tol] : std::vector<std::pair<std::string, double>>{
           {"euler", 2e-2}, {"heun", 1e-4}, {"rk4", 1e-8}, {"rk45", 1e-6}}) {
    int64_t nfe = 0;
    const at::Tensor y = solve_ode(f, y0, 0.0, 2.0, solver, 50, 1e-8, 1e-8, &nfe);
    EXPECT_NEAR(y[0][0].item<double>(), want, tol) << solver;
    EXPECT_NEAR(y[0][1].item<double>(), 2 * want, 2 * tol) << solver;
    EXPECT_GT(nfe, 0) << solver;
  }
  // Backwards in u as well.
  const at::Tensor back = solve_ode(f, y0, 2.0, 0.0, "rk45", 10, 1e-8, 1e-8);
  EXPECT_NEAR(back[0][0].item<double>(), std::exp(2.0), 1e-5);
}

// The ODE with the exact score of a mixture recovers that mixture's log-density (at sigma_min, where the
// data are taken to be): exactly with the exact trace, within the standard error with Hutchinson.
TEST(Likelihood, OdeWithTheExactScoreGivesTheExactLogDensity) {
  const GaussianMixture truth({0.3, 0.7}, {{-1.0, 0.5}, {1.0, -0.5}}, {0.2, 0.4});
  const double smin = 0.01, smax = 20.0;
  ScoreFn score = [&](const at::Tensor& x, double sigma) { return truth.smoothed(sigma).score(x); };
  const GaussianMixture top = truth.smoothed(smax);
  PriorLogProb prior = [&](const at::Tensor& x) { return top.log_prob(x); };
  auto gen = make_generator(5);
  const at::Tensor x = truth.sample(64, gen).to(torch::kFloat64);
  const at::Tensor want = truth.smoothed(smin).log_prob(x).to(torch::kFloat64);
  LikelihoodConfig c;
  c.divergence = "exact";
  c.rtol = c.atol = 1e-7;
  const LikelihoodResult r = ode_log_likelihood(score, smin, smax, prior, x, c, gen);
  EXPECT_LT((r.log_p - want).abs().max().item<double>(), 2e-3);
  EXPECT_GT(r.nfe, 10);
  // Hutchinson, 4 probes per example: the mean error over examples within 4 standard errors.
  c.divergence = "hutchinson";
  c.probes = 4;
  const LikelihoodResult h = ode_log_likelihood(score, smin, smax, prior, x, c, gen);
  const at::Tensor err = h.log_p - want;
  const double se = err.std().item<double>() / std::sqrt(64.0);
  EXPECT_LT(std::abs(err.mean().item<double>()), 4 * se + 2e-3) << "se " << se;
  EXPECT_GT(h.probe_se.mean().item<double>(), 0.0);
  // The fixed-step solvers agree with it too.
  c.divergence = "exact";
  c.solver = "rk4";
  c.steps = 200;
  EXPECT_LT((ode_log_likelihood(score, smin, smax, prior, x, c, gen).log_p - want).abs().max().item<double>(), 2e-3);
}

// Data N(0, I) with its exact eps. The true reverse conditionals are N(sqrt(alpha_t) x_t, beta_t), so with the
// fixed large variance every KL term is tight and the bound exceeds the true NLL only by the decoder's
// variance (beta~_1 at t = 0, improved-diffusion's convention, where the truth is beta_0): per dimension
// 0.5 (r - 1 - log r), r = beta_0 / beta~_1. The small variance (beta~_t) is a looser bound for this data.
TEST(Likelihood, DdpmBoundIsAboveTheTrueNllAndTightForTheExactEps) {
  const BetaSchedule betas = BetaSchedule::by_name("linear", 1000);
  EpsVarFn eps = [&](const at::Tensor& xt, const at::Tensor& t) {
    const at::Tensor ab = torch::tensor(betas.alpha_bars(), torch::kFloat64).index_select(0, t).view({-1, 1});
    return (1 - ab).sqrt() * xt;  // -sqrt(1 - abar) grad log q_t, q_t = N(0, I)
  };
  auto gen = make_generator(11);
  const int64_t n = 2000, d = 2;
  const at::Tensor x0 = torch::randn({n, d}, gen, torch::kFloat64);
  const at::Tensor nll = (0.5 * std::log(2 * M_PI) + x0.pow(2) / 2).sum(1);
  const double r = betas.beta(0) / betas.posterior_variance(1);
  const double decoder_excess = d * 0.5 * (r - 1 - std::log(r));
  LikelihoodConfig c;
  c.variance = "large";
  for (int64_t strata : {int64_t{0}, int64_t{20}}) {
    c.vlb_strata = strata;
    const VlbResult v = ddpm_vlb(eps, betas, x0, /*discrete=*/false, c, gen);
    const at::Tensor gap = v.nll_bound - nll;
    const double mean = gap.mean().item<double>(), se = gap.std().item<double>() / std::sqrt(double(n));
    EXPECT_NEAR(mean, decoder_excess, 4 * se) << "strata " << strata << " se " << se;
    EXPECT_EQ(v.nfe, strata == 0 ? 1000.0 : 41.0);
  }
  c.variance = "small";
  c.vlb_strata = 0;
  const at::Tensor gap = ddpm_vlb(eps, betas, x0, false, c, gen).nll_bound - nll;
  const double se = gap.std().item<double>() / std::sqrt(double(n));
  EXPECT_GT(gap.mean().item<double>(), decoder_excess + 4 * se) << "small variance: a looser bound here";
}

TEST(Likelihood, UniformDequantizedDataGiveEightBitsPerDim) {
  auto gen = make_generator(2);
  const at::Tensor k = torch::randint(0, 256, {16, 1, 4, 4}, gen, torch::kFloat64);
  const at::Tensor x = k / 127.5 - 1;
  const at::Tensor y = dequantize(x, gen);
  EXPECT_LE((y - x).abs().max().item<double>(), 1.0 / 255 + 1e-12);
  // The density uniform on the bins' union [-1 - 1/255, 1 + 1/255]^D.
  const int64_t dims = 16;
  const double nll = dims * std::log(2.0 * 256.0 / 255.0);
  EXPECT_NEAR(dequantized_bits_per_dim(nll, dims), 8.0, 1e-12);
}

}  // namespace
}  // namespace scorelab
