// Metropolis-adjusted Langevin (MALA; Roberts & Tweedie 1996): Langevin proposals with a Metropolis-Hastings
// correction, on a log-density (the exact mixture, or an autoregressive model's likelihood).
#pragma once
#include <memory>
#include <vector>

#include "core/schedule.h"
#include "samplers/langevin.h"
#include "samplers/registry.h"
#include "samplers/sampler.h"

namespace scorelab {

// The schedule of annealed Langevin (NCSN Alg. 1) when noise levels are given (L levels, T =
// steps_per_level, h_i = eps sigma_i^2 / sigma_L^2), else T steps at the single level config.langevin_sigma
// with h = eps. Per step, with g = grad log p_sigma (autograd of the log-density) and the step rule's (a, b):
//   y = x + a g(x) + b z,   log r = log p(y) - log p(x) + log q(x | y) - log q(y | x),
//   q(u | v) = N(u; v + a g(v), b^2 I);  x <- y where log U < log r (U ~ U(0, 1) per sample), else x.
// The chain at each level leaves p_sigma invariant, so the discretisation bias of unadjusted Langevin is
// removed; slow mixing between distant modes is not. Starts uniform on [init_low, init_high]^D.
// --alpha-rule and --level-steps shape the annealed schedule as for annealed-langevin.
// stats(): "acceptance_rate" over all proposals of the last run (and "acceptance_rate_level_<l>" per level,
// largest sigma first, when annealed), "nfe" (log-density + gradient evaluations).
class MalaSampler : public Sampler {
 public:
  MalaSampler(LogDensityFn log_density, std::shared_ptr<const SigmaSchedule> sigmas, const SamplerConfig& config,
              std::string name = "mala");
  std::string name() const override { return name_; }
  int64_t num_steps() const override { return steps_.total(); }
  at::Tensor init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const override;
  StepOutput step(const at::Tensor& x, int64_t i, at::Generator& gen) const override;
  std::map<std::string, double> stats() const override;

 private:
  // log p_sigma(x) [N] and its gradient.
  std::pair<at::Tensor, at::Tensor> density_and_grad(const at::Tensor& x, double sigma) const;
  LogDensityFn log_density_;
  std::string name_;
  void reset_counts() const;
  std::vector<double> sigmas_, drift_, noise_;
  LevelSteps steps_{{}};
  double init_low_, init_high_;
  mutable double accepted_ = 0, proposed_ = 0;
  mutable std::vector<double> accepted_level_, proposed_level_;
  mutable int64_t evaluations_ = 0;
};

// The registry's factory: needs SamplerArgs::log_density (a score-only model is refused, naming it);
// annealed over SamplerArgs::sigmas when given.
std::unique_ptr<Sampler> make_mala(const SamplerArgs& args);

}  // namespace scorelab
