// interpolate (issue 15): latent interpolation of a trained ncsn or ddpm image model, decoded with DDIM (eta 0)
// or the probability-flow ODE.
//   interpolate --model-dir DIR [--pairs 4] [--points 9] [--path slerp|linear] [--sampler ddim|ode] --out OUT
#include <boost/program_options.hpp>
#include <iostream>

#include "core/cli.h"
#include "core/runtime.h"
#include "core/wait_policy.h"
#include "methods/interpolate.h"
#include "methods/toy_lab.h"  // command_line

int main(int argc, char** argv) {
  scorelab::choose_openmp_wait_policy(argv);
  return scorelab::run_main("interpolate", [&] {
    scorelab::InterpolateConfig config;
    boost::program_options::options_description desc;
    config.add_options(desc);
    boost::program_options::variables_map vm;
    if (!scorelab::parse_cli(
            argc, argv, desc, vm,
            "Usage: interpolate --model-dir DIR [--pairs P] [--points K] [--path slerp|linear] [--sampler ddim|ode] [--out OUT]\n"
            "Joins pairs of noises x_T of the model trained in DIR (ncsn or ddpm on images) by a spherical path and\n"
            "decodes K frames of each with a deterministic sampler (default: ddim with eta 0 for ddpm, the\n"
            "probability-flow ODE for ncsn). Writes OUT/interpolation.png (a row per pair), metrics.json (the\n"
            "endpoint check, decoded path lengths) and config.json."))
      return 0;
    config.validate();
    const std::string out = config.runtime.out_or_default("interpolate");
    auto metrics = scorelab::run_interpolate(config, out, scorelab::command_line(argc, argv));
    std::cout << metrics["pairs"].get<int64_t>() << " x " << metrics["points"].get<int64_t>() << " frames ("
              << metrics["sampler"].get<std::string>() << "); results in " << out << "/interpolation.png\n";
    return 0;
  });
}
