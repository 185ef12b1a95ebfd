// The estimators of NCSN's unified objective against the exact objective on a toy mixture (issue 14,
// experiment 9; `dsm_estimators`).
//
// For a network s_theta and the noise levels sigma_1..L, the stated objective (Song & Ermon 2019, eq. 6) is
//   J = (1/L) sum_i l_i,  l_i = 1/2 sigma_i^2 E_{x ~ p, z} ||s_theta(x + sigma_i z, sigma_i) + z / sigma_i||^2.
// On a mixture the smoothed density p_sigma is exact, and Vincent's identity gives each term without z:
//   l_i = 1/2 sigma_i^2 E_{p_sigma_i} ||s_theta - grad log p_sigma_i||^2 + 1/2 (d - sigma_i^2 E_{p_sigma_i} ||grad log p_sigma_i||^2),
// an expectation over exact draws of p_sigma_i alone (no noise variable), taken with many draws. Each estimator
// (--level-sampling random | stratified | all | log-uniform) is then run on many independent training batches:
// its mean against J is its bias, with a 95% interval from both Monte Carlo errors; its spread is its variance.
// log-uniform estimates the continuous average of l over log sigma instead, J_c, computed by quadrature.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "methods/toy_lab.h"

namespace scorelab {

struct EstimatorStudyConfig {
  ToyLabConfig lab;                          // data set, the ncsn network and its training, seed, threads
  std::vector<int64_t> iters{1, 500, 5000};  // --at-iters: network states, each trained for this many iterations
  int64_t repeats = 1000;                    // --repeats: batch estimates per estimator
  int64_t exact_draws = 1000000;             // --exact-draws: draws of p_sigma per level for J
  int64_t quadrature = 129;                  // --quadrature: points in log sigma for J_c (odd: Simpson; 33 was
                                             // too coarse for a trained network, reports/ncsn-study)
};

// Writes out_dir/report.md and metrics.json; returns metrics.json.
nlohmann::json run_dsm_estimators(const EstimatorStudyConfig& config, const std::string& out_dir,
                                  const std::string& command);

}  // namespace scorelab
