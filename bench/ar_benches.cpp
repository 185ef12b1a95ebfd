// PixelCNN++ sampling benchmarks: the naive sampler (one full forward per pixel, the authors' way) against the
// cached sampler (models/pixelcnnpp_cache.h), MNIST preset, batch 16. The naive sampler takes minutes for a
// whole 28x28 image, so it is timed on its first `positions` raster positions and extrapolated linearly to
// all H*W positions (every naive step is the same full forward plus one draw, so its cost does not depend on
// the position). The cached sampler is timed on whole images. The reference of ar-sample-cached is the naive
// sampler: ratio = speed-up.
#include <torch/torch.h>

#include <chrono>
#include <map>

#include "bench.h"
#include "core/runtime.h"
#include "models/pixelcnnpp.h"
#include "samplers/pixelcnn_sampling.h"

namespace scorelab::bench {
namespace {

constexpr int64_t kBatch = 16;
constexpr int kDefaultPositions = 10;

double elapsed_ms(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

PixelCNNpp& mnist_model() {
  static PixelCNNpp net = [] {
    seed_module_init(0);
    PixelCNNpp m(pixelcnnpp_mnist_preset());
    m->eval();
    return m;
  }();
  return net;
}

PixelCNNSampleOptions sample_options(bool cached) {
  PixelCNNSampleOptions o;
  o.continuous = true;  // stage 1 of distribution smoothing; Meng et al.'s bisection draw (MNIST settings)
  o.cached = cached;
  return o;
}

struct NaiveTiming {
  double ms_per_position = 0.0;
  int64_t timed = 0;
};

// Naive sampler: the mean time of one raster step over the first `positions` steps (after one warm-up step).
NaiveTiming naive_timing(int64_t size, const BenchOptions& opt) {
  static std::map<int64_t, NaiveTiming> memo;  // ar-sample-naive, -cached and -scaling share the measurement
  if (memo.count(size)) return memo[size];
  auto& net = mnist_model();
  PixelCNNSampler sampler(*net, 1, size, size, sample_options(false));
  auto gen = make_generator(1);
  torch::NoGradGuard ng;
  auto x = sampler.init(kBatch, {1, size, size}, gen);
  const int64_t k = std::min<int64_t>(opt.positions > 0 ? opt.positions : kDefaultPositions, size * size - 1);
  x = sampler.step(x, 0, gen).x;  // warm-up
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 1; i <= k; ++i) x = sampler.step(x, i, gen).x;
  NaiveTiming t{elapsed_ms(t0) / static_cast<double>(k), k};
  memo[size] = t;
  return t;
}

// Cached sampler: whole images, the median over iters runs (after a warm-up run on a smaller batch).
double cached_ms(int64_t size, const BenchOptions& opt) {
  static std::map<int64_t, double> memo;
  if (memo.count(size)) return memo[size];
  auto& net = mnist_model();
  auto gen = make_generator(1);
  sample_pixelcnnpp(*net, 2, 1, size, size, gen, sample_options(true));
  const double ms = median_ms([&] { sample_pixelcnnpp(*net, kBatch, 1, size, size, gen, sample_options(true)); },
                             0, iters_or(opt, 1));
  memo[size] = ms;
  return ms;
}

std::vector<BenchLine> ar_sample_naive(const BenchOptions& opt) {
  const auto t = naive_timing(28, opt);
  BenchLine line;
  line.name = "ar-sample-naive";
  line.ms = t.ms_per_position * 28 * 28;
  line.add("ms_per_position", t.ms_per_position);
  line.add("positions_timed", std::to_string(t.timed));
  line.add("extrapolated_to", "784");
  line.add("batch", std::to_string(kBatch));
  return {line};
}

std::vector<BenchLine> ar_sample_cached(const BenchOptions& opt) {
  const double cached = cached_ms(28, opt);
  const double naive = naive_timing(28, opt).ms_per_position * 28 * 28;
  BenchLine line;
  line.name = "ar-sample-cached";
  line.ms = cached;
  line.add("reference_ms", naive);
  line.add("ratio", naive / cached);
  line.add("reference", "naive-extrapolated");
  line.add("batch", std::to_string(kBatch));
  return {line};
}

std::vector<BenchLine> ar_sample_scaling(const BenchOptions& opt) {
  std::vector<BenchLine> lines;
  for (int64_t size : {8, 16, 28}) {
    const double cached = cached_ms(size, opt);
    const auto t = naive_timing(size, opt);
    const double naive = t.ms_per_position * static_cast<double>(size * size);
    BenchLine line;
    line.name = "ar-sample-scaling";
    line.ms = cached;
    line.add("reference_ms", naive);
    line.add("ratio", naive / cached);
    line.add("size", std::to_string(size));
    line.add("naive_positions_timed", std::to_string(t.timed));
    line.add("batch", std::to_string(kBatch));
    lines.push_back(line);
  }
  return lines;
}

}  // namespace

void add_ar_benches(BenchRegistry& reg) {
  reg.add("ar-sample-naive", ar_sample_naive,
          "naive PixelCNN++ sampling (one forward per pixel), MNIST preset, batch 16, 28x28 (extrapolated)");
  reg.add("ar-sample-cached", ar_sample_cached,
          "cached PixelCNN++ sampling, MNIST preset, batch 16, 28x28; reference = naive (extrapolated)");
  reg.add("ar-sample-scaling", ar_sample_scaling, "cached vs naive PixelCNN++ sampling at 8x8, 16x16, 28x28");
}

}  // namespace scorelab::bench
