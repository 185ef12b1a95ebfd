// scorelab_bench [NAME...] [--threads N] [--precision fp32|bf16] [--iters N] [--warmup N] [--positions N] [--list]
// Runs the named benchmarks (all when none is named); see bench/bench.h and scripts/bench.
#include <torch/torch.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <malloc.h>
#include <sstream>

#include "bench.h"
#include "core/cli.h"
#include "core/precision.h"
#include "core/runtime.h"

namespace scorelab::bench {

void BenchLine::add(const std::string& key, double value) { fields.emplace_back(key, fmt(value)); }

std::string BenchLine::str() const {
  std::string out = name + " scorelab_ms=" + fmt(ms);
  for (const auto& [k, v] : fields) out += " " + k + "=" + v;
  return out;
}

double median_ms(const std::function<void()>& fn, int warmup, int iters) {
  TORCH_CHECK(iters >= 1 && warmup >= 0, "median_ms: needs iters >= 1 and warmup >= 0");
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  return n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
}

int iters_or(const BenchOptions& opt, int fallback) { return opt.iters > 0 ? opt.iters : fallback; }
int warmup_or(const BenchOptions& opt, int fallback) { return opt.warmup >= 0 ? opt.warmup : fallback; }

int64_t count_params(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

std::string fmt(double value, int precision) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(precision) << value;
  return s.str();
}

}  // namespace scorelab::bench

int main(int argc, char** argv) {
  return scorelab::run_main("scorelab_bench", [&] {
    namespace po = boost::program_options;
    using namespace scorelab::bench;
    BenchRegistry reg("benchmark");
    add_train_benches(reg);
    add_sampler_benches(reg);
    add_ar_benches(reg);

    BenchOptions opt;
    std::vector<std::string> names;
    bool list = false;
    bool malloc_tuning = true;
    std::string precision = "fp32";
    po::options_description desc;
    desc.add_options()
        ("names", po::value(&names)->multitoken(), "benchmarks to run (default: all)")
        ("threads", po::value(&opt.threads)->default_value(opt.threads), "LibTorch intra-op threads")
        ("iters", po::value(&opt.iters)->default_value(opt.iters), "timed iterations (-1: per-benchmark default)")
        ("warmup", po::value(&opt.warmup)->default_value(opt.warmup), "untimed warm-up iterations (-1: default)")
        ("positions", po::value(&opt.positions)->default_value(opt.positions),
         "naive PixelCNN++ sampler: raster positions timed, then extrapolated (-1: default)")
        ("malloc-tuning", po::value(&malloc_tuning)->default_value(malloc_tuning),
         "keep freed memory in the heap (glibc mallopt) instead of returning it to the OS after every step")
        ("precision", po::value(&precision)->default_value(precision),
         "fp32 | bf16 (the networks under bf16 autocast, as --precision in the apps; refused where the CPU lacks bf16)")
        ("list", po::bool_switch(&list), "print the benchmark names and exit");
    po::positional_options_description pos;
    pos.add("names", -1);
    po::variables_map vm;
    try {
      po::store(po::command_line_parser(argc, argv).options(desc).positional(pos).run(), vm);
      po::notify(vm);
    } catch (const po::error& e) {
      throw scorelab::ConfigError(std::string("scorelab_bench: ") + e.what());
    }
    if (list) {
      for (const auto& n : reg.names()) std::cout << n << "  " << reg.help(n) << "\n";
      return 0;
    }
    if (opt.threads < 1)
      throw scorelab::ConfigError(scorelab::flag_error("--threads", std::to_string(opt.threads), "a count >= 1"));
    if (names.empty()) names = reg.names();
    for (const auto& n : names) reg.get(n);  // unknown names fail before anything runs
    if (malloc_tuning) {
      // Without this, glibc returns the freed activations of every step to the OS (heap trimming, and mmap for
      // blocks >= 128 KiB) and the next step page-faults them back in: 5x slower small steps (mlp-dsm-train) on
      // this machine. A Python process keeps its heap pinned by live objects, so it rarely pays this.
      mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum: blocks up to 32 MiB come from the heap
      mallopt(M_TRIM_THRESHOLD, 1 << 30);
    }
    scorelab::set_threads(opt.threads);
    // A bench must measure what it names: no silent fp32 fallback.
    if (scorelab::set_precision(precision, c10::Device(c10::kCPU), /*quiet=*/true) !=
        (precision == "bf16" ? scorelab::Precision::kBFloat16 : scorelab::Precision::kFloat32))
      throw scorelab::ConfigError("flag --precision: got 'bf16', but this CPU has neither AVX512-BF16 nor AMX-BF16");
    for (const auto& n : names)
      for (const auto& line : reg.get(n)(opt))
        std::cout << line.str() << " threads=" << opt.threads << " precision=" << precision << std::endl;
    return 0;
  });
}
