// The estimators of NCSN's unified objective (issue 14, experiment 9) on a case with an analytic answer:
// data N(0, s^2 I_d) and the linear score s(x~, sigma) = -a(sigma) x~, for which each level's loss is
//   l(sigma) = d/2 [sigma^2 a^2 s^2 + (1 - sigma^2 a)^2]
// and the stated objective is J = (1/L) sum_i l(sigma_i). random, stratified and all must be unbiased for J,
// with variances ordered all < stratified < random; log-uniform must be biased by exactly the analytic
// difference between the continuous average of l over log sigma and J.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "core/runtime.h"
#include "objectives/objective.h"

namespace scorelab {
namespace {

constexpr double kS = 1.5;  // data std
constexpr int64_t kD = 2;

double a_of(double sigma) { return 0.7 / (kS * kS + sigma * sigma); }  // deliberately not the optimum
double level_loss(double sigma) {
  const double a = a_of(sigma);
  return 0.5 * kD * (sigma * sigma * a * a * kS * kS + std::pow(1.0 - sigma * sigma * a, 2));
}

struct Moments {
  double mean = 0, var = 0;
};

Moments estimate(LevelSampling mode, const SigmaSchedule& sigmas, int64_t batch, int64_t repeats) {
  ScoreNetFn score = [](const at::Tensor& x, const at::Tensor& sigma) {
    return -x * (0.7 / (kS * kS + sigma * sigma)).unsqueeze(1);
  };
  auto gen = make_generator(21);
  std::vector<double> v;
  for (int64_t r = 0; r < repeats; ++r) {
    auto x = at::normal(0.0, kS, {batch, kD}, gen, torch::dtype(torch::kFloat64));
    v.push_back(dsm_loss(score, x, sigmas, gen, {}, mode).loss.item<double>());
  }
  Moments m;
  for (double e : v) m.mean += e / static_cast<double>(v.size());
  for (double e : v) m.var += (e - m.mean) * (e - m.mean) / static_cast<double>(v.size() - 1);
  return m;
}

TEST(DsmEstimators, UniformLevelEstimatorsAreUnbiasedAndOrderedByVariance) {
  const SigmaSchedule sigmas(10.0, 0.05, 8);
  double J = 0;
  for (double s : sigmas.sigmas()) J += level_loss(s) / static_cast<double>(sigmas.size());
  const int64_t batch = 64, repeats = 3000;  // batch divisible by L: stratified is exactly unbiased
  const Moments r = estimate(LevelSampling::Random, sigmas, batch, repeats);
  const Moments st = estimate(LevelSampling::Stratified, sigmas, batch, repeats);
  const Moments all = estimate(LevelSampling::All, sigmas, batch, repeats);
  for (const auto& [name, m] : {std::pair{"random", r}, {"stratified", st}, {"all", all}})
    EXPECT_NEAR(m.mean, J, 4.0 * std::sqrt(m.var / repeats)) << name << ": mean " << m.mean << ", J " << J;
  EXPECT_LT(all.var, st.var);
  // Stratified removes the between-level variance var_i(l_i) / n: here the ratio to random is
  // mean(l_i^2) / (mean(l_i^2) + var_i(l_i)) = 0.82.
  EXPECT_LT(st.var, 0.9 * r.var);
}

// 64 examples over 7 levels: dealing them from level 0 every time would give level 0 ten examples and the others
// nine, a bias of sum_i (n_i / 64 - 1/7) l_i (about -0.008 here, several standard errors); the random first level
// removes it.
TEST(DsmEstimators, StratifiedIsUnbiasedWhenTheLevelsDoNotDivideTheBatch) {
  const SigmaSchedule sigmas(10.0, 0.05, 7);
  double J = 0, fixed_start = 0;
  for (int64_t i = 0; i < sigmas.size(); ++i) {
    J += level_loss(sigmas.sigma(i)) / 7.0;
    fixed_start += ((i == 0 ? 10.0 : 9.0) / 64.0) * level_loss(sigmas.sigma(i));
  }
  const int64_t repeats = 3000;
  const Moments st = estimate(LevelSampling::Stratified, sigmas, 64, repeats);
  const double se = std::sqrt(st.var / repeats);
  EXPECT_GT(std::abs(fixed_start - J), 3.0 * se) << "the case must be able to show the fixed-start bias";
  EXPECT_NEAR(st.mean, J, 4.0 * se);
}

TEST(DsmEstimators, LogUniformSigmaHasTheAnalyticBiasForTheDiscreteObjective) {
  const SigmaSchedule sigmas(10.0, 0.05, 2);  // two levels: the discrete and the continuous average differ by ~0.1
  double J = 0;
  for (double s : sigmas.sigmas()) J += level_loss(s) / static_cast<double>(sigmas.size());
  // Its expectation: the mean of l over log sigma uniform on [log 0.05, log 10] (midpoint rule, 10^5 cells).
  const double lo = std::log(0.05), hi = std::log(10.0);
  double cont = 0;
  const int64_t cells = 100000;
  for (int64_t k = 0; k < cells; ++k) cont += level_loss(std::exp(lo + (hi - lo) * (k + 0.5) / cells)) / cells;
  const int64_t repeats = 3000;
  const Moments lu = estimate(LevelSampling::LogUniform, sigmas, 64, repeats);
  const double se = std::sqrt(lu.var / repeats);
  EXPECT_GT(std::abs(cont - J), 10 * se) << "the case must separate the two objectives";
  EXPECT_NEAR(lu.mean, cont, 4.0 * se);
  EXPECT_NEAR(lu.mean - J, cont - J, 4.0 * se);  // the bias, as the analysis predicts
}

TEST(DsmEstimators, DefaultIsNcsnsRandomLevelsAndNamesAreChecked) {
  EXPECT_EQ(level_sampling_by_name("random"), LevelSampling::Random);
  EXPECT_EQ(level_sampling_by_name("all"), LevelSampling::All);
  EXPECT_THROW(level_sampling_by_name("uniform"), ConfigError);
}

}  // namespace
}  // namespace scorelab
