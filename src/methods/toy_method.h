// A method's session on mixture data (the toy lab): what Method::toy (method.h) returns. It trains on exact
// draws from a Gaussian mixture and returns samples; the lab (toy_lab.h) evaluates them all the same way.
#pragma once
#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>
#include <boost/program_options/options_description.hpp>
#include <functional>
#include <map>
#include <torch/nn/module.h>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/registry.h"
#include "data/mixture.h"
#include "eval/likelihood.h"
#include "samplers/registry.h"
#include "train/trainer.h"

namespace scorelab {

struct ToyMethodConfig {
  // Networks.
  int64_t hidden = 128;  // --hidden
  int64_t depth = 3;     // --depth
  int64_t mixtures = 10;  // --mixtures: logistic components per AR conditional
  std::string precond = "none";  // --precond none | edm: the score networks' (ncsn, ddpm) preconditioning
  // smoothed-ar (Meng et al. 2021).
  double sigma = 0.3;                     // --sigma: smoothing noise level
  std::string denoise = "conditional-ar";  // --denoise single-step | conditional-ar
  std::string grad = "full";              // --grad full | detached (the authors' quirk)
  // --blur-sigma: smoothed-ar-blur(-noise)'s Gaussian blur of the coordinates, seen as one 1-D signal (0: 1).
  double blur_sigma = 0.0;
  // ncsn (Song & Ermon 2019).
  std::string objective = "dsm";  // --objective dsm | ssm
  std::string dsm_noise = "gaussian";  // --dsm-noise gaussian | laplace | student-t: ncsn's perturbation noise
  double student_nu = 4.0;             // --student-nu: its degrees of freedom (student-t)
  std::string level_sampling = "random";  // --level-sampling random | stratified | all | log-uniform (ncsn dsm)
  std::string score_weight = "sigma2";    // --score-weight sigma2 | one | sigma: lambda(sigma) of dsm / ssm
  int64_t projections = 1;                // --projections: ssm's random projections per example
  std::string projection = "gaussian";    // --projection gaussian | rademacher (ssm)
  std::string ssm_form = "vr";            // --ssm-form vr (variance-reduced) | full (ssm)
  std::string sigma_spacing = "geometric";  // --sigma-spacing geometric | linear: ncsn's noise levels
  std::string condition = "none";           // --condition none | component: ncsn class-conditional on the component
  // --label-dropout p: with --condition component, train on a null label (the last one) with probability p, so the
  // network is also the marginal score (classifier-free guidance; issue 15).
  double label_dropout = 0.0;
  // --guidance-scale w: sample with (1 + w) s(x, sigma, k) - w s(x, sigma) (the null label's, or with --score exact
  // the exact marginal score: then the guided field is grad log p(x | k) + w grad log p(k | x)).
  double guidance_scale = 0.0;
  // --classifier-scale s: ncsn and ddpm sample with classifier guidance (issue 15): the unconditional model plus s times
  // grad_x log p(k | x, sigma) of a noise-aware classifier of the component k (trained beside the model; with
  // --score exact the exact p(k | x, sigma)), k drawn from the mixture weights.
  double classifier_scale = 0.0;
  std::string score = "learned";  // --score learned | exact (ncsn and ddpm)
  double sigma_max = 0.0;         // --sigma-max (0: max pairwise distance of the data, NCSNv2's rule)
  double sigma_min = 0.01;        // --sigma-min
  int64_t levels = 10;            // --levels
  // ardm (Hoogeboom et al. 2022; issue 15).
  int64_t ardm_bins = 256;  // --ardm-bins: the bins of each coordinate over the data's range (mean +- 4 std of the modes)
  int64_t ardm_steps = 0;   // --ardm-steps: decoding steps (0: one coordinate per step)
  // ddpm (Ho et al. 2020).
  std::string beta_schedule = "linear";  // --beta-schedule linear | cosine
  int64_t timesteps = 1000;              // --timesteps
  bool antithetic = false;               // --antithetic
  // Sampler choice ("" : the method's default) and knobs.
  std::string sampler;  // --sampler
  SamplerConfig sampling;
  TrainConfig train;
  LikelihoodConfig likelihood;  // test-set likelihoods of ncsn (ODE) and ddpm (bound and ODE); exact divergence

