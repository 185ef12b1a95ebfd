// The benchmark suite behind scripts/bench (issue 5). Each benchmark times one unit of work (a training step, a
// sampler step, a whole sampling run) with the median over timed iterations after warm-up, and prints one line
//   NAME scorelab_ms=X [key=value ...]
// scripts/bench adds the PyTorch eager reference (bench/reference.py) and the ratio. Benchmarks whose reference
// is itself scorelab code (the naive PixelCNN++ sampler) print reference_ms and ratio themselves.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/registry.h"

namespace torch::nn {
class Module;
}

namespace scorelab::bench {

struct BenchOptions {
  int threads = 2;
  int warmup = -1;  // -1: the benchmark's default
  int iters = -1;   // -1: the benchmark's default
  int positions = -1;  // ar-sample-naive / -scaling: naive positions timed (-1: default)
};

// One output line: name, the measured time (ms) and extra fields, printed in order.
struct BenchLine {
  std::string name;
  double ms = 0.0;
  std::vector<std::pair<std::string, std::string>> fields;
  void add(const std::string& key, double value);
  void add(const std::string& key, const std::string& value) { fields.emplace_back(key, value); }
  std::string str() const;
};

using BenchFn = std::function<std::vector<BenchLine>(const BenchOptions&)>;
using BenchRegistry = Registry<BenchFn>;

// Wall time of fn in ms: the median over `iters` calls after `warmup` untimed calls.
double median_ms(const std::function<void()>& fn, int warmup, int iters);
// opt.iters / opt.warmup, or the benchmark's default when not given.
int iters_or(const BenchOptions& opt, int fallback);
int warmup_or(const BenchOptions& opt, int fallback);
int64_t count_params(const torch::nn::Module& module);
// Fixed-precision number for the output lines.
std::string fmt(double value, int precision = 3);

void add_train_benches(BenchRegistry& reg);    // bench/train_benches.cpp
void add_sampler_benches(BenchRegistry& reg);  // bench/sampler_benches.cpp
void add_ar_benches(BenchRegistry& reg);       // bench/ar_benches.cpp

}  // namespace scorelab::bench
