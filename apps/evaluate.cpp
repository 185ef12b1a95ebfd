// evaluate: the test-set likelihood of any trained model folder (methods/evaluate.h).
//   evaluate --model-dir DIR [--likelihood exact|bound|ode] [--images N] [--out OUT]
#include <boost/program_options.hpp>
#include <iostream>

#include "core/cli.h"
#include "core/runtime.h"
#include "core/wait_policy.h"
#include "methods/evaluate.h"
#include "methods/toy_lab.h"

int main(int argc, char** argv) {
  scorelab::choose_openmp_wait_policy(argv);
  return scorelab::run_main("evaluate", [&] {
    scorelab::EvaluateConfig config;
    boost::program_options::options_description desc;
    config.add_options(desc);
    boost::program_options::variables_map vm;
    if (!scorelab::parse_cli(
            argc, argv, desc, vm,
            "Usage: evaluate --model-dir DIR [--stage2-dir DIR2] [--likelihood exact|bound|ode] [--images N | --test-size N]\n"
            "                [--divergence exact|hutchinson] [--probes K] [--lik-solver rk45] [--vlb-strata S] [--out OUT]\n"
            "The test-set likelihood of the model trained in DIR: toy models in nats per example, image models in\n"
            "bits/dim on the 8-bit scale (continuous densities of uniformly dequantized images, comparable with\n"
            "PixelCNN++'s discrete bits/dim). ar: exact; smoothed-ar: the two-stage bound; ncsn: the probability-flow\n"
            "ODE; ddpm: the variational bound or the ODE. Writes OUT/metrics.json, timings.json and config.json."))
      return 0;
    config.validate();
    const std::string out = config.runtime.out_or_default("evaluate");
    auto m = scorelab::run_evaluate(config, out, scorelab::command_line(argc, argv));
    const auto& l = m["likelihood"];
    std::cout << m["method"].get<std::string>() << ": " << l.value("kind", "") << ": "
              << (l.contains("bits_per_dim") ? l["bits_per_dim"] : l["nll"]) << " +- " << l["se"] << " "
              << m["unit"].get<std::string>() << " (n = " << l["n"] << ", nfe " << l["nfe"] << "); results in " << out
              << "\n";
    return 0;
  });
}
