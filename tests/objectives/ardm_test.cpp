// Order-agnostic ARDM (issue 15) with an exact model: the conditionals of a small discrete joint distribution,
// computed by enumeration. Its bound at any ordering is the exact NLL (the chain rule), the training objective
// and the stratified estimate are unbiased for it, and the any-order sampler draws from the joint (one variable per
// step), from the product of the conditionals (one step), and from p(unknown | known) when inpainting.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "core/runtime.h"
#include "models/ardm_net.h"
#include "objectives/ardm.h"
#include "objectives/objective.h"
#include "samplers/ardm.h"

namespace scorelab {
namespace {

constexpr int64_t kD = 3, kK = 3, kStates = 27;

// A random joint pmf over {0, 1, 2}^3 with strong dependence, and every state's digits.
struct Joint {
  at::Tensor p;       // [27] float64
  at::Tensor states;  // [27, 3] int64
};

Joint make_joint(uint64_t seed) {
  auto gen = make_generator(seed);
  Joint j;
  j.p = torch::rand({kStates}, gen, torch::kFloat64).pow(4) + 1e-3;
  j.p /= j.p.sum();
  j.states = torch::empty({kStates, kD}, torch::kLong);
  for (int64_t s = 0; s < kStates; ++s)
    for (int64_t d = 0, v = s; d < kD; ++d, v /= kK) j.states[s][d] = v % kK;
  return j;
}

// The exact conditionals p(x_k = v | x_known) for every k (log, [N, D, K]).
ArdmNet exact_net(const Joint& j) {
  // onehot[s, d * K + v] = [state s has x_d = v].
  const at::Tensor onehot = torch::one_hot(j.states, kK).reshape({kStates, kD * kK}).to(torch::kFloat64);
  return [j, onehot](const at::Tensor& x, const at::Tensor& known) {
    // consistent[r, s]: state s agrees with row r on every known variable.
    const at::Tensor agree = (j.states.unsqueeze(0) == x.unsqueeze(1)) | ~known.unsqueeze(1);  // [N, 27, D]
    const at::Tensor w = agree.all(2).to(torch::kFloat64) * j.p;                                // [N, 27]
    const at::Tensor out = w.matmul(onehot).reshape({x.size(0), kD, kK});
    return (out / out.sum(-1, true)).log();
  };
}

at::Tensor exact_log_p(const Joint& j, const at::Tensor& x) {  // [N]
  const at::Tensor idx = x.select(1, 0) + kK * x.select(1, 1) + kK * kK * x.select(1, 2);
  return j.p.index_select(0, idx).log();
}

TEST(Ardm, BoundAtAnyOrderingIsTheExactNllForAnExactModel) {
  const Joint j = make_joint(1);
  auto gen = make_generator(2);
  const at::Tensor x = j.states;  // every state once
  for (int trial = 0; trial < 3; ++trial) {
    const at::Tensor ranks = ardm_random_ranks(kStates, kD, gen, j.p);
    const at::Tensor got = ardm_log_prob_ordered(exact_net(j), x, ranks);
    EXPECT_LT((got - exact_log_p(j, x)).abs().max().item<double>(), 1e-10) << trial;
  }
  // The ranks are permutations of 0..D-1.
  const at::Tensor ranks = ardm_random_ranks(100, 5, gen, j.p);
  EXPECT_TRUE(torch::equal(std::get<0>(ranks.sort(1)), torch::arange(5).expand({100, 5})));
}

// E_{t, sigma}[L_t] = -log p(x): the training objective (per dimension) and the stratified estimate are unbiased.
TEST(Ardm, ObjectiveAndStratifiedEstimateAreUnbiasedForTheExactNll) {
  const Joint j = make_joint(3);
  const int64_t reps = 4000;
  for (int64_t s : {0, 13, 26}) {
    const at::Tensor x = j.states[s].unsqueeze(0).expand({reps, kD}).contiguous();
    const double want = -exact_log_p(j, x.slice(0, 0, 1)).item<double>();
    auto gen = make_generator(10 + s);
    const LossOutput l = ardm_loss(exact_net(j), x, gen);
    const at::Tensor per = l.per_example * static_cast<double>(kD);
    const double se = per.std().item<double>() / std::sqrt(static_cast<double>(reps));
    EXPECT_NEAR(per.mean().item<double>(), want, 4 * se + 1e-9) << "state " << s << " se " << se;
    EXPECT_NEAR(l.loss.item<double>() * kD, want, 4 * se + 1e-9);
    for (int64_t terms : {1, 2, 3}) {
      const at::Tensor est = -ardm_elbo_estimate(exact_net(j), x, terms, gen);
      const double se2 = est.std().item<double>() / std::sqrt(static_cast<double>(reps));
      EXPECT_NEAR(est.mean().item<double>(), want, 4 * se2 + 1e-9) << "state " << s << " terms " << terms;
    }
  }
  // The objective through the registry, with a discretisation of the batch.
  ObjectiveArgs a;
  a.ardm_logits = exact_net(j);
  a.discretize = [](const at::Tensor& v) { return v.to(torch::kLong); };
  auto gen = make_generator(4);
  const LossOutput l = objective_registry().get("ardm")(a)->loss(j.states.to(torch::kFloat32), gen);
  EXPECT_EQ(l.per_example.size(0), kStates);
}

double tv(const at::Tensor& samples, const at::Tensor& p, const Joint& j) {
  const at::Tensor idx = samples.select(1, 0) + kK * samples.select(1, 1) + kK * kK * samples.select(1, 2);
  const at::Tensor freq = torch::bincount(idx, {}, kStates).to(torch::kFloat64) / static_cast<double>(samples.size(0));
  return 0.5 * (freq - p).abs().sum().item<double>();
}

TEST(Ardm, AnyOrderSamplerDrawsTheJointAndParallelDecodingTheProductOfMarginals) {
  const Joint j = make_joint(5);
  auto gen = make_generator(6);
  const int64_t n = 20000;
  const ArdmSampleResult one = ardm_sample(exact_net(j), n, kD, kK, 0, gen, torch::TensorOptions());
  EXPECT_EQ(one.nfe, kD);
  EXPECT_LT(tv(one.x, j.p, j), 0.03);
  // One step: every variable from its marginal, independently.
  at::Tensor product = torch::ones({kStates}, torch::kFloat64);
  for (int64_t d = 0; d < kD; ++d) {
    at::Tensor marginal = torch::zeros({kK}, torch::kFloat64);
    marginal.index_add_(0, j.states.select(1, d), j.p);
    product *= marginal.index_select(0, j.states.select(1, d));
  }
  const double dependence = 0.5 * (product - j.p).abs().sum().item<double>();
  ASSERT_GT(dependence, 0.1);  // the joint is far from the product: the test can tell them apart
  const ArdmSampleResult par = ardm_sample(exact_net(j), n, kD, kK, 1, gen, torch::TensorOptions());
  EXPECT_EQ(par.nfe, 1);
  EXPECT_LT(tv(par.x, product, j), 0.03);
  EXPECT_GT(tv(par.x, j.p, j), dependence - 0.03);
}

TEST(Ardm, InpaintingKeepsTheKnownVariablesAndDrawsTheConditional) {
  const Joint j = make_joint(7);
  auto gen = make_generator(8);
  const int64_t n = 20000;
  // Variable 1 (the middle one, not a prefix in raster order) known = 2.
  at::Tensor x0 = torch::zeros({n, kD}, torch::kLong);
  x0.select(1, 1).fill_(2);
  at::Tensor known = torch::zeros({n, kD}, torch::kBool);
  known.select(1, 1).fill_(true);
  const ArdmSampleResult r = ardm_sample(exact_net(j), n, kD, kK, 0, gen, torch::TensorOptions(), x0, known);
  EXPECT_TRUE((r.x.select(1, 1) == 2).all().item<bool>());
  EXPECT_EQ(r.nfe, kD - 1);
  const at::Tensor cond = j.p * (j.states.select(1, 1) == 2).to(torch::kFloat64);
  EXPECT_LT(tv(r.x, cond / cond.sum(), j), 0.03);
}

// The image network's output [N, C * K, H, W] becomes logits [N, D, K] in the order of x.flatten(1): a fake output that
// encodes (c, k, h, w) in its values lands where each variable's category k is expected.
TEST(Ardm, ImageLogitsFollowThePixelOrderOfFlatten) {
  const int64_t n = 2, c = 3, k = 4, h = 2, w = 5;
  at::Tensor out = torch::empty({n, c * k, h, w});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t cat = 0; cat < k; ++cat)
        for (int64_t y = 0; y < h; ++y)
          for (int64_t x = 0; x < w; ++x) out[i][ch * k + cat][y][x] = 1000 * i + 100 * ch + 10 * y + x + 0.01 * cat;
  const at::Tensor logits = ardm_image_logits(out, c, k);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{n, c * h * w, k}));
  const at::Tensor pixel = torch::arange(n * c * h * w).reshape({n, c, h, w}).flatten(1);  // flatten's order
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < c * h * w; ++d) {
      const int64_t idx = pixel[i][d].item<int64_t>() - i * c * h * w;
      const int64_t ch = idx / (h * w), y = (idx / w) % h, x = idx % w;
      for (int64_t cat = 0; cat < k; ++cat)
        EXPECT_NEAR(logits[i][d][cat].item<double>(), 1000 * i + 100 * ch + 10 * y + x + 0.01 * cat, 1e-3);
    }
}

}  // namespace
}  // namespace scorelab
