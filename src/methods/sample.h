// `sample`: draws N samples from any trained model folder, toy or image, in batches, writing as it goes.
//   image (`train --dataset mnist|fashion-mnist|cifar10`): OUT/grid.png (the first 64), OUT/images/NNNNNN.png
//     (one PNG per sample, the layout external FID tools read), OUT/tensors/batch-NNNNN.pt;
//   toy (`train --dataset mog|...`): OUT/samples.png (over the true density), OUT/samples.csv, OUT/tensors/...;
// and metrics.json (n, sampler, nfe and acceptance_rate where the sampler counts them, toy: the toy metrics
// against exact draws of the first batch) with timings.json (seconds, seconds per sample).
// Each batch draws from its own stream (seed, batch index), so --resume skips the batches already written
// and the result does not depend on where a run stopped. Memory is that of one batch.
#pragma once
#include <boost/program_options/options_description.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/runtime.h"
#include "methods/image_sampling.h"

namespace scorelab {

struct SampleConfig {
  std::string model_dir;   // --model-dir: a `train` output folder
  std::string stage2_dir;  // --stage2-dir: smoothed-ar stage 2 (image models, --denoise conditional-ar)
  // --guide-classifier DIR: with --classifier-scale, the noise-aware classifier of the model (compare trains one).
  std::string guide_classifier;
  int64_t n = 64;          // --n
  int64_t batch_size = 64;  // --batch-size
  bool resume = false;     // --resume: keep the batches already in OUT/tensors
  bool quiet = false;      // --quiet
  SamplingConfig sampling;  // --sampler and its knobs, --ar-draw, --clamp, --denoise, --grad, --snapshots ...
  RuntimeConfig runtime;

  void add_options(boost::program_options::options_description& desc);
  void validate() const;  // ConfigError naming the flag
  nlohmann::json to_json() const;
};

// Runs the sampling into out_dir; returns metrics.json and timings.json merged.
nlohmann::json run_sample(const SampleConfig& config, const std::string& out_dir, const std::string& command);

}  // namespace scorelab
