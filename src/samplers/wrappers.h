// Model wrappers (k-diffusion's external.py): a trained network, or an exact density, with its
// parameterisation, seen as the inputs samplers take (SamplerArgs). A score sampler runs unchanged on
// any of them: an NCSN net (VE score), a DDPM net (VP eps, whose score is taken in the VE coordinates
// x_t / sqrt(abar_t)), or the exact mixture score, on the toy and on images alike. The data transform
// (e.g. NCSN's [0, 1] scale) stays with the method that owns the network.
#pragma once
#include <memory>
#include <utility>
#include <string>
#include <vector>

#include <ATen/Tensor.h>

#include "samplers/registry.h"

namespace scorelab {

class GaussianMixture;

enum class Parameterisation {
  VeScore,       // s(x, sigma) on a geometric sigma set (NCSN): score, sigmas, process
  VpEps,         // eps(x_t, t) on a beta schedule (DDPM): eps, betas, score (VE coordinates), process
  ExactDensity,  // an exact density smoothed at any sigma: score, sigmas, process, log_density
};

// The SamplerSpec::needs names a parameterisation offers.
std::vector<std::string> offered_by(Parameterisation p);

struct ModelWrapper {
  Parameterisation parameterisation = Parameterisation::VeScore;
  std::string model;  // who offers it, for error messages (e.g. "method ncsn")
  ScoreFn score;
  EpsFn eps;
  LogDensityFn log_density;
  std::shared_ptr<const SigmaSchedule> sigmas;
  std::shared_ptr<const BetaSchedule> betas;
  std::shared_ptr<const NoiseProcess> process;

  std::vector<std::string> offered() const { return offered_by(parameterisation); }
  // The sampler inputs with `config`.
  SamplerArgs args(const SamplerConfig& config) const;
  // The denoised estimate x0-hat = x + sigma^2 s(x, sigma) (Tweedie), in the VE coordinates of `process`.
  at::Tensor denoised(const at::Tensor& x, double sigma) const;
};

// A noise-conditional score network trained on `sigmas` (VarianceExploding process).
ModelWrapper ve_score_model(ScoreFn score, std::shared_ptr<const SigmaSchedule> sigmas, std::string model);
// An eps network trained on `betas` (VariancePreserving process); score = score_from_eps(eps, betas).
ModelWrapper vp_eps_model(EpsFn eps, std::shared_ptr<const BetaSchedule> betas, std::string model);
// A Gaussian mixture smoothed at sigma (exact score and log-density), annealed over `sigmas`.
ModelWrapper exact_mixture_model(std::shared_ptr<const GaussianMixture> truth, std::shared_ptr<const SigmaSchedule> sigmas,
                                 std::string model);

// Classifier guidance (Dhariwal & Nichol 2021; issue 15). `grad`(x, sigma) = grad_x log p(y | x, sigma) of a
// noise-aware classifier in the wrapper's VE coordinates, for the labels its caller bound. Score models: the score
// s + scale * grad. Eps models: eps - scale * sigma_t * grad(x_t / sqrt(abar_t), sigma_t) with sigma_t the equivalent
// VE level, so that DDPM and DDIM follow it and the score in VE coordinates is again s + scale * grad. Scale 0 returns
// `w` itself; a guided model has no log-density (mala refuses it).
ModelWrapper classifier_guided(ModelWrapper w, ScoreFn grad, double scale);
// A classifier's gradient for the labels its caller bound, and its scale (0: no guidance).
struct ClassifierGuide {
  ScoreFn grad;
  double scale = 0.0;
};
inline ModelWrapper classifier_guided(ModelWrapper w, const ClassifierGuide& guide) {
  return classifier_guided(std::move(w), guide.grad, guide.scale);
}

}  // namespace scorelab
