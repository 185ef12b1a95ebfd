// Likelihoods of score and diffusion models (issue 12), side by side with the exact AR likelihoods:
//
//   ode   probability-flow ODE (score_sde, Song et al. 2021, app. D.2). In the VE coordinates of the model's
//         noise process (x / alpha, level sigma; u = log sigma) the flow is dx/du = g(x, u) = -sigma^2 s(x, sigma),
//         and along a trajectory d log p_u(x(u)) / du = -div g, so
//           log p(x) = log p_T(x(u_T)) + integral_{u_0}^{u_T} div g(x(u), u) du,
//         integrated from the data at u_0 = log sigma_min (the data are taken as the sigma_min marginal, an
//         O(sigma_min^2) approximation, as score_sde's eps = 1e-5 start) to u_T = log sigma_max. div g is exact
//         (D backward passes: the toy, tests) or Hutchinson's v^T (dg/dx) v with K fixed probes per example
//         (Rademacher or Gaussian), one trace integral per probe: log p is their mean, probe_se their standard
//         error. Solvers: euler, heun, rk4 (fixed steps in u) and rk45 (Dormand-Prince, rtol/atol as scipy's
//         solve_ivp on the whole state). No history is kept: memory is one batch's.
//   vlb   the DDPM variational bound -log p(x0) <= L_T + sum_{t>=1} L_t + L_0 (Ho et al. 2020, eq. 5;
//         improved-diffusion's vb terms): L_T = KL(q(x_T | x0) || N(0, I)), L_t = KL(q(x_{t-1} | x_t, x0) ||
//         p(x_{t-1} | x_t)) with the model's mean from eps and its variance (small beta~_t, large beta_t,
//         or learned: exp(f log beta_t + (1 - f) log beta~_t), f = (v + 1) / 2), L_0 = -log p(x0 | x1)
//         (discretized Gaussian on 8-bit images, the Gaussian density on continuous data). All T terms, or
//         stratified: S strata of 1..T-1 with two timesteps drawn per stratum and example.
//
// Bits per dimension on images: the 8-bit data k in {0..255} are at k / 127.5 - 1 on the model scale, bins of
// width 2/255 (PixelCNN++'s discretization). A continuous density p on that scale is evaluated at the uniformly
// dequantized y = x + (u - 1/2) 2/255 and converted as bits/dim = -log2 p(y) / D + log2(127.5), so a density
// uniform on the bins gives 8 bits/dim and the numbers compare with PixelCNN++'s discrete bits/dim.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>
#include <nlohmann/json_fwd.hpp>

#include "samplers/sampler.h"

namespace boost::program_options {
class options_description;
}

namespace scorelab {

class BetaSchedule;
class GaussianMixture;

struct LikelihoodConfig {
  // ode
  std::string solver = "rk45";        // --lik-solver euler | heun | rk4 | rk45
  int64_t steps = 100;                // --lik-steps: fixed-step solvers' steps (rk45: its first step is 1/steps)
  double rtol = 1e-5, atol = 1e-5;    // --lik-rtol, --lik-atol (rk45)
  std::string divergence = "auto";    // --divergence auto (exact for D <= 16, else hutchinson) | exact | hutchinson
  std::string probe = "rademacher";   // --probe rademacher | gaussian
  int64_t probes = 1;                 // --probes K (Hutchinson)
  // vlb
  int64_t vlb_strata = 0;             // --vlb-strata S (0: all T terms)
  std::string variance = "small";     // the decoder variance of a fixed-variance model: small | large
  int64_t batch_size = 500;           // --lik-batch-size: examples per batch
  int64_t ode_examples = 0;           // --ode-examples N: the ODE on the first N test examples only (0: all)

  void add_options(boost::program_options::options_description& desc);
  void validate() const;
  nlohmann::json to_json() const;
};

// g(x) -> div of g at x, [N]: sum_d dg_d / dx_d by autograd (D backward passes).
at::Tensor divergence_exact(const std::function<at::Tensor(const at::Tensor&)>& g, const at::Tensor& x);
// v_k^T (dg/dx) v_k for each probe v_k ([K, N, ...], x's shape per probe): [K, N]. Unbiased for E[v v^T] = I.
at::Tensor divergence_hutchinson(const std::function<at::Tensor(const at::Tensor&)>& g, const at::Tensor& x,
                                 const at::Tensor& probes);

// y' = f(u, y) from u0 to u1 (either direction) with a fixed-step or adaptive solver; nfe counts f calls.
using OdeFn = std::function<at::Tensor(double u, const at::Tensor& y)>;
at::Tensor solve_ode(const OdeFn& f, at::Tensor y, double u0, double u1, const std::string& solver, int64_t steps,
                     double rtol, double atol, int64_t* nfe = nullptr, int64_t* rejected = nullptr);

// log p_T of the prior in the VE coordinates, per example [N].
using PriorLogProb = std::function<at::Tensor(const at::Tensor& x)>;
// N(mean, var I) per example (VE: var = sigma_max^2; a VP model in VE coordinates: 1 + sigma_max^2); mean is
// one example's shape, or undefined for 0.
PriorLogProb gaussian_prior(double var, const at::Tensor& mean = {});

struct LikelihoodResult {
  at::Tensor log_p;     // [N] nats per example
  at::Tensor probe_se;  // [N] Hutchinson's standard error over probes (0 for exact divergence, NaN for K = 1)
  double nfe = 0;       // function (score) evaluations per example (the solver's, each with its divergence)
  double rejected = 0;  // rk45's rejected steps
};

// "exact divergence" or "Hutchinson, K rademacher probes" for data of `dims` dimensions (auto resolved).
std::string divergence_label(const LikelihoodConfig& config, int64_t dims);

// The probability-flow ODE log-likelihood of x [N, ...] (VE coordinates) under the score model `score`
// whose levels run from sigma_min to sigma_max, with prior log-density `prior` at sigma_max.
LikelihoodResult ode_log_likelihood(const ScoreFn& score, double sigma_min, double sigma_max, const PriorLogProb& prior,
                                    const at::Tensor& x, const LikelihoodConfig& config, at::Generator& gen);

// Network output for the vlb: eps (C channels) or eps and the variance interpolation v (2C channels).
using EpsVarFn = std::function<at::Tensor(const at::Tensor& x_t, const at::Tensor& t)>;
struct VlbResult {
  at::Tensor nll_bound;  // [N] nats per example: L_T + sum L_t + L_0 (stratified estimate when S > 0)
  at::Tensor prior_term, decoder_term;  // [N] L_T and L_0
  double nfe = 0;        // network evaluations per example
};
// discrete: 8-bit images on [-1, 1] (discretized Gaussian L_0); else continuous data (Gaussian density L_0).
VlbResult ddpm_vlb(const EpsVarFn& net, const BetaSchedule& betas, const at::Tensor& x0, bool discrete,
                   const LikelihoodConfig& config, at::Generator& gen);

// Uniform dequantization of images on the model scale (bins of width 2/255 around k / 127.5 - 1).
at::Tensor dequantize(const at::Tensor& x, at::Generator& gen);
// nats per example of a continuous density on the model scale -> bits/dim on the 8-bit scale.
double dequantized_bits_per_dim(double nll_nats, int64_t dims);

// Summary of per-example NLLs (nats): {"nll": mean, "se": standard error of the mean over examples, "n": N}.
nlohmann::json nll_summary(const at::Tensor& nll);

}  // namespace scorelab
