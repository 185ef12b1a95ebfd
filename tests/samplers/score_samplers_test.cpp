// pc, ode and edm with the exact score of a Gaussian N(mu, s^2 I) (smoothed at sigma: N(mu, (s^2 + sigma^2) I)):
// the samples' mean and variance are recovered, on a VE (NCSN) and on a VP (DDPM) noise process.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/noise.h"
#include "core/runtime.h"
#include "core/schedule.h"
#include "samplers/edm.h"
#include "samplers/ode.h"
#include "samplers/registry.h"

namespace scorelab {
namespace {

constexpr double kMu = 1.5, kS = 0.5;
constexpr int64_t kN = 4000;

ScoreFn gaussian_score() {
  return [](const at::Tensor& x, double sigma) { return (x - kMu) * (-1.0 / (kS * kS + sigma * sigma)); };
}

SamplerArgs args_for(const std::string& process) {
  SamplerArgs a;
  a.score = gaussian_score();
  if (process == "ve") {
    a.process = std::make_shared<VarianceExploding>(SigmaSchedule(50.0, 0.01, 10));
  } else {
    a.process = std::make_shared<VariancePreserving>(BetaSchedule::linear(1000));
  }
  a.config.ddim_steps = 100;
  return a;
}

struct Moments {
  double mean, var;
};
Moments moments(const at::Tensor& x) {
  return {x.mean().item<double>(), x.var(0).mean().item<double>()};
}

// Standard errors at kN samples: mean s / sqrt(N) ~ 0.008, variance s^2 sqrt(2 / N) ~ 0.0056; the tolerances
// below (0.05, 10%) also cover the discretisation error of the stated step counts.
void expect_gaussian(const std::string& sampler, SamplerArgs a, const std::string& what) {
  auto s = sampler_registry().get(sampler)(a);
  auto gen = make_generator(5);
  at::Tensor x = run_sampler(*s, kN, {2}, gen);
  const Moments m = moments(x);
  EXPECT_NEAR(m.mean, kMu, 0.05) << what;
  EXPECT_NEAR(m.var, kS * kS, 0.1 * kS * kS) << what;
}

TEST(ScoreSamplers, PredictorCorrectorRecoversAGaussian) {
  for (const char* p : {"ve", "vp"}) {
    expect_gaussian("pc", args_for(p), std::string("pc ") + p);
    SamplerArgs a = args_for(p);
    a.config.corrector_steps = 0;  // the reverse-diffusion predictor alone: first order, more levels
    a.config.ddim_steps = 300;
    expect_gaussian("pc", a, std::string("pc predictor only ") + p);
  }
}

TEST(ScoreSamplers, ProbabilityFlowRecoversAGaussianWithEverySolver) {
  for (const char* p : {"ve", "vp"}) {
    for (const char* solver : {"euler", "heun", "rk4", "rk45"}) {
      SamplerArgs a = args_for(p);
      a.config.ode_solver = solver;
      if (std::string(solver) == "rk45") a.config.ddim_steps = 4;
      if (std::string(solver) == "euler") a.config.ddim_steps = 1000;  // first order: 100 steps give var 0.15
      expect_gaussian("ode", a, std::string("ode ") + solver + " " + p);
    }
  }
}

// The ODE map of a Gaussian is linear: x(sigma_min) = mu + (x(sigma_max) - mu) sqrt((s^2 + sigma_min^2) /
// (s^2 + sigma_max^2)), so each sample can be checked, and the adaptive solver's accuracy follows its tolerance.
TEST(ScoreSamplers, ProbabilityFlowMatchesTheExactFlowPerSample) {
  SamplerArgs a = args_for("ve");
  a.config.ddim_steps = 2;
  const double smax = a.process->sigma_max(), smin = a.process->sigma_min();
  const double ratio = std::sqrt((kS * kS + smin * smin) / (kS * kS + smax * smax));
  double previous_err = 1e9;
  int64_t previous_nfe = 0;
  for (double tol : {1e-3, 1e-6}) {
    a.config.rtol = a.config.atol = tol;
    auto s = sampler_registry().get("ode")(a);
    auto gen = make_generator(6);
    at::Tensor x_T = s->init(256, {2}, gen);
    at::Tensor x = run_sampler_from(*s, x_T, gen);
    const double err = (x - (kMu + (x_T - kMu) * ratio)).abs().max().item<double>();
    EXPECT_LT(err, 100 * tol) << tol;
    EXPECT_LT(err, previous_err);
    const auto nfe = static_cast<int64_t>(s->stats().at("nfe"));
    EXPECT_GT(nfe, previous_nfe);
    previous_err = err;
    previous_nfe = nfe;
  }
  a.config.ode_solver = "euler";
  a.config.ddim_steps = 7;
  auto euler = sampler_registry().get("ode")(a);
  auto gen = make_generator(6);
  run_sampler(*euler, 4, {2}, gen);
  EXPECT_EQ(euler->stats().at("nfe"), 7.0);
}

TEST(ScoreSamplers, EdmRecoversAGaussianDeterministicAndWithChurn) {
  for (const char* p : {"ve", "vp"}) {
    SamplerArgs a = args_for(p);
    a.config.ddim_steps = 40;
    expect_gaussian("edm", a, std::string("edm ") + p);
    a.config.churn = 40;
    expect_gaussian("edm", a, std::string("edm churn ") + p);
  }
}

TEST(ScoreSamplers, EdmScheduleIsKarras) {
  const auto s = karras_sigmas(80.0, 0.002, 3, 7.0);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_DOUBLE_EQ(s[0], 80.0);
  EXPECT_NEAR(s[1], std::pow(0.5 * (std::pow(80.0, 1 / 7.0) + std::pow(0.002, 1 / 7.0)), 7.0), 1e-12);
  EXPECT_DOUBLE_EQ(s[2], 0.002);
  SamplerArgs a = args_for("ve");
  a.config.ddim_steps = 5;
  EdmSampler edm(a.score, a.process, a.config);
  EXPECT_EQ(edm.sigmas().size(), 6u);
  EXPECT_EQ(edm.sigmas().back(), 0.0);
}

TEST(NoiseProcess, PerturbAndLevels) {
  VariancePreserving vp(BetaSchedule::linear(1000));
  const NoiseLevel l = vp.level(500);
  EXPECT_NEAR(l.alpha * l.alpha + l.std * l.std, 1.0, 1e-12);
  EXPECT_NEAR(l.std / l.alpha, l.sigma, 1e-12);
  EXPECT_EQ(vp.at_sigma(l.sigma).index, 500);
  EXPECT_EQ(vp.at_sigma(1e-9).index, 0);
  EXPECT_EQ(vp.at_sigma(1e9).index, 999);
  VarianceExploding ve(SigmaSchedule(10.0, 0.1, 3));
  EXPECT_EQ(ve.level(1).index, 1);
  EXPECT_DOUBLE_EQ(ve.sigma_max(), 10.0);
  EXPECT_DOUBLE_EQ(ve.sigma_min(), 0.1);
  EXPECT_EQ(ve.at_sigma(0.5).index, -1);
  auto gen = make_generator(1);
  at::Tensor x0 = torch::full({20000, 1}, 2.0);
  at::Tensor x = perturb(x0, l, gen);
  EXPECT_NEAR(x.mean().item<double>(), 2.0 * l.alpha, 0.02);
  EXPECT_NEAR(x.std().item<double>(), l.std, 0.02);
  EXPECT_TRUE(torch::equal(perturb(x0, NoiseLevel::none(), gen), x0));
  // VP levels for a list of sigmas snap to timesteps and drop repeats; VE keeps every sigma.
  EXPECT_EQ(levels_for(vp, {l.sigma, l.sigma * 1.0001, 0.5}).size(), 2u);
  EXPECT_EQ(levels_for(ve, {5.0, 4.9999}).size(), 2u);
  EXPECT_THROW(VarianceExploding(std::vector<double>{1.0, 2.0}), ConfigError);
}

}  // namespace
}  // namespace scorelab
