// Classifier guidance (issue 15): the guided model wrapper on score and eps models, the exact classifier gradient of a
// mixture, and the toy methods' --classifier-scale end to end.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <memory>

#include "core/runtime.h"
#include "core/schedule.h"
#include "data/mixture.h"
#include "methods/method_parts.h"
#include "samplers/wrappers.h"

namespace scorelab {
namespace {

using namespace method_parts;

std::shared_ptr<const GaussianMixture> two_overlapping() {
  return std::make_shared<GaussianMixture>(std::vector<double>{0.3, 0.7},
                                           std::vector<std::vector<double>>{{-1.0, 0.0}, {1.0, 0.5}},
                                           std::vector<double>{1.0, 0.6});
}

// Exact score + exact classifier gradient at scale 1 = the labelled component's smoothed score, at every sigma.
TEST(ClassifierGuidance, ExactClassifierTurnsTheMixtureScoreIntoTheComponentScore) {
  const auto mix = two_overlapping();
  auto gen = make_generator(1);
  const at::Tensor x = torch::randn({64, 2}, gen, torch::kFloat64) * 2;
  const at::Tensor y = torch::randint(2, {64}, gen, torch::kLong);
  const ScoreFn grad = exact_classifier_grad(mix, y);
  const at::Tensor mu = mix->means_tensor().index_select(0, y);
  const at::Tensor var = mix->stds_tensor().index_select(0, y).pow(2).unsqueeze(1);
  for (double sigma : {0.0, 0.3, 2.0}) {
    const at::Tensor guided = mix->smoothed(sigma).score(x) + grad(x, sigma);
    const at::Tensor component = -(x - mu) / (var + sigma * sigma);
    EXPECT_LT((guided - component).abs().max().item<double>(), 1e-9) << sigma;
  }
  // And the gradient of log p(y | x) itself: a finite difference of log responsibilities.
  const double h = 1e-5, sigma = 0.3;
  const GaussianMixture sm = mix->smoothed(sigma);
  for (int64_t d = 0; d < 2; ++d) {
    at::Tensor e = torch::zeros({1, 2}, torch::kFloat64);
    e[0][d] = h;
    const at::Tensor lp_plus = sm.responsibilities(x + e).log().gather(1, y.unsqueeze(1)).squeeze(1);
    const at::Tensor lp_minus = sm.responsibilities(x - e).log().gather(1, y.unsqueeze(1)).squeeze(1);
    EXPECT_LT(((lp_plus - lp_minus) / (2 * h) - grad(x, sigma).select(1, d)).abs().max().item<double>(), 1e-6);
  }
}

// On an eps model the guided eps makes the VE score s + scale * grad, and DDPM / DDIM see that eps; scale 0 is the
// unguided model.
TEST(ClassifierGuidance, EpsModelsAreGuidedInTheirVeCoordinates) {
  auto betas = std::make_shared<BetaSchedule>(BetaSchedule::by_name("linear", 50));
  const EpsFn eps = [](const at::Tensor& x, int64_t t) { return torch::tanh(x) * (1.0 + 0.01 * t); };
  const ModelWrapper base = vp_eps_model(eps, betas, "test");
  const ScoreFn grad = [](const at::Tensor& x, double sigma) { return -x / (1.0 + sigma * sigma) + 0.5; };
  const ModelWrapper guided = classifier_guided(base, grad, 2.5);
  auto gen = make_generator(2);
  const at::Tensor x = torch::randn({16, 2}, gen, torch::kFloat64);
  for (int64_t t : {0, 10, 49}) {
    const double sigma = betas->sigma_equivalent(t);
    const at::Tensor want = base.score(x, sigma) + 2.5 * grad(x, sigma);
    EXPECT_LT((guided.score(x, sigma) - want).abs().max().item<double>(), 1e-9) << t;
    // eps' = eps - scale sigma_t grad(x_t / sqrt(abar_t), sigma_t), on the VP state x_t.
    const at::Tensor xt = x * std::sqrt(betas->alpha_bar(t));
    const at::Tensor eps_want = eps(xt, t) - 2.5 * sigma * grad(x, sigma);
    EXPECT_LT((guided.eps(xt, t) - eps_want).abs().max().item<double>(), 1e-9) << t;
  }
  const ModelWrapper same = classifier_guided(base, grad, 0.0);
  EXPECT_TRUE(torch::equal(same.eps(x, 7), base.eps(x, 7)));
  EXPECT_EQ(same.model, base.model);
  // A guided exact model loses its log-density (its density is no longer the mixture's).
  auto sigmas = std::make_shared<SigmaSchedule>(std::vector<double>{1.0, 0.1});
  const ModelWrapper exact = exact_mixture_model(std::const_pointer_cast<GaussianMixture>(two_overlapping()), sigmas, "x");
  EXPECT_TRUE(static_cast<bool>(exact.log_density));
  EXPECT_FALSE(static_cast<bool>(classifier_guided(exact, grad, 1.0).log_density));
}

}  // namespace
}  // namespace scorelab
