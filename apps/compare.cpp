// compare: trains and samples the chosen methods on the same data and writes one report.
//   compare --method all --dataset mog --out DIR              (the 2-D / 1-D toy lab)
//   compare --method all --dataset mnist --iters N --out DIR  (images: methods/image_compare.h)
#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>
#include <string>

#include "core/cli.h"
#include "core/io.h"
#include "core/runtime.h"
#include "core/wait_policy.h"
#include "dist/dist.h"
#include "methods/image_compare.h"
#include "data/source.h"
#include "methods/toy_lab.h"

namespace {

// The --dataset value from argv ("--dataset X" or "--dataset=X"), else from a --config file's
// "dataset = X" line, else "" (the toy default). Only decides which pipeline parses the flags.
std::string peek_dataset(int argc, char** argv) {
  std::string config;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--dataset" && i + 1 < argc) return argv[i + 1];
    if (a.rfind("--dataset=", 0) == 0) return a.substr(10);
    if (a == "--config" && i + 1 < argc) config = argv[i + 1];
    if (a.rfind("--config=", 0) == 0) config = a.substr(9);
  }
  std::ifstream in(config);
  for (std::string line; std::getline(in, line);) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    auto trim = [](std::string s) {
      const auto b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
      return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    };
    if (trim(line.substr(0, eq)) == "dataset") return trim(line.substr(eq + 1));
  }
  return "";
}

}  // namespace

// Parses the flags into `config`, then writes its report to --out (or a fresh reports/ folder).
template <typename Config, typename Run>
int parse_and_run(int argc, char** argv, const std::string& usage, Config& config, Run run) {
  scorelab::DistConfig dist;
  boost::program_options::options_description desc;
  config.add_options(desc);
  dist.add_options(desc);
  boost::program_options::variables_map vm;
  if (!scorelab::parse_cli(argc, argv, desc, vm, usage)) return 0;
  config.validate();
  // Under torchrun / scripts/launch: join the process group; only rank 0 writes into --out.
  scorelab::dist::init(dist, scorelab::resolve_device(config.runtime.device).str());
  const std::string out = config.runtime.out_or_default("compare-" + config.dataset);
  run(config, scorelab::dist::output_dir(out), scorelab::command_line(argc, argv));
  if (scorelab::dist::rank() == 0) std::cout << "report: " << out << "/report.md\n";
  return 0;
}

int main(int argc, char** argv) {
  scorelab::choose_openmp_wait_policy(argv);
  return scorelab::run_main("compare", [&] {
    const std::string dataset = peek_dataset(argc, argv);
    // An unknown name is the toy pipeline's error (it lists every data source); a known one picks the pipeline.
    if (scorelab::is_data_source(dataset) && scorelab::data_source(dataset).images()) {
      scorelab::ImageCompareConfig config;
      return parse_and_run(
          argc, argv,
          "Usage: compare --dataset mnist|fashion-mnist|cifar10 [--method NAME|a,b|all]\n"
          "               [--iters N | --budget-minutes M] [--from-checkpoints DIR] [--out DIR]\n"
          "Trains (or loads) every chosen method with the same budget, samples, scores the samples with a\n"
          "classifier trained here (FD/KID-classifier, never FID), inpaints test images and writes\n"
          "DIR/report.md, metrics.json, timings.json (wall clock), config.json and PNG grids.",
          config, scorelab::run_image_compare);
    }
    scorelab::ToyLabConfig config;
    return parse_and_run(
        argc, argv,
        "Usage: compare [--method NAME|a,b|all] [--dataset mog|...|mnist|cifar10] [--out DIR]\n"
        "Trains every chosen method on the toy data, draws samples, scores them against the exact\n"
        "distribution and writes DIR/report.md, metrics.json, timings.json (wall clock), config.json and figures.\n"
        "With an image data set (--dataset mnist, fashion-mnist, cifar10) see `compare --dataset mnist --help`.",
        config, scorelab::run_toy_compare);
  });
}
