// Samplers on exact Gaussian inputs, where the right answer is known in closed form.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/runtime.h"
#include "samplers/ddpm.h"
#include "samplers/denoise.h"
#include "samplers/langevin.h"
#include "samplers/registry.h"

namespace scorelab {
namespace {

// Data N(mu, s^2 I) in 2-D; smoothed by sigma it is N(mu, (s^2 + sigma^2) I).
const std::vector<double> kMu = {0.5, -0.3};
constexpr double kS = 0.5;

at::Tensor mu_tensor() { return torch::tensor(kMu, torch::kFloat32); }

ScoreFn gaussian_score() {
  return [](const at::Tensor& x, double sigma) { return (x - mu_tensor()) * (-1.0 / (kS * kS + sigma * sigma)); };
}

// E[e | x_t] for x_t = sqrt(abar) x0 + sqrt(1 - abar) e, x0 ~ N(mu, s^2 I).
EpsFn gaussian_eps(const BetaSchedule& b) {
  return [&b](const at::Tensor& x, int64_t t) {
    const double a = b.alpha_bar(t);
    return (x - mu_tensor() * std::sqrt(a)) * (std::sqrt(1 - a) / (a * kS * kS + 1 - a));
  };
}

struct Moments {
  double mean[2], var[2];
};
Moments moments(const at::Tensor& x) {
  at::Tensor m = x.to(at::kDouble).mean(0), v = x.to(at::kDouble).var(0);
  return {{m[0].item<double>(), m[1].item<double>()}, {v[0].item<double>(), v[1].item<double>()}};
}

// Sample means within `mean_tol`, variances within relative `var_rtol` of the expected ones.
void expect_moments(const at::Tensor& x, const double mean[2], double var, double mean_tol, double var_rtol) {
  Moments m = moments(x);
  for (int d = 0; d < 2; ++d) {
    EXPECT_NEAR(m.mean[d], mean[d], mean_tol) << "dim " << d;
    EXPECT_NEAR(m.var[d] / var, 1.0, var_rtol) << "dim " << d << ": variance " << m.var[d] << " vs " << var;
  }
}

class AnnealedLangevinGaussian : public ::testing::TestWithParam<std::tuple<std::string, bool>> {};

// With the exact smoothed score, the last level's chain is an AR(1) process with precision
// p = 1/(s^2 + sigma_L^2) and x' = x - a p (x - mu) + b z, whose stationary variance is
// b^2 / (1 - (1 - a p)^2) (the discretised Langevin target, within ~1% of 1/p here).
// The final denoising step maps it through x -> x - sigma_L^2 p (x - mu).
TEST_P(AnnealedLangevinGaussian, RecoversMeanAndVariance) {
  const auto& [rule, denoise] = GetParam();
  SamplerConfig cfg;
  cfg.step_rule = rule;
  cfg.step_size = rule == "ncsn" ? 0.02 : 0.01;
  cfg.steps_per_level = 100;
  cfg.final_denoise = denoise;
  cfg.init_low = -3;
  cfg.init_high = 3;
  SigmaSchedule sigmas(5.0, 0.25, 5);
  AnnealedLangevinSampler sampler(gaussian_score(), sigmas, cfg);
  at::Generator gen = make_generator(42);
  at::Tensor x = run_sampler(sampler, 4000, {2}, gen);

  const double sl = sigmas.sigmas().back(), p = 1 / (kS * kS + sl * sl);
  auto [a, b] = langevin_coefficients(rule, cfg.step_size);
  double var = b * b / (1 - (1 - a * p) * (1 - a * p));
  EXPECT_NEAR(var * p, 1.0, 0.02);  // the discretisation bias is small
  if (denoise) var *= (1 - sl * sl * p) * (1 - sl * sl * p);
  const double mean[2] = {kMu[0], kMu[1]};
  expect_moments(x, mean, var, 0.04, 0.06);
}

INSTANTIATE_TEST_SUITE_P(Rules, AnnealedLangevinGaussian,
                         ::testing::Combine(::testing::Values("ncsn", "ncsnv2"), ::testing::Bool()));

TEST(LangevinGaussian, PlainLangevinAtOneLevel) {
  SamplerConfig cfg;
  cfg.step_size = 0.05;
  cfg.steps_per_level = 150;
  cfg.langevin_sigma = 0.3;
  LangevinSampler sampler(gaussian_score(), cfg);
  at::Generator gen = make_generator(5);
  at::Tensor x = run_sampler(sampler, 4000, {2}, gen);
  const double p = 1 / (kS * kS + 0.09);
  const double a = 0.025, b2 = 0.05;
  const double mean[2] = {kMu[0], kMu[1]};
  expect_moments(x, mean, b2 / (1 - (1 - a * p) * (1 - a * p)), 0.04, 0.06);
}

// The DDPM / DDIM update is affine in x for a Gaussian, so the exact output moments follow from
// iterating (mean, var) through x -> A x + B + noise from N(0, 1): an independent route to the answer,
// composed from the eps and x0 predictions rather than the samplers' precomputed coefficients.
struct Step {
  double ce, de, x0c, x0d;  // eps = ce x + de, x0 = x0c x + x0d
};
Step predictions(double a, double mu) {
  const double D = a * kS * kS + 1 - a;
  Step s{};
  s.ce = std::sqrt(1 - a) / D;
  s.de = -std::sqrt(1 - a) * std::sqrt(a) * mu / D;
  s.x0c = (1 - std::sqrt(1 - a) * s.ce) / std::sqrt(a);
  s.x0d = -std::sqrt(1 - a) * s.de / std::sqrt(a);
  return s;
}

void ddpm_exact_moments(const BetaSchedule& b, bool small, double mu, double& m, double& v) {
  m = 0, v = 1;
  for (int64_t t = b.steps() - 1; t >= 0; --t) {
    const double a = b.alpha_bar(t), ap = t > 0 ? b.alpha_bar(t - 1) : 1.0, beta = b.beta(t);
    const Step p = predictions(a, mu);
    // Posterior mean mu~(x0, x_t) = c1 x0 + c2 x_t (Ho et al. eq. 7).
    const double c1 = beta * std::sqrt(ap) / (1 - a), c2 = (1 - ap) * std::sqrt(1 - beta) / (1 - a);
    const double noise = t == 0 ? 0.0 : (small ? (1 - ap) / (1 - a) * beta : beta);
    m = (c1 * p.x0c + c2) * m + c1 * p.x0d;
    v = std::pow(c1 * p.x0c + c2, 2) * v + noise;
  }
}

void ddim_exact_moments(const BetaSchedule& b, const std::vector<int64_t>& tau, double eta, double mu, double& m,
                        double& v) {
  m = 0, v = 1;
  for (size_t i = 0; i < tau.size(); ++i) {
    const double a = b.alpha_bar(tau[i]), an = i + 1 < tau.size() ? b.alpha_bar(tau[i + 1]) : 1.0;
    const Step p = predictions(a, mu);
    const double c1 = eta * std::sqrt((1 - a / an) * (1 - an) / (1 - a)), c2 = std::sqrt(1 - an - c1 * c1);
    const double A = std::sqrt(an) * p.x0c + c2 * p.ce, B = std::sqrt(an) * p.x0d + c2 * p.de;
    m = A * m + B;
    v = A * A * v + c1 * c1;
  }
}

class DdpmGaussian : public ::testing::TestWithParam<std::string> {};

// A short schedule (T = 100) where "small" and "large" differ by ~15%: matches the exact moments.
TEST_P(DdpmGaussian, MatchesExactMomentsOnShortSchedule) {
  auto betas = BetaSchedule::linear(100, 1e-3, 0.2);
  SamplerConfig cfg;
  cfg.variance = GetParam();
  DdpmSampler sampler(gaussian_eps(betas), betas, cfg);
  at::Generator gen = make_generator(9);
  at::Tensor x = run_sampler(sampler, 10000, {2}, gen);
  double m[2], v;
  ddpm_exact_moments(betas, GetParam() == "small", kMu[0], m[0], v);
  ddpm_exact_moments(betas, GetParam() == "small", kMu[1], m[1], v);
  expect_moments(x, m, v, 0.02, 0.04);
}

// The DDPM schedule (T = 1000): the samples recover the data mean and variance.
TEST_P(DdpmGaussian, RecoversDataMeanAndVariance) {
  auto betas = BetaSchedule::linear(1000);
  SamplerConfig cfg;
  cfg.variance = GetParam();
  DdpmSampler sampler(gaussian_eps(betas), betas, cfg);
  at::Generator gen = make_generator(19);
  at::Tensor x = run_sampler(sampler, 4000, {2}, gen);
  const double data_mean[2] = {kMu[0], kMu[1]};
  expect_moments(x, data_mean, kS * kS, 0.04, 0.07);
}

INSTANTIATE_TEST_SUITE_P(Variances, DdpmGaussian, ::testing::Values("small", "large"));

class DdimGaussian : public ::testing::TestWithParam<std::tuple<double, std::string>> {};

// Ten steps (far from the continuous limit): matches the exact moments of the discrete map.
TEST_P(DdimGaussian, MatchesExactMomentsWithFewSteps) {
  const auto& [eta, spacing] = GetParam();
  auto betas = BetaSchedule::linear(1000);
  SamplerConfig cfg;
  cfg.ddim_steps = 10;
  cfg.eta = eta;
  cfg.spacing = spacing;
  DdimSampler sampler(gaussian_eps(betas), betas, cfg);
  double m[2], v;
  ddim_exact_moments(betas, sampler.timesteps(), eta, kMu[0], m[0], v);
  ddim_exact_moments(betas, sampler.timesteps(), eta, kMu[1], m[1], v);
  at::Generator gen = make_generator(10);
  at::Tensor x0 = sampler.init(10000, {2}, gen);
  at::Tensor x = run_sampler_from(sampler, x0, gen);
  expect_moments(x, m, v, 0.02, 0.04);
  // eta = 0: the output is a deterministic function of x_T.
  at::Generator other = make_generator(11);
  EXPECT_EQ(torch::allclose(run_sampler_from(sampler, x0, other), x), eta == 0.0);
}

INSTANTIATE_TEST_SUITE_P(EtaSpacing, DdimGaussian,
                         ::testing::Combine(::testing::Values(0.0, 1.0), ::testing::Values("uniform", "quad")));

TEST(DdimGaussianSteps, DeterministicRecoversDataMeanAndVariance) {
  auto betas = BetaSchedule::linear(1000);
  SamplerConfig cfg;
  cfg.ddim_steps = 500;
  DdimSampler sampler(gaussian_eps(betas), betas, cfg);
  at::Generator gen = make_generator(12);
  at::Tensor x = run_sampler(sampler, 4000, {2}, gen);
  const double data_mean[2] = {kMu[0], kMu[1]};
  expect_moments(x, data_mean, kS * kS, 0.04, 0.07);
}

TEST(DdimGaussianClip, ClippingBoundsThePrediction) {
  auto betas = BetaSchedule::linear(100, 1e-3, 0.1);
  SamplerConfig cfg;
  cfg.ddim_steps = 10;
  cfg.clip_x0 = 0.2;
  DdimSampler sampler(gaussian_eps(betas), betas, cfg);
  at::Generator gen = make_generator(3);
  at::Tensor x = run_sampler(sampler, 500, {2}, gen);
  // The last DDIM step returns the (clipped) x0 prediction itself.
  EXPECT_LE(x.abs().max().item<double>(), 0.2 + 1e-6);
  cfg.variance = "small";
  DdpmSampler ddpm(gaussian_eps(betas), betas, cfg);
  EXPECT_LE(run_sampler(ddpm, 500, {2}, gen).abs().max().item<double>(), 0.2 + 1e-6);
}

// A clip bound that is never reached must not change anything: the clipped path recomputes the mean
// from x0 (posterior mean / recomputed eps), an algebraically equal route.
TEST(DdimGaussianClip, InactiveClipMatchesUnclipped) {
  auto betas = BetaSchedule::linear(50, 1e-3, 0.3);
  SamplerConfig plain;
  plain.ddim_steps = 10;
  plain.eta = 1.0;
  SamplerConfig clipped = plain;
  clipped.clip_x0 = 1e3;
  for (const char* name : {"ddpm", "ddim"}) {
    SamplerArgs a;
    a.eps = gaussian_eps(betas);
    a.betas = std::make_shared<BetaSchedule>(betas);
    a.config = plain;
    auto s_plain = sampler_registry().get(name)(a);
    a.config = clipped;
    auto s_clipped = sampler_registry().get(name)(a);
    at::Generator g1 = make_generator(8), g2 = make_generator(8);
    at::Tensor x1 = run_sampler(*s_plain, 256, {2}, g1), x2 = run_sampler(*s_clipped, 256, {2}, g2);
    EXPECT_TRUE(torch::allclose(x1, x2, 1e-4, 1e-4)) << name << ": " << (x1 - x2).abs().max().item<double>();
  }
}

TEST(SingleStepDenoiser, EqualsGaussianPosteriorMean) {
  SamplerArgs args;
  args.score = gaussian_score();
  args.sigmas = std::make_shared<SigmaSchedule>(std::vector<double>{1.0, 0.3});
  auto sampler = sampler_registry().get("single-step")(args);
  const double sigma = 0.3;
  at::Generator gen = make_generator(2);
  at::Tensor noisy = mu_tensor() + torch::randn({2000, 2}, gen, torch::kFloat32) * std::sqrt(kS * kS + sigma * sigma);
  at::Tensor out = run_sampler_from(*sampler, noisy, gen);
  at::Tensor expected = mu_tensor() + (noisy - mu_tensor()) * (kS * kS / (kS * kS + sigma * sigma));
  EXPECT_TRUE(torch::allclose(out, expected, 1e-5, 1e-6));
  EXPECT_THROW(sampler->init(4, {2}, gen), std::logic_error);
}

TEST(Adapters, ScoreFromExactEpsIsTheSmoothedScore) {
  auto betas = BetaSchedule::linear(1000);
  ScoreFn score = score_from_eps(gaussian_eps(betas), betas);
  ScoreFn exact = gaussian_score();
  at::Generator gen = make_generator(4);
  at::Tensor x = torch::randn({64, 2}, gen, torch::kFloat32) * 2;
  for (int64_t t : {0, 10, 300, 999}) {
    const double sigma = betas.sigma_equivalent(t);
    EXPECT_EQ(nearest_timestep(betas, sigma), t);
    EXPECT_EQ(nearest_timestep(betas, sigma * 1.0001), t);
    EXPECT_TRUE(torch::allclose(score(x, sigma), exact(x, sigma), 1e-4, 1e-5)) << "t=" << t;
  }
  EXPECT_EQ(nearest_timestep(betas, 0.0), 0);
  EXPECT_EQ(nearest_timestep(betas, 1e-9), 0);
  EXPECT_EQ(nearest_timestep(betas, 1e9), 999);
}

TEST(Adapters, EpsFromExactScoreIsTheExactEpsAndRoundTrips) {
  auto betas = BetaSchedule::linear(200, 1e-4, 0.1);
  EpsFn eps = eps_from_score(gaussian_score(), betas);
  EpsFn exact = gaussian_eps(betas);
  ScoreFn back = score_from_eps(eps, betas);
  at::Generator gen = make_generator(6);
  at::Tensor x = torch::randn({64, 2}, gen, torch::kFloat32);
  for (int64_t t : {0, 50, 199}) {
    EXPECT_TRUE(torch::allclose(eps(x, t), exact(x, t), 1e-4, 1e-5)) << "t=" << t;
    const double sigma = betas.sigma_equivalent(t);
    EXPECT_TRUE(torch::allclose(back(x, sigma), gaussian_score()(x, sigma), 1e-4, 1e-5)) << "t=" << t;
  }
}

}  // namespace
}  // namespace scorelab
