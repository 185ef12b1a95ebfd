#include <torch/torch.h>

#include "core/error.h"
#include "objectives/ardm.h"
#include "objectives/objective.h"

namespace scorelab {

namespace {

template <typename T>
const T& need(const T& value, bool ok, const std::string& objective, const std::string& what) {
  if (!ok) throw ConfigError("objective '" + objective + "' needs " + what);
  return value;
}

// A noise level > 0, or a blur (--blur-sigma > 0) with a noise level >= 0.
void need_smoothing(const ObjectiveArgs& a, const std::string& objective) {
  if (a.blur > 0 ? !(a.sigma >= 0) : !(a.sigma > 0))
    throw ConfigError("objective '" + objective + "' needs a smoothing sigma > 0 (--sigma), or a blur (--blur-sigma > 0)");
  if (!(a.blur >= 0 && std::isfinite(a.blur)))
    throw ConfigError("objective '" + objective + "' needs a blur sigma >= 0 (--blur-sigma)");
}

}  // namespace

namespace {
class FnObjective : public Objective {
 public:
  FnObjective(std::string name, LossFn fn) : name_(std::move(name)), fn_(std::move(fn)) {}
  std::string name() const override { return name_; }
  LossOutput loss(const at::Tensor& batch, at::Generator& gen) const override { return fn_(batch, gen); }

 private:
  std::string name_;
  LossFn fn_;
};
}  // namespace

std::unique_ptr<Objective> make_objective(std::string name, LossFn fn) {
  return std::make_unique<FnObjective>(std::move(name), std::move(fn));
}

const ObjectiveRegistry& objective_registry() {
  static const ObjectiveRegistry reg = [] {
    ObjectiveRegistry r("objective");
    r.add("nll", [](const ObjectiveArgs& a) {
      auto lp = need(a.log_prob, bool(a.log_prob), "nll", "a density model");
      return make_objective("nll", [lp](const at::Tensor& x, at::Generator&) { return nll_loss(lp, x); });
    }, "maximum likelihood on clean data");
    r.add("smoothed-nll", [](const ObjectiveArgs& a) {
      auto lp = need(a.log_prob, bool(a.log_prob), "smoothed-nll", "a density model");
      need_smoothing(a, "smoothed-nll");
      const Smoothing smoothing{a.sigma, a.blur};
      return make_objective("smoothed-nll", [lp, smoothing](const at::Tensor& x, at::Generator& g) {
        return smoothed_nll_loss(lp, x, smoothing, g);
      });
    }, "stage 1 of distribution smoothing: maximum likelihood on x~ = x + sigma z (with blur: B x + sigma z)");
    r.add("reverse-smoothing", [](const ObjectiveArgs& a) {
      auto lp = need(a.log_prob, bool(a.log_prob), "reverse-smoothing", "a conditional density model");
      need_smoothing(a, "reverse-smoothing");
      const Smoothing smoothing{a.sigma, a.blur};
      const double t = a.target_noise;
      return make_objective("reverse-smoothing", [lp, smoothing, t](const at::Tensor& x, at::Generator& g) {
        return reverse_smoothing_loss(lp, x, smoothing, g, t);
      });
    }, "stage 2 of distribution smoothing: maximum likelihood of x given x~");
    r.add("ardm", [](const ObjectiveArgs& a) {
      auto net = need(a.ardm_logits, bool(a.ardm_logits), "ardm", "a network of the conditionals given a known set");
      auto discretize = need(a.discretize, bool(a.discretize), "ardm", "the map from data to integer variables");
      return make_objective("ardm", [net, discretize](const at::Tensor& x, at::Generator& g) {
        return ardm_loss(net, discretize(x), g);
      });
    }, "order-agnostic ARDM: one random step t and ordering per example, the ELBO term L_t / D (nats/dim)");
    r.add("dsm", [](const ObjectiveArgs& a) {
      auto s = need(a.score, bool(a.score), "dsm", "a noise-conditional score network");
      auto sig = need(a.sigmas, bool(a.sigmas), "dsm", "noise levels (a sigma schedule)");
      const NoiseFamily noise = a.noise;
      const LevelSampling levels = a.levels;
      const ScoreWeight weight = a.weight;
      return make_objective("dsm", [s, sig, noise, levels, weight](const at::Tensor& x, at::Generator& g) {
        return dsm_loss(s, x, *sig, g, noise, levels, weight);
      });
    }, "denoising score matching, lambda(sigma) = sigma^2 (or 1, sigma)");
    r.add("ssm", [](const ObjectiveArgs& a) {
      auto s = need(a.score, bool(a.score), "ssm", "a noise-conditional score network");
      auto sig = need(a.sigmas, bool(a.sigmas), "ssm", "noise levels (a sigma schedule)");
      int64_t p = a.projections;
      const NoiseFamily noise = a.noise;
      const SsmOptions options{a.rademacher, a.variance_reduced};
      const ScoreWeight weight = a.weight;
      return make_objective("ssm", [s, sig, p, noise, options, weight](const at::Tensor& x, at::Generator& g) {
        return ssm_loss(s, x, *sig, p, g, noise, options, weight);
      });
    }, "sliced score matching on noised data (Gaussian or Rademacher projections, variance-reduced or not), lambda(sigma) = sigma^2 (or 1, sigma)");
    r.add("ddpm", [](const ObjectiveArgs& a) {
      auto e = need(a.eps, bool(a.eps), "ddpm", "a noise-prediction network");
      auto b = need(a.betas, bool(a.betas), "ddpm", "a beta schedule");
      bool anti = a.antithetic;
      return make_objective("ddpm", [e, b, anti](const at::Tensor& x, at::Generator& g) {
        return ddpm_loss(e, x, *b, anti, g);
      });
    }, "DDPM L_simple (eps prediction)");
    r.add("ddpm-hybrid", [](const ObjectiveArgs& a) {
      auto e = need(a.eps, bool(a.eps), "ddpm-hybrid", "a noise-prediction network with learned variances (2C outputs)");
      auto b = need(a.betas, bool(a.betas), "ddpm-hybrid", "a beta schedule");
      bool anti = a.antithetic;
      return make_objective("ddpm-hybrid", [e, b, anti](const at::Tensor& x, at::Generator& g) {
        return ddpm_hybrid_loss(e, x, *b, anti, g);
      });
    }, "improved DDPM: L_simple + 0.001 L_vlb with learned variances");
    return r;
  }();
  return reg;
}

}  // namespace scorelab
