#include "samplers/ode.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace scorelab {

ProbabilityFlowSampler::ProbabilityFlowSampler(ScoreFn score, std::shared_ptr<const NoiseProcess> process,
                                               const SamplerConfig& config)
    : score_(std::move(score)),
      process_(std::move(process)),
      solver_(config.ode_solver),
      rtol_(config.rtol),
      atol_(config.atol),
      final_denoise_(config.final_denoise) {
  TORCH_CHECK(score_, "ode: the score function is empty");
  TORCH_CHECK(process_, "ode: no noise process");
  config.validate();
  for (const NoiseLevel& l :
       levels_for(*process_, geometric_sigmas(process_->sigma_max(), process_->sigma_min(), config.ddim_steps + 1)))
    sigmas_.push_back(l.sigma);
  TORCH_CHECK(sigmas_.size() >= 2, "ode: the noise process has a single level; nothing to integrate");
}

at::Tensor ProbabilityFlowSampler::init(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const {
  nfe_ = 0;
  rejected_ = 0;
  return process_->prior_ve(n, sample_shape, gen);
}

std::map<std::string, double> ProbabilityFlowSampler::stats() const {
  return {{"nfe", static_cast<double>(nfe_)}, {"rejected_steps", static_cast<double>(rejected_)}};
}

at::Tensor ProbabilityFlowSampler::drift(const at::Tensor& x, double u) const {
  const double sigma = std::exp(u);
  at::Tensor s = score_(x, sigma);
  check_model_output(s, x, "ode", "score");
  ++nfe_;
  return s.mul(-sigma * sigma);
}

StepOutput ProbabilityFlowSampler::step(const at::Tensor& x_in, int64_t i, at::Generator&) const {
  TORCH_CHECK(i >= 0 && i < num_steps(), "ode: step ", i, " outside [0, ", num_steps(), ")");
  if (i == 0) nfe_ = 0, rejected_ = 0;
  const auto k = static_cast<size_t>(i);
  const double u0 = std::log(sigmas_[k]), u1 = std::log(sigmas_[k + 1]), h = u1 - u0;
  at::Tensor x = x_in;
  if (solver_ == "euler") {
    x = x + drift(x, u0) * h;
  } else if (solver_ == "heun") {
    at::Tensor d0 = drift(x, u0);
    at::Tensor xp = x + d0 * h;
    x = x + (d0 + drift(xp, u1)) * (0.5 * h);
  } else if (solver_ == "rk4") {
    at::Tensor k1 = drift(x, u0);
    at::Tensor k2 = drift(x + k1 * (0.5 * h), u0 + 0.5 * h);
    at::Tensor k3 = drift(x + k2 * (0.5 * h), u0 + 0.5 * h);
    at::Tensor k4 = drift(x + k3 * h, u1);
    x = x + (k1 + 2 * k2 + 2 * k3 + k4) * (h / 6.0);
  } else {
    // Dormand-Prince 5(4), first-same-as-last, with the standard step-size control (safety 0.9,
    // factor in [0.2, 10]); the first sub-step tries the whole interval.
    static const double c2 = 1.0 / 5, c3 = 3.0 / 10, c4 = 4.0 / 5, c5 = 8.0 / 9;
    static const double a21 = 1.0 / 5;
    static const double a31 = 3.0 / 40, a32 = 9.0 / 40;
    static const double a41 = 44.0 / 45, a42 = -56.0 / 15, a43 = 32.0 / 9;
    static const double a51 = 19372.0 / 6561, a52 = -25360.0 / 2187, a53 = 64448.0 / 6561, a54 = -212.0 / 729;
    static const double a61 = 9017.0 / 3168, a62 = -355.0 / 33, a63 = 46732.0 / 5247, a64 = 49.0 / 176,
                        a65 = -5103.0 / 18656;
    static const double b1 = 35.0 / 384, b3 = 500.0 / 1113, b4 = 125.0 / 192, b5 = -2187.0 / 6784, b6 = 11.0 / 84;
    // Error weights: 5th-order minus 4th-order solution.
    static const double e1 = 71.0 / 57600, e3 = -71.0 / 16695, e4 = 71.0 / 1920, e5 = -17253.0 / 339200,
                        e6 = 22.0 / 525, e7 = -1.0 / 40;
    double u = u0, step = h;
    at::Tensor f1 = drift(x, u);
    while ((h < 0 && u > u1) || (h > 0 && u < u1)) {
      if ((h < 0 && u + step < u1) || (h > 0 && u + step > u1)) step = u1 - u;
      at::Tensor f2 = drift(x + f1 * (a21 * step), u + c2 * step);
      at::Tensor f3 = drift(x + (f1 * a31 + f2 * a32) * step, u + c3 * step);
      at::Tensor f4 = drift(x + (f1 * a41 + f2 * a42 + f3 * a43) * step, u + c4 * step);
      at::Tensor f5 = drift(x + (f1 * a51 + f2 * a52 + f3 * a53 + f4 * a54) * step, u + c5 * step);
      at::Tensor f6 = drift(x + (f1 * a61 + f2 * a62 + f3 * a63 + f4 * a64 + f5 * a65) * step, u + step);
      at::Tensor xn = x + (f1 * b1 + f3 * b3 + f4 * b4 + f5 * b5 + f6 * b6) * step;
      at::Tensor f7 = drift(xn, u + step);
      at::Tensor err = (f1 * e1 + f3 * e3 + f4 * e4 + f5 * e5 + f6 * e6 + f7 * e7) * step;
      at::Tensor scale = atol_ + rtol_ * torch::maximum(x.abs(), xn.abs());
      const double norm = (err / scale).pow(2).mean().sqrt().item<double>();
      if (norm <= 1.0 || std::abs(step) < 1e-10) {
        u += step;
        x = xn;
        f1 = f7;
      } else {
        ++rejected_;
      }
      const double factor = norm == 0.0 ? 10.0 : std::clamp(0.9 * std::pow(norm, -0.2), 0.2, 10.0);
      step *= norm <= 1.0 ? factor : std::min(1.0, factor);
    }
  }
  const double sigma = sigmas_[k + 1];
  const bool last = k + 2 == sigmas_.size();
  if (last && final_denoise_) {
    at::Tensor s = score_(x, sigma);
    check_model_output(s, x, "ode", "score");
    ++nfe_;
    at::Tensor out = x.add(s, sigma * sigma);
    return {out, NoiseLevel::none(), out};
  }
  return {x, NoiseLevel::ve(sigma), {}};
}

}  // namespace scorelab
