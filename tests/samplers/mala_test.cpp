// MALA on a Gaussian target with a step large enough for unadjusted Langevin to be visibly biased.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/runtime.h"
#include "samplers/mala.h"
#include "samplers/registry.h"

namespace scorelab {
namespace {

constexpr double kMu = 1.5, kS2 = 0.25;  // N(mu, s^2 I) in 2-D
constexpr int64_t kN = 4000;

SamplerArgs gaussian_args() {
  SamplerArgs a;
  a.log_density = [](const at::Tensor& x, double sigma) {
    return (x - kMu).pow(2).sum(1) * (-0.5 / (kS2 + sigma * sigma));
  };
  a.score = [](const at::Tensor& x, double sigma) { return (x - kMu) * (-1.0 / (kS2 + sigma * sigma)); };
  a.config.step_size = 0.2;  // h / s^2 = 0.8
  a.config.steps_per_level = 200;
  a.config.init_low = 0.0;
  a.config.init_high = 3.0;
  return a;
}

double variance(const at::Tensor& x) { return x.var(0).mean().item<double>(); }

// Unadjusted Langevin x' = x + h/2 grad + sqrt(h) z on N(mu, s^2) has the stationary variance
// h / (1 - (1 - h / (2 s^2))^2) = 0.3125 here (25% too wide); MALA's chain leaves N(mu, s^2) invariant.
TEST(Mala, RemovesTheDiscretisationBiasOfUnadjustedLangevin) {
  SamplerArgs a = gaussian_args();
  auto gen = make_generator(3);
  auto mala = sampler_registry().get("mala")(a);
  at::Tensor x = run_sampler(*mala, kN, {2}, gen);
  // Standard errors at N = 4000: mean 0.008, variance 0.0056 (2% of 0.25).
  EXPECT_NEAR(x.mean().item<double>(), kMu, 0.03);
  EXPECT_NEAR(variance(x), kS2, 0.06 * kS2);
  const auto stats = mala->stats();
  ASSERT_TRUE(stats.count("acceptance_rate"));
  EXPECT_GT(stats.at("acceptance_rate"), 0.3);
  EXPECT_LT(stats.at("acceptance_rate"), 0.99);
  EXPECT_EQ(stats.at("nfe"), 2.0 * 200);

  auto gen2 = make_generator(3);
  auto ula = sampler_registry().get("langevin")(a);
  at::Tensor y = run_sampler(*ula, kN, {2}, gen2);
  EXPECT_NEAR(variance(y), 0.3125, 0.02);
}

// With noise levels the chain is annealed like NCSN's and ends at sigma_L's smoothed target.
TEST(Mala, AnnealedOverNoiseLevels) {
  SamplerArgs a = gaussian_args();
  a.sigmas = std::make_shared<SigmaSchedule>(1.0, 0.1, 4);
  a.config.step_size = 0.02;
  a.config.steps_per_level = 50;
  auto mala = sampler_registry().get("mala")(a);
  EXPECT_EQ(mala->num_steps(), 200);
  auto gen = make_generator(4);
  at::Tensor x = run_sampler(*mala, kN, {2}, gen);
  EXPECT_NEAR(x.mean().item<double>(), kMu, 0.03);
  EXPECT_NEAR(variance(x), kS2 + 0.01, 0.08 * kS2);
}

TEST(Mala, ScoreOnlyModelsAreRefused) {
  SamplerArgs a = gaussian_args();
  a.log_density = nullptr;
  a.model = "method ncsn";
  try {
    sampler_registry().get("mala")(a);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("log_density"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("method ncsn does not offer"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(sampler_fits("mala", {"score", "sigmas", "process"}));
  EXPECT_TRUE(sampler_fits("mala", {"ar_draw", "log_density"}));
}

}  // namespace
}  // namespace scorelab
