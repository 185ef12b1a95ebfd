// `evaluate`: the test-set likelihood of any trained model folder, toy or image (issue 12).
//   evaluate --model-dir DIR [--stage2-dir DIR2] [--likelihood exact|bound|ode] [--images N | --test-size N]
// Toy models (`train --dataset mog|...`): nats per example on held-out exact draws from the training seed.
// Image models: bits/dim on the 8-bit scale of the first N test images (eval/likelihood.h's conventions).
// Kinds: ar exact; smoothed-ar bound (the two-stage bound; images need --stage2-dir); ncsn ode; ddpm bound
// and ode. metrics.json: {"likelihood": {kind, nll or bits_per_dim, se, n, nfe}}, timings.json its seconds.
#pragma once
#include <boost/program_options/options_description.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/runtime.h"
#include "eval/likelihood.h"

namespace scorelab {

struct EvaluateConfig {
  std::string model_dir;    // --model-dir
  std::string stage2_dir;   // --stage2-dir (image smoothed-ar)
  std::string likelihood;   // --likelihood exact | bound | ode ("" : the method's first)
  int64_t images = 1000;    // --images: test images (image models)
  int64_t test_size = 10000;  // --test-size: held-out exact draws (toy models)
  std::string data_dir;     // --data-dir
  LikelihoodConfig config;  // --lik-solver, --divergence, --probes, --vlb-strata, --decoder-variance ...
  RuntimeConfig runtime;

  void add_options(boost::program_options::options_description& desc);
  void validate() const;
  nlohmann::json to_json() const;
};

// Runs the evaluation into out_dir (metrics.json, timings.json, config.json); returns them merged.
nlohmann::json run_evaluate(const EvaluateConfig& config, const std::string& out_dir, const std::string& command);

}  // namespace scorelab
