#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/runtime.h"
#include "models/mixture_logistic.h"
#include "core/error.h"
#include "models/registry.h"
#include "models/toy_ar.h"

namespace scorelab {
namespace {

TEST(LogisticMixture, ContinuousDensityIntegratesToOne) {
  auto params = torch::tensor({0.3, -0.2, 1.0, -1.0, 0.5, 2.0, -1.5, -0.5, 0.2}, torch::kFloat64);
  auto x = torch::linspace(-40, 40, 400001, torch::kFloat64);
  auto p = logistic_mixture_log_prob(x, params.expand({x.size(0), 9})).exp();
  EXPECT_NEAR((p.sum() * (80.0 / 400000)).item<double>(), 1.0, 1e-6);
}

TEST(LogisticMixture, SamplesFollowTheDensity) {
  // One component: mean 1, scale e^-1; the logistic has variance s^2 pi^2 / 3.
  auto params = torch::tensor({0.0, 1.0, -1.0}, torch::kFloat64).expand({200000, 3});
  auto gen = make_generator(3);
  auto x = logistic_mixture_sample(params, gen);
  EXPECT_NEAR(x.mean().item<double>(), 1.0, 0.01);
  EXPECT_NEAR(x.var().item<double>(), std::exp(-2.0) * M_PI * M_PI / 3, 0.01);
}

// The AR density p(x1) p(x2 | x1) (and p(x | c)) integrates to one over a grid: the normalisation test.
TEST(ToyAR, JointDensityIntegratesToOne) {
  torch::manual_seed(0);
  for (int64_t cond_dim : {0, 2}) {
    ToyARConfig c;
    c.dim = 2;
    c.cond_dim = cond_dim;
    c.hidden = 16;
    c.depth = 2;
    c.mixtures = 3;
    c.scale = 1.5;
    ToyAR model(c);
    model->to(torch::kFloat64);
    torch::NoGradGuard ng;
    const int n = 401;
    const double lo = -30, hi = 30, h = (hi - lo) / (n - 1);
    auto t = torch::linspace(lo, hi, n, torch::kFloat64);
    auto grid = torch::stack(torch::meshgrid({t, t}, "ij"), -1).reshape({-1, 2});
    at::Tensor cond;
    if (cond_dim) cond = torch::tensor({0.4, -0.3}, torch::kFloat64).expand({grid.size(0), 2});
    const double mass = (model->log_prob(grid, cond).exp().sum() * h * h).item<double>();
    EXPECT_NEAR(mass, 1.0, 2e-3) << "cond_dim " << cond_dim;
  }
}

TEST(ToyAR, ScoreMatchesFiniteDifferencesAndDetachedDiffers) {
  torch::manual_seed(1);
  ToyARConfig c;
  c.hidden = 16;
  c.depth = 2;
  c.mixtures = 3;
  ToyAR model(c);
  model->to(torch::kFloat64);
  auto x = torch::tensor({{0.3, -0.2}, {1.1, 0.5}}, torch::kFloat64);
  auto full = model->score(x, {}, false);
  const double h = 1e-6;
  for (int d = 0; d < 2; ++d) {
    auto e = torch::zeros({1, 2}, torch::kFloat64);
    e[0][d] = h;
    torch::NoGradGuard ng;
    auto fd = (model->log_prob(x + e) - model->log_prob(x - e)) / (2 * h);
    EXPECT_TRUE(torch::allclose(full.select(1, d), fd, 1e-5, 1e-7));
  }
  auto detached = model->score(x, {}, true);
  // The last coordinate only enters its own conditional: both gradients agree there; the first differs.
  EXPECT_TRUE(torch::allclose(full.select(1, 1), detached.select(1, 1), 1e-9, 1e-12));
  EXPECT_FALSE(torch::allclose(full.select(1, 0), detached.select(1, 0), 1e-6, 1e-9));
}

TEST(ToyAR, DrawIsDeterministicGivenSeed) {
  torch::manual_seed(2);
  ToyAR model(ToyARConfig{});
  torch::NoGradGuard ng;
  auto x = torch::zeros({5, 2});
  auto a = make_generator(11), b = make_generator(11);
  EXPECT_TRUE(torch::equal(model->draw(x, 0, {}, a), model->draw(x, 0, {}, b)));
}

}  // namespace
}  // namespace scorelab

namespace scorelab {
namespace {

// Contract over every registered model: builds from default arguments, has parameters, and refuses to be
// cast to the wrong kind with a clear error.
TEST(ModelRegistry, EveryModelBuilds) {
  for (const auto& name : model_registry().names()) {
    auto m = model_registry().get(name)(ModelArgs{});
    ASSERT_TRUE(m) << name;
    EXPECT_FALSE(m->parameters().empty()) << name;
  }
  EXPECT_THROW(build_model<ToyARImpl>("score-mlp", ModelArgs{}), ConfigError);
  EXPECT_THROW(model_registry().get("pixelcnn--"), ConfigError);
}

}  // namespace
}  // namespace scorelab
