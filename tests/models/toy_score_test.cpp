// EDM preconditioning of the toy score networks (--precond edm, issue 16's tuned toy comparison).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "core/schedule.h"
#include "models/toy_score.h"

namespace scorelab {
namespace {

void zero_parameters(torch::nn::Module& m) {
  torch::NoGradGuard g;
  for (auto& p : m.parameters()) p.zero_();
}

// With F = 0 the preconditioned score is the score of the data's Gaussian fit smoothed at sigma: for data
// N(m, sigma_d^2 I) that is the exact score -(x - m) / (sigma^2 + sigma_d^2), at every level.
TEST(ToyScorePrecond, EdmScoreWithZeroNetworkIsTheGaussianScore) {
  ToyNetConfig c;
  c.scale = 1.7;
  c.precond = "edm";
  c.centre = {0.5, -2.0};
  ScoreMLP net(c);
  zero_parameters(*net);
  auto x = torch::randn({64, 2});
  auto sigma = torch::exp(torch::linspace(std::log(0.01), std::log(20.0), 64));
  auto want = -(x - torch::tensor({0.5f, -2.0f})) / (sigma * sigma + 1.7 * 1.7).unsqueeze(1);
  EXPECT_TRUE(torch::allclose(net->forward(x, sigma), want, 1e-5, 1e-6));
}

// The network's output enters as sigma_d F / (sigma sqrt(sigma^2 + sigma_d^2)) (EDM's c_out / sigma^2).
TEST(ToyScorePrecond, EdmScoreScalesTheNetworkByCOut) {
  ToyNetConfig c;
  c.scale = 2.0;
  c.precond = "edm";
  ScoreMLP net(c);
  zero_parameters(*net);
  {
    torch::NoGradGuard g;
    net->named_parameters()["net.last.bias"].copy_(torch::tensor({1.0f, -3.0f}));  // F = (1, -3) everywhere
  }
  auto x = torch::zeros({3, 2});
  auto sigma = torch::tensor({0.1f, 1.0f, 10.0f});
  auto f = torch::tensor({1.0f, -3.0f}).unsqueeze(0);
  auto want = f * (2.0 / (sigma * torch::sqrt(sigma * sigma + 4.0))).unsqueeze(1);
  EXPECT_TRUE(torch::allclose(net->forward(x, sigma), want, 1e-5, 1e-6));
}

// eps-mlp with edm: eps = sqrt(1 - abar_t) x_t - sqrt(abar_t) F; with F = 0 that is the exact eps of
// standard-normal data (E[eps | x_t] = sqrt(1 - abar_t) x_t).
TEST(ToyScorePrecond, EdmEpsWithZeroNetworkIsTheStandardNormalEps) {
  const auto betas = BetaSchedule::by_name("linear", 1000);
  ToyNetConfig c;
  c.precond = "edm";
  c.alphas_cumprod = betas.alpha_bars();
  EpsMLP net(c);
  zero_parameters(*net);
  auto x = torch::randn({5, 2});
  auto t = torch::tensor({0, 10, 300, 700, 999}, torch::kLong);
  auto want = x.clone();
  for (int64_t i = 0; i < 5; ++i) want[i] *= std::sqrt(1.0 - betas.alpha_bar(t[i].item<int64_t>()));
  EXPECT_TRUE(torch::allclose(net->forward(x, t), want, 1e-5, 1e-6));
}

TEST(ToyScorePrecond, NoneKeepsThePlainForms) {
  ToyNetConfig c;  // precond none: s = F / sigma, eps = F
  ScoreMLP s(c);
  EpsMLP e(c);
  zero_parameters(*s);
  zero_parameters(*e);
  EXPECT_EQ(s->forward(torch::ones({2, 2}), torch::ones({2})).abs().max().item<float>(), 0.0f);
  EXPECT_EQ(e->forward(torch::ones({2, 2}), torch::zeros({2}, torch::kLong)).abs().max().item<float>(), 0.0f);
  EXPECT_EQ(s->named_buffers().size(), 0u);  // no new state in checkpoints of unpreconditioned models
}

TEST(ToyScorePrecond, BadSettingsAreRefused) {
  ToyNetConfig c;
  c.precond = "karras";
  EXPECT_THROW(ScoreMLP{c}, ConfigError);
  c.precond = "edm";
  EXPECT_THROW(EpsMLP{c}, ConfigError);  // no schedule
  c.centre = {1.0, 2.0, 3.0};
  EXPECT_THROW(ScoreMLP{c}, ConfigError);  // centre of the wrong dimension
}

}  // namespace
}  // namespace scorelab
