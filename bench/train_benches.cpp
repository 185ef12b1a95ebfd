// Training-step benchmarks: forward + loss + backward + Adam step, on fixed random data. The same steps, with
// the same shapes and losses, are in bench/reference.py.
#include <torch/torch.h>

#include "bench.h"
#include "core/runtime.h"
#include "core/schedule.h"
#include "models/discretized_logistic.h"
#include "models/ncsnv2.h"
#include "models/pixelcnnpp.h"
#include "models/toy_score.h"
#include "models/unet.h"
#include "objectives/objective.h"

namespace scorelab::bench {
namespace {

constexpr double kLr = 2e-4;

// Times `loss_fn` followed by backward and an Adam step on `module`'s parameters.
BenchLine time_train_step(const std::string& name, torch::nn::Module& module,
                          const std::function<at::Tensor()>& loss_fn, const BenchOptions& opt, int iters, int warmup) {
  module.train();
  torch::optim::Adam adam(module.parameters(), torch::optim::AdamOptions(kLr));
  auto step = [&] {
    adam.zero_grad();
    loss_fn().backward();
    adam.step();
  };
  BenchLine line;
  line.name = name;
  line.ms = median_ms(step, warmup_or(opt, warmup), iters_or(opt, iters));
  line.add("params", std::to_string(count_params(module)));
  return line;
}

// Data in [-1, 1] from a fixed seed.
at::Tensor fake_images(int64_t n, int64_t c, int64_t s, uint64_t seed) {
  auto gen = make_generator(seed);
  return at::empty({n, c, s, s}).uniform_(-1.0, 1.0, gen);
}

std::vector<BenchLine> pixelcnnpp_train(const BenchOptions& opt) {
  // MNIST preset (Meng et al. stage 1): nr_resnet 5, nr_filters 40, 10 mixtures, gray 28x28, dropout 0.5,
  // batch 80; loss -log p(x~) / dims with x~ = x + 0.5 z (continuous mixture).
  seed_module_init(0);
  PixelCNNpp net(pixelcnnpp_mnist_preset());
  auto x = fake_images(80, 1, 28, 1);
  auto gen = make_generator(2);
  LogProbFn log_prob = [&](const at::Tensor& v, const at::Tensor&) { return mix_logistic_log_prob(v, net->forward(v)); };
  auto line = time_train_step("pixelcnnpp-train", *net, [&] { return smoothed_nll_loss(log_prob, x, 0.5, gen).loss; },
                              opt, 3, 1);
  line.add("batch", "80");
  return {line};
}

std::vector<BenchLine> cond_pixelcnnpp_train(const BenchOptions& opt) {
  // Stage 2 (Meng et al.): p(x | x~) with x~ stacked above x (56x28 input), MNIST preset, batch 50,
  // target dequantized with N(0, 0.01^2).
  seed_module_init(0);
  auto cfg = pixelcnnpp_mnist_preset();
  cfg.conditioning = PixelCNNConditioning::kStacked;
  PixelCNNpp net(cfg);
  auto x = fake_images(50, 1, 28, 1);
  auto gen = make_generator(2);
  LogProbFn log_prob = [&](const at::Tensor& v, const at::Tensor& cond) {
    return mix_logistic_log_prob(v, net->forward(v, cond));
  };
  auto line = time_train_step("cond-pixelcnnpp-train", *net,
                              [&] { return reverse_smoothing_loss(log_prob, x, 0.5, gen, 0.01).loss; }, opt, 3, 1);
  line.add("batch", "50");
  return {line};
}

std::vector<BenchLine> ncsn_train(const BenchOptions& opt) {
  // NCSNv2 "small" preset (ngf 32) on 1x28x28, batch 32, DSM over 10 geometric levels 1 -> 0.01, data in [0, 1].
  seed_module_init(0);
  NCSNv2 net(ncsnv2_preset("small", 1, 28));
  auto x = (fake_images(32, 1, 28, 1) + 1) * 0.5;
  auto gen = make_generator(2);
  SigmaSchedule sigmas(1.0, 0.01, 10);
  ScoreNetFn score = [&](const at::Tensor& v, const at::Tensor& s) { return net->forward(v, s); };
  auto line = time_train_step("ncsn-train", *net, [&] { return dsm_loss(score, x, sigmas, gen).loss; }, opt, 5, 1);
  line.add("batch", "32");
  return {line};
}

std::vector<BenchLine> unet_train(const BenchOptions& opt) {
  // DDPM U-Net "small" preset (ch 32, mult (1,2,2), 1 res block, attention at 14, dropout 0.1) on 1x28x28,
  // batch 32, L_simple with the linear schedule, T = 1000.
  seed_module_init(0);
  UNet net(unet_preset("small", 1, 28));
  auto x = fake_images(32, 1, 28, 1);
  auto gen = make_generator(2);
  auto betas = BetaSchedule::linear(1000);
  EpsNetFn eps = [&](const at::Tensor& v, const at::Tensor& t) { return net->forward(v, t); };
  auto line = time_train_step("unet-train", *net, [&] { return ddpm_loss(eps, x, betas, false, gen).loss; }, opt, 5, 1);
  line.add("batch", "32");
  return {line};
}

std::vector<BenchLine> mlp_dsm_train(const BenchOptions& opt) {
  // Toy ScoreMLP (2-D, hidden 128, depth 3, embedding 32), batch 256, DSM over 10 levels 20 -> 1.
  seed_module_init(0);
  ScoreMLP net(ToyNetConfig{});
  auto gen = make_generator(2);
  auto x = at::normal(0.0, 5.0, {256, 2}, gen);
  SigmaSchedule sigmas(20.0, 1.0, 10);
  ScoreNetFn score = [&](const at::Tensor& v, const at::Tensor& s) { return net->forward(v, s); };
  auto line =
      time_train_step("mlp-dsm-train", *net, [&] { return dsm_loss(score, x, sigmas, gen).loss; }, opt, 200, 20);
  return {line};
}

}  // namespace

void add_train_benches(BenchRegistry& reg) {
  reg.add("pixelcnnpp-train", pixelcnnpp_train, "PixelCNN++ MNIST preset, batch 80, smoothed NLL step + Adam");
  reg.add("cond-pixelcnnpp-train", cond_pixelcnnpp_train, "stacked-conditioning PixelCNN++, batch 50, stage-2 step");
  reg.add("ncsn-train", ncsn_train, "NCSNv2 small (ngf 32) 1x28x28, batch 32, DSM step + Adam");
  reg.add("unet-train", unet_train, "DDPM U-Net small 1x28x28, batch 32, L_simple step + Adam");
  reg.add("mlp-dsm-train", mlp_dsm_train, "toy ScoreMLP, batch 256, DSM step + Adam");
}

}  // namespace scorelab::bench
