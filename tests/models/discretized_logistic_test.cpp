#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/runtime.h"
#include "models/discretized_logistic.h"

namespace scorelab {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

// Random head parameters for `rows` positions: logits ~ N(0, 1), means in [-mean_range, mean_range],
// log-scales in [ls_lo, ls_hi], raw coeffs ~ N(0, 1). Returns [rows, P].
at::Tensor random_params(int64_t rows, int64_t c, int64_t m, at::Generator& gen, double mean_range, double ls_lo,
                         double ls_hi) {
  const int64_t per = c == 1 ? 2 : 3;
  auto logits = torch::randn({rows, m}, gen, kF64);
  auto rest = torch::empty({rows, c, per, m}, kF64);
  rest.select(2, 0).uniform_(-mean_range, mean_range, gen);
  rest.select(2, 1).uniform_(ls_lo, ls_hi, gen);
  if (c == 3) rest.select(2, 2).normal_(0.0, 1.0, gen);
  return torch::cat({logits, rest.reshape({rows, c * per * m})}, 1);
}

at::Tensor pixel_values() { return torch::arange(256, kF64) * (2.0 / 255.0) - 1.0; }

TEST(DiscretizedLogistic, GrayMassOverAll256ValuesIsOne) {
  auto gen = make_generator(1);
  const int64_t rows = 6, m = 4;
  for (double ls_lo : {-4.0, -7.5}) {  // -7.5: clamped to -7, bins far narrower than 2/255 (edge case regime)
    auto params = random_params(rows, 1, m, gen, 1.2, ls_lo, ls_lo + 3.0);
    auto x = pixel_values().repeat({rows}).view({rows * 256, 1, 1, 1});
    auto p = params.repeat_interleave(256, 0).view({rows * 256, 3 * m, 1, 1});
    auto mass = discretized_mix_logistic_log_prob(x, p).exp().view({rows, 256}).sum(1);
    for (int64_t r = 0; r < rows; ++r) EXPECT_NEAR(mass[r].item<double>(), 1.0, 1e-4) << "ls_lo " << ls_lo;
  }
}

TEST(DiscretizedLogistic, EdgeCasesFollowThePublishedFormula) {
  // One component, mean 0.3, log-scale -2: check each branch against the hand-written expression.
  const double mu = 0.3, ls = -2.0, s = std::exp(ls);
  auto params = torch::tensor({0.0, mu, ls}, kF64).view({1, 3, 1, 1});
  auto sig = [](double z) { return 1.0 / (1.0 + std::exp(-z)); };
  auto lp = [&](double x) {
    return discretized_mix_logistic_log_prob(torch::full({1, 1, 1, 1}, x, kF64), params).item<double>();
  };
  EXPECT_NEAR(lp(-1.0), std::log(sig((-1.0 - mu + 1.0 / 255) / s)), 1e-12);
  EXPECT_NEAR(lp(1.0), std::log(1.0 - sig((1.0 - mu - 1.0 / 255) / s)), 1e-12);
  const double x = 0.3 + 2.0 / 255;
  EXPECT_NEAR(lp(x), std::log(sig((x - mu + 1.0 / 255) / s) - sig((x - mu - 1.0 / 255) / s)), 1e-12);
  // A bin far in the tail (mass < 1e-5): log pdf - log(127.5).
  const double far = -0.9, z = (far - mu) / s;
  const double log_pdf = z - ls - 2.0 * std::log1p(std::exp(z));
  ASSERT_LT(sig((far - mu + 1.0 / 255) / s) - sig((far - mu - 1.0 / 255) / s), 1e-5);
  EXPECT_NEAR(lp(far), log_pdf - std::log(127.5), 1e-12);
}

// Summing the RGB joint over all 256^2 values of (G, B) leaves the R marginal, which is the gray formula on
// R's (logits, means, log-scales): this checks the layout and that the coupled G and B conditionals are
// normalised. With the gray test (R's marginal sums to one) the joint sums to one over all 256^3 values;
// the full 16.7M-term sum takes too long for a unit test, so R is checked at an edge and an interior
// value (the G and B sums cover their own edge bins).
TEST(DiscretizedLogistic, RgbJointMarginalisesToR) {
  auto gen = make_generator(2);
  const int64_t m = 2;
  auto params = random_params(1, 3, m, gen, 0.8, -3.0, -1.0);  // [1, 20]
  auto v = pixel_values();
  auto gb = torch::stack(torch::meshgrid({v, v}, "ij"), 0).unsqueeze(0);  // [1, 2, 256, 256]: G, B
  auto p = params.view({1, 10 * m, 1, 1}).expand({1, 10 * m, 256, 256});
  auto r_params = torch::cat({params.slice(1, 0, m), params.slice(1, m, 3 * m)}, 1).view({1, 3 * m, 1, 1});
  for (int64_t r : {0, 160}) {
    auto x = torch::cat({torch::full({1, 1, 256, 256}, v[r].item<double>(), kF64), gb}, 1);
    const double marginal = discretized_mix_logistic_log_prob_pixels(x, p).exp().sum().item<double>();
    const double gray =
        discretized_mix_logistic_log_prob(torch::full({1, 1, 1, 1}, v[r].item<double>(), kF64), r_params)
            .exp()
            .item<double>();
    EXPECT_GT(gray, 1e-6) << "r " << r;
    EXPECT_NEAR(marginal, gray, 1e-4 * gray) << "r " << r;
  }
}

TEST(ContinuousLogistic, GrayDensityIntegratesToOne) {
  auto gen = make_generator(3);
  auto params = random_params(4, 1, 3, gen, 1.0, -2.0, 0.0);
  auto t = torch::linspace(-30, 30, 60001, kF64);
  const double h = 60.0 / 60000;
  for (int64_t r = 0; r < 4; ++r) {
    auto p = params[r].view({1, 9, 1, 1}).expand({1, 9, 1, t.size(0)});
    auto dens = mix_logistic_log_prob_pixels(t.view({1, 1, 1, -1}), p).exp();
    EXPECT_NEAR((dens.sum() * h).item<double>(), 1.0, 1e-8);
  }
}

// Integrating the RGB density over (G, B) on a grid gives the R marginal (the 1-D mixture on R's parameters),
// and that integrates to one: together the joint integrates to one.
TEST(ContinuousLogistic, RgbDensityMatchesNumericIntegral) {
  auto gen = make_generator(4);
  const int64_t m = 3;
  auto params = random_params(1, 3, m, gen, 0.5, -1.2, -0.5);
  // Scales >= e^-1.2 = 0.3 and spacing 0.15: the Riemann sum of a smooth, fast-decaying density is accurate
  // far beyond the tolerance (error ~ exp(-2 pi^2 s / h)).
  const int64_t n = 161;
  const double lo = -12, hi = 12, h = (hi - lo) / (n - 1);
  auto t = torch::linspace(lo, hi, n, kF64);
  auto gb = torch::stack(torch::meshgrid({t, t}, "ij"), 0).unsqueeze(0);
  auto p = params.view({1, 10 * m, 1, 1}).expand({1, 10 * m, n, n});
  auto r_params = torch::cat({params.slice(1, 0, m), params.slice(1, m, 3 * m)}, 1).view({1, 3 * m, 1, 1});
  for (double r : {-1.3, 0.4, 2.0}) {
    auto x = torch::cat({torch::full({1, 1, n, n}, r, kF64), gb}, 1);
    const double integral = (mix_logistic_log_prob_pixels(x, p).exp().sum() * h * h).item<double>();
    const double marginal = mix_logistic_log_prob(torch::full({1, 1, 1, 1}, r, kF64), r_params).exp().item<double>();
    EXPECT_NEAR(integral, marginal, 1e-7) << "r " << r;
  }
}

TEST(BitsPerDim, UniformIsEightBits) {
  EXPECT_NEAR(bits_per_dim(3 * 32 * 32 * std::log(1.0 / 256), 3 * 32 * 32), 8.0, 1e-12);
  EXPECT_NEAR(bits_per_dim(torch::full({2}, 784 * std::log(1.0 / 256), kF64), 784)[1].item<double>(), 8.0, 1e-12);
}

// A flat model in the head's own format: 256 equally weighted components at the bin centres with the
// minimum scale. Each pixel value then gets mass 1/256 (the components' bin masses telescope), so any image
// scores 8 bits/dim. (Gray only: in the RGB layout the three channels share the component index, so the
// same construction puts its mass on R = G = B.)
TEST(BitsPerDim, FlatMixtureScoresEightBitsPerDim) {
  auto gen = make_generator(5);
  const int64_t m = 256;
  auto head = torch::cat({torch::zeros({m}, kF64), pixel_values(), torch::full({m}, -7.0, kF64)});
  auto params = head.view({1, 3 * m, 1, 1}).expand({3, 3 * m, 4, 4});
  auto x = torch::randint(0, 256, {3, 1, 4, 4}, gen, kF64) * (2.0 / 255.0) - 1.0;
  x[0].fill_(-1.0);  // the edge bins too
  x[1].fill_(1.0);
  auto bpd = bits_per_dim(discretized_mix_logistic_log_prob(x, params), 16);
  for (int64_t i = 0; i < 3; ++i) EXPECT_NEAR(bpd[i].item<double>(), 8.0, 1e-4) << i;
}

TEST(LogisticSamplers, GumbelSamplerMatchesMomentsAndCoupling) {
  // One component per channel; raw coeffs atanh(0.5), atanh(-0.4), atanh(0.3).
  const double c0 = 0.5, c1 = -0.4, c2 = 0.3;
  auto params = torch::tensor({0.0,                      // logit
                               0.2, -3.0, std::atanh(c0),   // R: mean, log-scale, coeff
                               -0.1, -3.0, std::atanh(c1),  // G
                               0.05, -3.0, std::atanh(c2)}, // B
                              kF64);
  auto gen = make_generator(6);
  const int64_t n = 40000;
  for (bool discretized : {true, false}) {
    auto x = discretized ? sample_from_discretized_mix_logistic(params.expand({n, 10}), 3, gen)
                         : sample_from_mix_logistic(params.expand({n, 10}), 3, gen);
    ASSERT_EQ(x.sizes(), (std::vector<int64_t>{n, 3}));
    auto mean = x.mean(0);
    const double r = 0.2, g = -0.1 + c0 * r, b = 0.05 + c1 * r + c2 * g;
    EXPECT_NEAR(mean[0].item<double>(), r, 3e-3);
    EXPECT_NEAR(mean[1].item<double>(), g, 3e-3);
    EXPECT_NEAR(mean[2].item<double>(), b, 3e-3);
    EXPECT_NEAR(x.select(1, 0).var().item<double>(), std::exp(-6.0) * M_PI * M_PI / 3, 3e-4);
  }
  // Clamping: a component centred at 1 puts about half its draws at exactly 1.
  auto edge = torch::tensor({0.0, 1.0, -3.0}, kF64).expand({n, 3});
  auto y = sample_from_discretized_mix_logistic(edge, 1, gen);
  EXPECT_LE(y.max().item<double>(), 1.0);
  EXPECT_NEAR((y == 1.0).to(torch::kFloat64).mean().item<double>(), 0.5, 0.01);
}

// Both samplers of the continuous mixture draw from the same distribution: the empirical CDF of R matches
// the mixture CDF, and G's conditional (posterior weights in the bisection sampler) has the same moments.
TEST(LogisticSamplers, BisectionMatchesMixtureCdfAndGumbelSampler) {
  auto gen = make_generator(7);
  const int64_t m = 3, n = 30000;
  auto params = random_params(1, 3, m, gen, 0.8, -2.0, -1.0);
  auto a = sample_mix_logistic_bisection(params.expand({n, 10 * m}), 3, gen, bisection_cifar10());
  auto b = sample_from_mix_logistic(params.expand({n, 10 * m}), 3, gen);
  auto w = torch::softmax(params.slice(1, 0, m), 1)[0];
  auto means = params.slice(1, m, 2 * m)[0];
  auto scales = params.slice(1, 2 * m, 3 * m)[0].exp();
  for (double q : {-1.0, -0.3, 0.0, 0.5, 1.2}) {
    const double cdf = (w * torch::sigmoid((q - means) / scales)).sum().item<double>();
    const double emp = (a.select(1, 0) <= q).to(torch::kFloat64).mean().item<double>();
    EXPECT_NEAR(emp, cdf, 0.012) << "q " << q;
  }
  for (int64_t ch = 1; ch < 3; ++ch) {
    EXPECT_NEAR(a.select(1, ch).mean().item<double>(), b.select(1, ch).mean().item<double>(), 0.02) << ch;
    EXPECT_NEAR(a.select(1, ch).std().item<double>(), b.select(1, ch).std().item<double>(), 0.02) << ch;
  }
  // Image-shaped calls keep the layout; gray works too.
  auto img = sample_mix_logistic_bisection(torch::zeros({2, 3 * m, 4, 4}, kF64), 1, gen, bisection_mnist());
  EXPECT_EQ(img.sizes(), (std::vector<int64_t>{2, 1, 4, 4}));
  EXPECT_LT(img.abs().max().item<double>(), 30.0);
}

}  // namespace
}  // namespace scorelab