  ToyMethodConfig();
  void add_options(boost::program_options::options_description& desc);
  void validate() const;
  nlohmann::json to_json() const;
  // The config to_json wrote (`train --dataset <toy>`'s config.json); the sampler stays at its default.
  static ToyMethodConfig from_json(const nlohmann::json& j);
};

// What a method gets to see of the data.
struct ToyData {
  GaussianMixture truth;
  double scale = 1.0;  // data standard deviation (per coordinate, pooled)
  at::Tensor test;     // fixed held-out exact draws
  at::Tensor test_labels;  // their mixture components, [N] int64 (class-conditional models)
  std::function<at::Tensor(int64_t, at::Generator&)> batch;  // fresh training batch
};

// Pooled per-coordinate standard deviation of a mixture.
double pooled_std(const GaussianMixture& truth);
// The toy data: fresh exact training draws per batch and a fixed held-out test set from `seed`.
ToyData make_toy_data(const GaussianMixture& truth, uint64_t seed, int64_t test_size);

struct NamedSamples {
  std::string name;  // "" : the method's own result; otherwise a variant suffix
  at::Tensor samples;
  double seconds = 0.0;
  std::string note;
  std::map<std::string, double> stats;  // the sampler's counters (nfe, acceptance_rate) where it keeps them
};

class ToyMethod {
 public:
  virtual ~ToyMethod() = default;
  virtual std::string name() const = 0;
  // Trains the method's models (checkpoints under ckpt_dir when not empty; --resume continues).
  virtual void train(const ToyData& data, at::Generator& gen, const std::string& ckpt_dir) = 0;
  // The method's samples first, then named variants (e.g. the smoothed samples before denoising).
  virtual std::vector<NamedSamples> sample(int64_t n, at::Generator& gen) = 0;
  // Likelihood-based numbers: "test_nll" (nats per example, or null) and method-specific keys.
  virtual nlohmann::json evaluate(const ToyData& data, at::Generator& gen) = 0;
  // The learned score at noise level sigma, where the method has one (for score-field plots).
  virtual std::optional<ScoreFn> score_fn() { return std::nullopt; }
  // The one noise level its score is defined at, where it has only one (smoothed-ar: its sigma); otherwise
  // the score is noise-conditional and any level may be asked for.
  virtual std::optional<double> score_level() const { return std::nullopt; }
  // Its cost relative to the others in a comparison (network evaluations in training, sampling and evaluation):
  // `compare --jobs` starts the costliest first, so that the workers finish together.
  virtual double relative_cost() const { return 1.0; }
  // Training summary: seconds, iterations, parameter count, loss curves.
  nlohmann::json train_info;  // per trained model (label): params, iters, seconds, test_loss_initial/final...
  std::map<std::string, std::shared_ptr<torch::nn::Module>> modules;  // trained models by label
  double train_seconds = 0.0;
  std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>> loss_curves;
};

using ToyMethodFactory = std::function<std::unique_ptr<ToyMethod>(const ToyMethodConfig&)>;
using ToyMethodRegistry = Registry<ToyMethodFactory>;

// The method list of method.h seen by name (ar, ddpm, ncsn, smoothed-ar): each entry opens the method's
// toy session. Built from methods(), so it holds no method of its own.
const ToyMethodRegistry& toy_method_registry();

// Geometric noise levels for a data set: sigma_max from the config or the max-pairwise-distance rule.
SigmaSchedule toy_sigmas(const ToyMethodConfig& config, const GaussianMixture& truth);

}  // namespace scorelab
