// The authors' defaults (issue 16), each against a value computed from the reference definition: the
// transposed convolutions' weight-norm axis, the logit-scale bisection that returns its last midpoint, no clamp
// in stage-2 sampling, quad DDIM with 50 steps, and the Langevin presets. The strict load_state_dict into the
// authors' PyTorch module is tests/apps/authors_state_dict.sh.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <boost/program_options.hpp>
#include <cmath>

#include "core/error.h"
#include "core/runtime.h"
#include "models/discretized_logistic.h"
#include "models/pixelcnnpp.h"
#include "samplers/langevin.h"
#include "samplers/pixelcnn_sampling.h"
#include "samplers/registry.h"

namespace scorelab {
namespace {

// torch.nn.utils.weight_norm(ConvTranspose2d(in, out, k), dim=0): w[i] = g[i] v[i] / ||v[i]|| with the norm
// over (out, kh, kw) for each input channel i, g of shape [in, 1, 1, 1].
TEST(FaithfulDefaults, DeconvWeightNormIsPerInputChannel) {
  torch::manual_seed(1);
  EXPECT_EQ(PixelCNNppConfig{}.deconv_norm, "input");
  const int64_t in = 3, out = 5;
  WNConv2d per_input(in, out, std::array<int64_t, 2>{2, 3}, 2, /*transposed=*/true);
  ASSERT_EQ(per_input->weight_v.sizes(), (std::vector<int64_t>{in, out, 2, 3}));
  EXPECT_EQ(per_input->weight_g.sizes(), (std::vector<int64_t>{in, 1, 1, 1}));
  torch::NoGradGuard ng;
  per_input->weight_g.copy_(torch::rand({in, 1, 1, 1}) + 0.5);
  const at::Tensor v = per_input->weight_v.to(at::kDouble), g = per_input->weight_g.to(at::kDouble);
  const at::Tensor w = per_input->weight().to(at::kDouble);
  for (int64_t i = 0; i < in; ++i) {
    double norm = 0.0;
    for (int64_t o = 0; o < out; ++o)
      for (int64_t a = 0; a < 2; ++a)
        for (int64_t b = 0; b < 3; ++b) norm += std::pow(v[i][o][a][b].item<double>(), 2);
    const at::Tensor expected = v[i] * (g[i][0][0][0].item<double>() / std::sqrt(norm));
    EXPECT_TRUE(torch::allclose(w[i], expected, 1e-6, 1e-7)) << "input channel " << i;
  }
  // The TensorFlow form (deconv_norm "output"): g [1, out, 1, 1], the norm per output channel.
  WNConv2d per_output(in, out, std::array<int64_t, 2>{2, 3}, 2, true, /*per_input=*/false);
  EXPECT_EQ(per_output->weight_g.sizes(), (std::vector<int64_t>{1, out, 1, 1}));
  per_output->weight_g.copy_(torch::rand({1, out, 1, 1}) + 0.5);
  const at::Tensor w2 = per_output->weight();
  const at::Tensor norms = per_output->weight_v.pow(2).sum({0, 2, 3}, true).sqrt();
  EXPECT_TRUE(torch::allclose(w2, per_output->weight_v * per_output->weight_g / norms, 1e-6, 1e-7));
  // The networks: the upsizing layers follow the config.
  PixelCNNppConfig c;
  c.nr_resnet = 1;
  c.nr_filters = 4;
  c.nr_logistic_mix = 2;
  c.input_channels = 1;
  for (const std::string& norm : {"input", "output"}) {
    c.deconv_norm = norm;
    PixelCNNpp net(c);
    for (const auto& p : net->named_parameters())
      if (p.key().find("upsize") != std::string::npos && p.key().find("weight_g") != std::string::npos)
        EXPECT_EQ(p.value().sizes(), norm == "input" ? (std::vector<int64_t>{4, 1, 1, 1}) : (std::vector<int64_t>{1, 4, 1, 1}))
            << p.key();
  }
  c.deconv_norm = "rows";
  EXPECT_THROW(c.validate(), ConfigError);
}

// One logistic component: the authors' binary_search on the logit scale, run here in double from the same u.
// With few iterations the last midpoint and the centre of the final bracket differ by bound / 2^iters.
TEST(FaithfulDefaults, BisectionReturnsTheAuthorsLastMidpoint) {
  const int64_t n = 64;
  const double mu = 0.3, log_s = -1.2;
  // Gray params [N, 3M] with M = 1: logit, mean, log-scale.
  const at::Tensor params = torch::tensor({0.0, mu, log_s}, at::kFloat).view({1, 3}).expand({n, 3}).contiguous();
  BisectionOptions o{30.0, 5, 1e-5};
  at::Generator gen = make_generator(11);
  const at::Tensor x = sample_mix_logistic_bisection(params, 1, gen, o).flatten().to(at::kDouble);
  at::Generator same = make_generator(11);
  const at::Tensor u = at::empty({n, 1, 1}, at::kFloat).uniform_(o.u_min, 1.0 - o.u_min, same).flatten().to(at::kDouble);
  double worst = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double uu = u[i].item<double>(), logit_u = std::log(uu) - std::log1p(-uu);
    double lo = -o.bound, hi = o.bound, mid = 0.0;
    for (int64_t it = 0; it < o.iters; ++it) {
      mid = 0.5 * (lo + hi);
      const double logit_cdf = (mid - mu) / std::exp(log_s);  // logit of a logistic CDF
      if (logit_cdf < logit_u) lo = mid; else hi = mid;
    }
    worst = std::max(worst, std::abs(x[i].item<double>() - mid));
    ASSERT_NE(mid, 0.5 * (lo + hi));  // the two candidates differ, so the check below can fail
  }
  EXPECT_EQ(worst, 0.0);  // dyadic midpoints are exact in float32
  // With the presets' 30 iterations the draw is the exact inverse CDF mu + s logit(u) to float32 rounding.
  at::Generator g2 = make_generator(12), g3 = make_generator(12);
  const at::Tensor x30 = sample_mix_logistic_bisection(params, 1, g2, bisection_mnist()).flatten().to(at::kDouble);
  const at::Tensor u30 = at::empty({n, 1, 1}, at::kFloat).uniform_(1e-5, 1.0 - 1e-5, g3).flatten().to(at::kDouble);
  const at::Tensor exact = mu + std::exp(log_s) * (u30.log() - (-u30).log1p());
  EXPECT_LT((x30 - exact).abs().max().item<double>(), 1e-5);
}

// A stage-2 model p(x | x~) is sampled without clamping by default (the authors' clamp=False); clean-data
// PixelCNN++ still clamps (sample_from_discretized_mix_logistic). Means pushed to +3 make the difference visible.
TEST(FaithfulDefaults, StageTwoDrawsAreNotClampedByDefault) {
  auto run = [](PixelCNNConditioning mode, const std::string& clamp) {
    seed_module_init(5);
    PixelCNNppConfig c;
    c.nr_resnet = 1;
    c.nr_filters = 8;
    c.nr_logistic_mix = 2;
    c.input_channels = 1;
    c.conditioning = mode;
    PixelCNNpp net(c);
    net->eval();
    {
      torch::NoGradGuard ng;
      for (auto& p : net->named_parameters())
        if (p.key() == "nin_out.lin_a.weight_g" || p.key() == "nin_out.lin_a.bias") p.value().zero_();  // w = 0
      for (auto& p : net->named_parameters())
        if (p.key() == "nin_out.lin_a.bias") p.value().slice(0, 2, 4).fill_(3.0);  // means of both components
    }
    PixelCNNSampleOptions o;
    o.clamp = clamp;
    at::Generator gen = make_generator(3);
    const at::Tensor cond = mode == PixelCNNConditioning::kNone ? at::Tensor() : torch::zeros({4, 1, 4, 4});
    return sample_pixelcnnpp(*net, 4, 1, 4, 4, gen, o, cond);
  };
  EXPECT_GT(run(PixelCNNConditioning::kStacked, "auto").max().item<double>(), 2.0);
  EXPECT_LE(run(PixelCNNConditioning::kStacked, "unit").max().item<double>(), 1.0);
  EXPECT_LE(run(PixelCNNConditioning::kStacked, "clean").max().item<double>(), 1.0);  // "auto" before issue 16
  EXPECT_LE(run(PixelCNNConditioning::kNone, "auto").max().item<double>(), 1.0);
  EXPECT_GT(run(PixelCNNConditioning::kNone, "none").max().item<double>(), 2.0);
}

// int(np.linspace(0, np.sqrt(0.8 * 1000), 50) ** 2) has one repeat (0, 0): 49 distinct timesteps.
TEST(FaithfulDefaults, QuadDdimWithFiftyStepsDropsTheRepeat) {
  const std::vector<int64_t> numpy{800, 767, 736, 705, 674, 645, 616, 587, 560, 533, 506, 481, 456, 431, 408, 385, 362,
                                   341, 320, 299, 280, 261, 242, 225, 208, 191, 176, 161, 146, 133, 120, 107, 96,  85,
                                   74,  65,  56,  47,  40,  33,  26,  21,  16,  11,  8,   5,   2,   1,   0};
  EXPECT_EQ(ddim_timesteps(1000, 50, "quad"), numpy);
  const auto hundred = ddim_timesteps(1000, 100, "quad");
  EXPECT_EQ(hundred.size(), 96u);  // numpy: 96 distinct of 100
  for (size_t k = 1; k < hundred.size(); ++k) EXPECT_LT(hundred[k], hundred[k - 1]);
  EXPECT_EQ(hundred.front(), 800);
  EXPECT_EQ(hundred.back(), 0);
}

SamplerConfig parse_sampler(std::vector<const char*> flags) {
  namespace po = boost::program_options;
  SamplerConfig c;
  po::options_description desc;
  c.add_options(desc);
  flags.insert(flags.begin(), "test");
  po::variables_map vm;
  po::store(po::parse_command_line(static_cast<int>(flags.size()), flags.data(), desc), vm);
  po::notify(vm);
  return c;
}

TEST(FaithfulDefaults, LangevinPresetsAreTheReferencesSettings) {
  const SamplerConfig plain = parse_sampler({});
  EXPECT_EQ(plain.step_rule, "ncsn");
  EXPECT_DOUBLE_EQ(plain.step_size, 2e-5);
  const SamplerConfig v2 = parse_sampler({"--langevin-preset", "ncsnv2-cifar10"});  // ncsnv2 configs/cifar10.yml
  EXPECT_DOUBLE_EQ(v2.step_size, 6.2e-6);
  EXPECT_EQ(v2.steps_per_level, 5);
  EXPECT_EQ(v2.step_rule, "ncsnv2");
  EXPECT_TRUE(v2.final_denoise);
  // The released NCSN code: step = step_lr (sigma_i / sigma_L)^2, x += step s + sqrt(2 step) z.
  const SamplerConfig code = parse_sampler({"--langevin-preset", "ncsn-mnist"});
  EXPECT_DOUBLE_EQ(code.step_size, 2e-5);
  EXPECT_EQ(code.steps_per_level, 100);
  const double step = 2e-5 * std::pow(1.0 / 0.01, 2);
  const auto [a, b] = langevin_coefficients(code.step_rule, step);
  EXPECT_DOUBLE_EQ(a, step);
  EXPECT_DOUBLE_EQ(b, std::sqrt(2.0 * step));
  const SamplerConfig paper = parse_sampler({"--langevin-preset", "ncsn-paper"});  // Algorithm 1: alpha/2, sqrt(alpha)
  const auto [pa, pb] = langevin_coefficients(paper.step_rule, step);
  EXPECT_DOUBLE_EQ(pa, step / 2.0);
  EXPECT_DOUBLE_EQ(pb, std::sqrt(step));
  // Explicit flags win, whatever their order on the command line.
  for (const auto& flags : {std::vector<const char*>{"--step-size", "1e-5", "--langevin-preset", "ncsnv2-cifar10"},
                            std::vector<const char*>{"--langevin-preset", "ncsnv2-cifar10", "--step-size", "1e-5"}}) {
    const SamplerConfig c = parse_sampler(flags);
    EXPECT_DOUBLE_EQ(c.step_size, 1e-5);
    EXPECT_EQ(c.steps_per_level, 5);
  }
  EXPECT_EQ(parse_sampler({"--langevin-preset", "ncsnv2-cifar10", "--steps-per-level", "7"}).steps_per_level, 7);
  EXPECT_THROW(parse_sampler({"--langevin-preset", "ncsn3"}).validate(), ConfigError);
  EXPECT_THROW(langevin_preset("ncsn3"), ConfigError);
}

}  // namespace
}  // namespace scorelab
