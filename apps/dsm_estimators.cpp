// dsm_estimators: the bias and variance of the estimators of NCSN's unified objective (one random level per
// example, stratified, all levels, log-uniform sigma) against the exact objective on a toy mixture (issue 14,
// experiment 9; toy/estimators.h).
#include <boost/program_options.hpp>
#include <iostream>

#include "core/cli.h"
#include "core/int_list.h"
#include "core/runtime.h"
#include "core/wait_policy.h"
#include "toy/estimators.h"

int main(int argc, char** argv) {
  scorelab::choose_openmp_wait_policy(argv);
  return scorelab::run_main("dsm_estimators", [&] {
    scorelab::EstimatorStudyConfig config;
    config.lab.methods = "ncsn";
    std::string at_iters = "1,500,5000";
    boost::program_options::options_description desc;
    desc.add_options()
        ("at-iters", boost::program_options::value(&at_iters)->default_value(at_iters),
         "network states: ncsn trained for each of these many iterations (increasing, >= 1)")
        ("repeats", boost::program_options::value(&config.repeats)->default_value(config.repeats),
         "batch estimates per estimator (>= 2)")
        ("exact-draws", boost::program_options::value(&config.exact_draws)->default_value(config.exact_draws),
         "exact draws of each smoothed mixture for the exact objective J (>= 1000)")
        ("quadrature", boost::program_options::value(&config.quadrature)->default_value(config.quadrature),
         "Simpson points in log sigma for J_c, log-uniform sigma's target (odd, >= 3)");
    config.lab.add_options(desc);
    boost::program_options::variables_map vm;
    if (!scorelab::parse_cli(argc, argv, desc, vm,
                             "Usage: dsm_estimators [--dataset mog|...] [--at-iters 1,500,5000] [--repeats 1000] [ncsn flags] [--out DIR]\n"
                             "Trains ncsn on the toy data for each --at-iters and compares the estimators of its DSM objective\n"
                             "(--level-sampling random, stratified, all, log-uniform) with the exact objective: bias, 95% interval,\n"
                             "variance and cost. Writes DIR/report.md and metrics.json."))
      return 0;
    config.iters = scorelab::increasing_counts("--at-iters", at_iters);
    const std::string out = config.lab.runtime.out_or_default("dsm-estimators-" + config.lab.dataset);
    scorelab::run_dsm_estimators(config, out, scorelab::command_line(argc, argv));
    std::cout << "report: " << out << "/report.md\n";
    return 0;
  });
}
