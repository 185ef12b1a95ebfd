// score_field: learned vs true score fields of ncsn (and other score models) at several noise levels.
#include <boost/program_options.hpp>
#include <iostream>

#include "core/cli.h"
#include "core/runtime.h"
#include "core/wait_policy.h"
#include "core/io.h"
#include "methods/toy_lab.h"

int main(int argc, char** argv) {
  scorelab::choose_openmp_wait_policy(argv);
  return scorelab::run_main("score_field", [&] {
    scorelab::ToyLabConfig config;
    config.methods = "ncsn";
    boost::program_options::options_description desc;
    config.add_options(desc);
    boost::program_options::variables_map vm;
    if (!scorelab::parse_cli(argc, argv, desc, vm,
                             "Usage: score_field [--method ncsn|ddpm|smoothed-ar|a,b] [--dataset mog|...] [--score exact] [--out DIR]\n"
                             "Trains the methods' score models and draws learned vs exact scores as arrows with the error as a heat map."))
      return 0;
    config.validate();
    const std::string out = config.runtime.out_or_default("score-field-" + config.dataset);
    scorelab::run_score_field(config, out, scorelab::command_line(argc, argv));
    std::cout << "report: " << out << "/report.md\n";
    return 0;
  });
}
