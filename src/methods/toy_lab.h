// The toy lab: trains and samples every chosen method on a 2-D / 1-D Gaussian mixture, scores all samples
// against the exact distribution, and writes report.md, metrics.json, config.json and plots.
#pragma once
#include <boost/program_options/options_description.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "core/runtime.h"
#include "methods/toy_method.h"

namespace scorelab {

struct ToyLabConfig {
  std::string dataset = "mog";     // --dataset
  std::string mixture_file;        // --mixture FILE (JSON) for --dataset file
  std::string methods = "smoothed-ar";  // --method NAME | a,b | all
  int64_t samples = 10000;         // --samples: draws per method for the metrics
  int64_t test_size = 10000;       // --test-size: held-out exact draws for test NLL
  bool no_plots = false;           // --no-plots
  bool score_field = false;        // --plots: also the score-field figure
  int jobs = 0;                    // --jobs: methods at once, one process each (0: threads allow; 1: in-process)
  ToyMethodConfig method;
  RuntimeConfig runtime;

  void add_options(boost::program_options::options_description& desc);
  void validate() const;
  nlohmann::json to_json() const;
};

// Runs the comparison and writes everything to `out_dir`; returns metrics.json and timings.json merged.
nlohmann::json run_toy_compare(const ToyLabConfig& config, const std::string& out_dir, const std::string& command);

// Learned vs exact score fields of ncsn (and ddpm) at several noise levels: out_dir/score_field.png.
nlohmann::json run_score_field(const ToyLabConfig& config, const std::string& out_dir, const std::string& command);

// NCSN's toy experiment on mog-weights: plain vs annealed Langevin, exact and learned scores.
nlohmann::json run_langevin_experiment(const ToyLabConfig& config, const std::string& out_dir, const std::string& command);

// "prog arg1 arg2 ..." with shell quoting, for reports.
std::string command_line(int argc, const char* const argv[]);

}  // namespace scorelab
