#include "samplers/wrappers.h"

#include <torch/torch.h>

#include <cmath>
#include <string>

#include "core/noise.h"
#include "data/mixture.h"

namespace scorelab {

std::vector<std::string> offered_by(Parameterisation p) {
  switch (p) {
    case Parameterisation::VeScore: return {"score", "sigmas", "process"};
    case Parameterisation::VpEps: return {"eps", "betas", "score", "process"};
    case Parameterisation::ExactDensity: return {"score", "sigmas", "process", "log_density"};
  }
  return {};
}

SamplerArgs ModelWrapper::args(const SamplerConfig& config) const {
  SamplerArgs a;
  a.config = config;
  a.model = model;
  a.score = score;
  a.eps = eps;
  a.log_density = log_density;
  a.sigmas = sigmas;
  a.betas = betas;
  a.process = process;
  return a;
}

at::Tensor ModelWrapper::denoised(const at::Tensor& x, double sigma) const {
  TORCH_CHECK(score, model, ": no score to denoise with");
  return x + sigma * sigma * score(x, sigma);
}

ModelWrapper ve_score_model(ScoreFn score, std::shared_ptr<const SigmaSchedule> sigmas, std::string model) {
  ModelWrapper w;
  w.parameterisation = Parameterisation::VeScore;
  w.model = std::move(model);
  w.score = std::move(score);
  w.process = std::make_shared<VarianceExploding>(*sigmas);
  w.sigmas = std::move(sigmas);
  return w;
}

ModelWrapper vp_eps_model(EpsFn eps, std::shared_ptr<const BetaSchedule> betas, std::string model) {
  ModelWrapper w;
  w.parameterisation = Parameterisation::VpEps;
  w.model = std::move(model);
  w.score = score_from_eps(eps, *betas);
  w.eps = std::move(eps);
  w.process = std::make_shared<VariancePreserving>(*betas);
  w.betas = std::move(betas);
  return w;
}

ModelWrapper exact_mixture_model(std::shared_ptr<const GaussianMixture> truth, std::shared_ptr<const SigmaSchedule> sigmas,
                                 std::string model) {
  ModelWrapper w =
      ve_score_model([truth](const at::Tensor& x, double sigma) { return truth->smoothed(sigma).score(x); },
                     std::move(sigmas), std::move(model));
  w.parameterisation = Parameterisation::ExactDensity;
  w.log_density = [truth](const at::Tensor& x, double sigma) { return truth->smoothed(sigma).log_prob(x); };
  return w;
}

ModelWrapper classifier_guided(ModelWrapper w, ScoreFn grad, double scale) {
  if (scale == 0.0) return w;
  TORCH_CHECK(grad, "classifier_guided: no classifier gradient");
  w.model += ", classifier-guided (scale " + std::to_string(scale) + ")";
  w.log_density = nullptr;
  if (w.parameterisation == Parameterisation::ExactDensity) w.parameterisation = Parameterisation::VeScore;
  if (w.parameterisation == Parameterisation::VpEps) {
    auto betas = w.betas;
    EpsFn eps = [eps = w.eps, grad, scale, betas](const at::Tensor& x, int64_t t) {
      const double sigma = betas->sigma_equivalent(t);
      return eps(x, t) - scale * sigma * grad(x / std::sqrt(betas->alpha_bar(t)), sigma);
    };
    w.score = score_from_eps(eps, *betas);
    w.eps = std::move(eps);
    return w;
  }
  w.score = [score = w.score, grad, scale](const at::Tensor& x, double sigma) {
    return score(x, sigma) + scale * grad(x, sigma);
  };
  return w;
}

}  // namespace scorelab
