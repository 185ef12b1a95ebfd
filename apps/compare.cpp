// compare: trains and samples the chosen methods on the same data and writes one report.
//   compare --method all --dataset mog --out DIR
#include <boost/program_options.hpp>
#include <iostream>

#include "core/cli.h"
#include "core/io.h"
#include "methods/toy_lab.h"

int main(int argc, char** argv) {
  return scorelab::run_main("compare", [&] {
    scorelab::ToyLabConfig config;
    boost::program_options::options_description desc;
    config.add_options(desc);
    boost::program_options::variables_map vm;
    if (!scorelab::parse_cli(argc, argv, desc, vm,
                             "Usage: compare [--method ar|smoothed-ar|ncsn|ddpm|a,b|all] [--dataset mog|...] [--out DIR]\n"
                             "Trains every chosen method on the toy data, draws samples, scores them against the exact\n"
                             "distribution and writes DIR/report.md, metrics.json, config.json and figures."))
      return 0;
    config.validate();
    const std::string out = config.runtime.out_or_default("compare-" + config.dataset);
    scorelab::run_toy_compare(config, out, scorelab::command_line(argc, argv));
    std::cout << "report: " << out << "/report.md\n";
    return 0;
  });
}
