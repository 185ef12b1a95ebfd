// Sampler benchmarks: one annealed Langevin step on NCSNv2, one DDIM step on the U-Net (the same steps are in
// bench/reference.py), and the share of whole sampling runs spent in the network's forward.
#include <torch/torch.h>

#include <chrono>

#include "bench.h"
#include "core/runtime.h"
#include "core/schedule.h"
#include "models/ncsnv2.h"
#include "models/unet.h"
#include "samplers/ddpm.h"
#include "samplers/langevin.h"

namespace scorelab::bench {
namespace {

constexpr int64_t kBatch = 16;
constexpr int64_t kOverheadBatch = 8;  // a small batch: the per-step overhead weighs more

NCSNv2 small_ncsn() {
  seed_module_init(0);
  NCSNv2 net(ncsnv2_preset("small", 1, 28));
  net->eval();
  return net;
}

UNet small_unet() {
  seed_module_init(0);
  UNet net(unet_preset("small", 1, 28));
  net->eval();
  return net;
}

ScoreFn ncsn_score(NCSNv2 net) {
  return [net](const at::Tensor& x, double sigma) mutable { return net->forward(x, torch::full({1}, sigma)); };
}

EpsFn unet_eps(UNet net) {
  return [net](const at::Tensor& x, int64_t t) mutable { return net->forward(x, torch::full({1}, t, torch::kLong)); };
}

SamplerConfig langevin_config(int64_t steps_per_level) {
  SamplerConfig c;
  c.steps_per_level = steps_per_level;
  c.step_size = 2e-5;
  return c;
}

// Median time of the sampler's first step on a batch of kBatch 28x28 images, with the network's parameter count.
BenchLine time_first_step(const std::string& name, const Sampler& sampler, const torch::nn::Module& net,
                          const BenchOptions& opt) {
  auto gen = make_generator(1);
  torch::NoGradGuard ng;
  auto x = sampler.init(kBatch, {1, 28, 28}, gen);
  BenchLine line;
  line.name = name;
  line.ms = median_ms([&] { x = sampler.step(x, 0, gen).x; }, warmup_or(opt, 2), iters_or(opt, 10));
  line.add("params", std::to_string(count_params(net)));
  return line;
}

std::vector<BenchLine> langevin_step(const BenchOptions& opt) {
  // One annealed Langevin step (NCSN Alg. 1) at the first of 10 levels 1 -> 0.01: NCSNv2 small forward + update.
  auto net = small_ncsn();
  AnnealedLangevinSampler sampler(ncsn_score(net), SigmaSchedule(1.0, 0.01, 10), langevin_config(100));
  return {time_first_step("langevin-step", sampler, *net, opt)};
}

std::vector<BenchLine> ddim_step(const BenchOptions& opt) {
  // One DDIM step (eta 0, 50 uniform steps of T = 1000): U-Net small forward + update.
  auto net = small_unet();
  SamplerConfig cfg;
  cfg.ddim_steps = 50;
  DdimSampler sampler(unet_eps(net), BetaSchedule::linear(1000), cfg);
  return {time_first_step("ddim-step", sampler, *net, opt)};
}

// A whole run_sampler with the network's forward timed inside the model function.
template <typename Fn>
BenchLine overhead_line(const std::string& name, const std::function<std::unique_ptr<Sampler>(Fn)>& make, Fn inner) {
  double forward_ms = 0.0;
  int64_t calls = 0;
  Fn timed = [&](const at::Tensor& x, auto level) {
    const auto t0 = std::chrono::steady_clock::now();
    at::Tensor out = inner(x, level);
    forward_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ++calls;
    return out;
  };
  auto sampler = make(timed);
  auto gen = make_generator(3);
  run_sampler(*sampler, 2, {1, 28, 28}, gen);  // warm-up
  forward_ms = 0.0;
  calls = 0;
  const auto t0 = std::chrono::steady_clock::now();
  run_sampler(*sampler, kOverheadBatch, {1, 28, 28}, gen);
  const double total = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  BenchLine line;
  line.name = name;
  line.ms = total;
  line.add("forward_fraction", forward_ms / total);
  line.add("forward_calls", std::to_string(calls));
  line.add("overhead_ms_per_step", (total - forward_ms) / static_cast<double>(std::max<int64_t>(calls, 1)));
  return line;
}

std::vector<BenchLine> sampler_overhead(const BenchOptions&) {
  std::vector<BenchLine> lines;
  // Annealed Langevin: 3 levels x 3 steps + final denoising on NCSNv2 small.
  auto ncsn = small_ncsn();
  auto cfg = langevin_config(3);
  cfg.final_denoise = true;
  SigmaSchedule sigmas(1.0, 0.01, 3);
  lines.push_back(overhead_line<ScoreFn>(
      "sampler-overhead-annealed-langevin",
      [&](ScoreFn f) { return std::make_unique<AnnealedLangevinSampler>(f, sigmas, cfg); }, ncsn_score(ncsn)));
  // DDPM ancestral sampling over a 10-step linear schedule; DDIM 10 steps of T = 1000; U-Net small.
  auto unet = small_unet();
  auto short_betas = BetaSchedule::by_name("linear", 10);
  auto betas = BetaSchedule::linear(1000);
  SamplerConfig dcfg;
  dcfg.ddim_steps = 10;
  lines.push_back(overhead_line<EpsFn>(
      "sampler-overhead-ddpm", [&](EpsFn f) { return std::make_unique<DdpmSampler>(f, short_betas, dcfg); },
      unet_eps(unet)));
  lines.push_back(overhead_line<EpsFn>(
      "sampler-overhead-ddim", [&](EpsFn f) { return std::make_unique<DdimSampler>(f, betas, dcfg); }, unet_eps(unet)));
  return lines;
}

}  // namespace

void add_sampler_benches(BenchRegistry& reg) {
  reg.add("langevin-step", langevin_step, "one annealed Langevin step: NCSNv2 small forward (batch 16) + update");
  reg.add("ddim-step", ddim_step, "one DDIM step: U-Net small forward (batch 16) + update");
  reg.add("sampler-overhead", sampler_overhead,
          "share of annealed-Langevin / DDPM / DDIM sampling time spent in the network forward (batch 8)");
}

}  // namespace scorelab::bench
