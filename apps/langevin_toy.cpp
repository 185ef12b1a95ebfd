// langevin_toy: NCSN's experiment on mog-weights: plain vs annealed Langevin with exact and learned scores.
// Defaults are the paper's: sigma 20 -> 1 (L = 10), T = 100 per level, eps = 0.1, plain Langevin 1000 steps.
#include <boost/program_options.hpp>
#include <iostream>

#include "core/cli.h"
#include "core/runtime.h"
#include "core/wait_policy.h"
#include "core/io.h"
#include "methods/toy_lab.h"

int main(int argc, char** argv) {
  scorelab::choose_openmp_wait_policy(argv);
  return scorelab::run_main("langevin_toy", [&] {
    scorelab::ToyLabConfig config;
    config.dataset = "mog-weights";
    config.method.sigma_max = 20.0;
    config.method.sigma_min = 1.0;
    config.method.levels = 10;
    config.method.sampling.step_size = 0.1;
    config.method.sampling.steps_per_level = 100;
    boost::program_options::options_description desc;
    config.add_options(desc);
    boost::program_options::variables_map vm;
    if (!scorelab::parse_cli(argc, argv, desc, vm,
                             "Usage: langevin_toy [--dataset mog-weights] [--out DIR] [--samples N]\n"
                             "Plain vs annealed Langevin dynamics with the exact and a learned score (Song & Ermon 2019, 3.2.2)."))
      return 0;
    config.validate();
    const std::string out = config.runtime.out_or_default("langevin-" + config.dataset);
    scorelab::run_langevin_experiment(config, out, scorelab::command_line(argc, argv));
    std::cout << "report: " << out << "/report.md\n";
    return 0;
  });
}
