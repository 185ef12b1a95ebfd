// Objectives are short and pure (STYLE 3): loss(batch, gen) -> {loss, per_example}. They see networks as
// functions; optimiser, EMA, checkpoints and logging live in the trainer.
#pragma once
#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>
#include <functional>
#include <memory>
#include <string>

#include "core/registry.h"
#include "core/shard.h"  // local_rows: objectives draw for the global batch, then keep their rows
#include "core/noise_family.h"
#include "core/schedule.h"
#include "data/transforms.h"  // Smoothing

namespace scorelab {

struct LossOutput {
  at::Tensor loss;         // scalar to minimise
  at::Tensor per_example;  // [N], detached
};

// log p(x | cond), [N]; cond may be undefined.
using LogProbFn = std::function<at::Tensor(const at::Tensor& x, const at::Tensor& cond)>;
// s_theta(x, sigma) with one sigma per example ([N]).
using ScoreNetFn = std::function<at::Tensor(const at::Tensor& x, const at::Tensor& sigma)>;
// eps_theta(x_t, t) with one integer timestep per example ([N]).
using EpsNetFn = std::function<at::Tensor(const at::Tensor& x, const at::Tensor& t)>;

class Objective {
 public:
  virtual ~Objective() = default;
  virtual std::string name() const = 0;
  virtual LossOutput loss(const at::Tensor& batch, at::Generator& gen) const = 0;
};

// A named objective from a loss function (wrappers, e.g. a change of data range, use it too).
using LossFn = std::function<LossOutput(const at::Tensor& batch, at::Generator& gen)>;
std::unique_ptr<Objective> make_objective(std::string name, LossFn fn);

// How a DSM batch samples the noise levels (dsm_loss below has the details).
enum class LevelSampling { Random, Stratified, All, LogUniform };
LevelSampling level_sampling_by_name(const std::string& name, const std::string& flag = "--level-sampling");

// The weighting lambda(sigma) of the score-matching objectives over noise levels (issue 14, experiment 2):
// sigma2 (NCSN's lambda = sigma^2, which makes every level's term O(1)), one (lambda = 1) or sigma.
enum class ScoreWeight { Sigma2, One, Sigma };
ScoreWeight score_weight_by_name(const std::string& name, const std::string& flag = "--score-weight");
// lambda(sigma) / sigma^2: what turns a term in the sigma^2 form into the chosen weighting.
double lambda_over_sigma2(ScoreWeight weight, double sigma);

// Sliced score matching's projections (issue 14, experiment 1): Gaussian or Rademacher directions, and the
// variance-reduced form (1/2 ||s||^2 in place of 1/2 (v^T s)^2, exact in expectation for E[v v^T] = I).
struct SsmOptions {
  bool rademacher = false;
  bool variance_reduced = true;
};

struct ObjectiveArgs {
  LogProbFn log_prob;
  ScoreNetFn score;
  EpsNetFn eps;
  double sigma = 0.0;                            // smoothing level (smoothed-ar, reverse-smoothing)
  double blur = 0.0;                             // their Gaussian blur before the noise (blur smoothing; 0: none)
  std::shared_ptr<const SigmaSchedule> sigmas;   // dsm / ssm
  std::shared_ptr<const BetaSchedule> betas;     // ddpm
  double target_noise = 0.0;                     // reverse-smoothing: target dequantization N(0, t^2)
  bool antithetic = false;                       // ddpm: antithetic timestep sampling
  int64_t projections = 1;                       // ssm: random projections per example
  NoiseFamily noise;                             // dsm / ssm: the perturbation noise (default Gaussian)
  LevelSampling levels = LevelSampling::Random;  // dsm: how a batch samples the noise levels
  ScoreWeight weight = ScoreWeight::Sigma2;      // dsm / ssm: lambda(sigma)
  bool rademacher = false;                       // ssm: Rademacher instead of Gaussian projections
  bool variance_reduced = true;                  // ssm: the variance-reduced form
  // ardm: logits [N, D, K] of every variable given the known ones (objectives/ardm.h), and the map from a data
  // batch to the integer variables [N, D] (bins of the toy, 8-bit levels of images).
  std::function<at::Tensor(const at::Tensor& x, const at::Tensor& known)> ardm_logits;
  std::function<at::Tensor(const at::Tensor& x)> discretize;
};

using ObjectiveFactory = std::function<std::unique_ptr<Objective>(const ObjectiveArgs&)>;
using ObjectiveRegistry = Registry<ObjectiveFactory>;

// nll, smoothed-nll, reverse-smoothing, dsm, ssm, ddpm, ardm.
const ObjectiveRegistry& objective_registry();

// Pure loss functions behind the registered objectives.
// Maximum likelihood: mean over examples of -log p(x), per dimension (nats/dim).
LossOutput nll_loss(const LogProbFn& log_prob, const at::Tensor& x);
// Stage 1 of distribution smoothing: -log p(x~), x~ = x + sigma z (Meng et al. 2021, eq. 3).
LossOutput smoothed_nll_loss(const LogProbFn& log_prob, const at::Tensor& x, double sigma, at::Generator& gen);
// Stage 2: -log p(x + t e | x~), x~ = x + sigma z: the reverse-smoothing model; t = target_noise dequantizes
// image targets (Meng et al. use t = 0.01 on [-1, 1] data; 0 for continuous data).
LossOutput reverse_smoothing_loss(const LogProbFn& log_prob, const at::Tensor& x, double sigma, at::Generator& gen,
                                  double target_noise = 0.0);
// Both with another corruption x~ = B x + sigma z (data/transforms.h's Smoothing: blur smoothing, issue 15).
LossOutput smoothed_nll_loss(const LogProbFn& log_prob, const at::Tensor& x, const Smoothing& smoothing,
                             at::Generator& gen);
LossOutput reverse_smoothing_loss(const LogProbFn& log_prob, const at::Tensor& x, const Smoothing& smoothing,
                                  at::Generator& gen, double target_noise = 0.0);
// The two-stage variational bound of distribution smoothing, per example:
// log p(x) >= log p(x~) + log p(x | x~) - log q(x~ | x), q(x~ | x) = N(x, sigma^2 I), for one draw x~ ~ q.
// With blur smoothing q(x~ | x) = N(B x, sigma^2 I): pass B x as x.
at::Tensor smoothing_log_bound(const at::Tensor& log_p_tilde, const at::Tensor& log_p_x_given_tilde, const at::Tensor& x,
                               const at::Tensor& x_tilde, double sigma);
// Denoising score matching over noise levels (Song & Ermon 2019, eq. 5-6): level i uniform,
// x~ = x + sigma_i z, loss = 1/2 lambda(sigma_i) ||s(x~, sigma_i) + z / sigma_i||^2, lambda = sigma^2.
// Another noise family: x~ = x + sigma_i u and the target -g(u) / sigma_i (core/noise_family.h).
// The estimate of the objective (1/L) sum_i l(sigma_i) from a batch (issue 14, experiment 9):
//   random       one uniform level per example (NCSN's code): unbiased;
//   stratified   the batch dealt evenly over the levels in a random order from a random first level: unbiased,
//                without most of the between-level variance of random;
//   all          every level for every example (L network evaluations per example): unbiased, least variance;
//   log-uniform  sigma continuous, log-uniform on [sigma_min, sigma_max] (score_sde's VE training): an estimate
//                of the continuous average of l(sigma), biased for the discrete objective.
// `weight` picks lambda(sigma); the default sigma^2 is the form above.
LossOutput dsm_loss(const ScoreNetFn& score, const at::Tensor& x, const SigmaSchedule& sigmas, at::Generator& gen,
                    const NoiseFamily& family = {}, LevelSampling levels = LevelSampling::Random,
                    ScoreWeight weight = ScoreWeight::Sigma2);
// Sliced score matching on noised data (Song et al. 2019): E[v^T J v + 1/2 (v^T s)^2] averaged over the
// projections v (Gaussian, or Rademacher with options.rademacher), by default in the variance-reduced form
// E[v^T J v] + 1/2 ||s||^2; weighted by lambda(sigma) (default sigma^2).
LossOutput ssm_loss(const ScoreNetFn& score, const at::Tensor& x, const SigmaSchedule& sigmas, int64_t projections,
                    at::Generator& gen, const NoiseFamily& family = {}, const SsmOptions& options = {},
                    ScoreWeight weight = ScoreWeight::Sigma2);
// Improved DDPM (Nichol & Dhariwal 2021) hybrid loss with learned variances: eps_var(x_t, t) returns
// [N, 2C, ...] = (eps, v); Sigma_t = exp(f log beta_t + (1 - f) log beta~_t) with f = (v + 1) / 2.
// loss = ||eps - eps_theta||^2 (mean over dims) + T/1000 * L_t, where L_t (bits/dim, with the mean
// stop-gradiented) is KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)) for t > 0 and the discretized Gaussian
// decoder NLL -log p(x_0 | x_1) for t = 0: the unbiased estimate of lambda L_vlb with lambda = 0.001.
LossOutput ddpm_hybrid_loss(const EpsNetFn& eps_var, const at::Tensor& x0, const BetaSchedule& betas, bool antithetic,
                            at::Generator& gen);
// KL(N(m1, exp(lv1)) || N(m2, exp(lv2))) elementwise, in nats.
at::Tensor gaussian_kl(const at::Tensor& m1, const at::Tensor& lv1, const at::Tensor& m2, const at::Tensor& lv2);
// log P(x) of x on the 256-level grid of [-1, 1] under N(mean, exp(log_var)) discretized to bins of half-width
// 1/255 (edge bins take the tails), elementwise, in nats.
at::Tensor discretized_gaussian_log_likelihood(const at::Tensor& x, const at::Tensor& mean, const at::Tensor& log_var);

// DDPM L_simple (Ho et al. 2020): ||eps - eps_theta(sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, t)||^2, t uniform.
LossOutput ddpm_loss(const EpsNetFn& eps, const at::Tensor& x0, const BetaSchedule& betas, bool antithetic,
                     at::Generator& gen);

}  // namespace scorelab
