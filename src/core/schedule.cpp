#include "core/schedule.h"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "core/error.h"

namespace scorelab {

namespace {

std::string fmt(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

constexpr double kPi = 3.14159265358979323846;
constexpr double kCosineMaxBeta = 0.999;  // Nichol & Dhariwal 2021: avoids the singularity at t = T

}  // namespace

SigmaSchedule::SigmaSchedule(double sigma_max, double sigma_min, int64_t levels) {
  if (levels < 1) throw ConfigError("sigma schedule: got " + std::to_string(levels) + " noise levels; expected >= 1");
  if (!(sigma_min > 0) || !std::isfinite(sigma_min) || !std::isfinite(sigma_max) || !(sigma_max >= sigma_min))
    throw ConfigError("sigma schedule: got sigma_max " + fmt(sigma_max) + ", sigma_min " + fmt(sigma_min) +
                      "; expected finite sigma_max >= sigma_min > 0");
  if (levels > 1 && !(sigma_max > sigma_min))
    throw ConfigError("sigma schedule: " + std::to_string(levels) + " levels need sigma_max > sigma_min; got both " +
                      fmt(sigma_max));
  // exp(linspace(log sigma_max, log sigma_min, L)), as in the NCSN code; the endpoints are exact.
  sigmas_.resize(static_cast<size_t>(levels));
  const double lmax = std::log(sigma_max), lmin = std::log(sigma_min);
  for (int64_t i = 0; i < levels; ++i) {
    const double frac = levels == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(levels - 1);
    sigmas_[static_cast<size_t>(i)] = std::exp(lmax + (lmin - lmax) * frac);
  }
  sigmas_.front() = sigma_max;
  if (levels > 1) sigmas_.back() = sigma_min;
}

SigmaSchedule::SigmaSchedule(std::vector<double> sigmas) : sigmas_(std::move(sigmas)) {
  if (sigmas_.empty()) throw ConfigError("sigma schedule: empty list of noise levels; give at least one sigma > 0");
  for (size_t i = 0; i < sigmas_.size(); ++i) {
    if (!(sigmas_[i] > 0) || !std::isfinite(sigmas_[i]))
      throw ConfigError("sigma schedule: level " + std::to_string(i) + " is " + fmt(sigmas_[i]) +
                        "; expected a finite sigma > 0");
    if (i > 0 && !(sigmas_[i] < sigmas_[i - 1]))
      throw ConfigError("sigma schedule: levels must be strictly decreasing; level " + std::to_string(i) + " (" +
                        fmt(sigmas_[i]) + ") follows " + fmt(sigmas_[i - 1]));
  }
}

at::Tensor SigmaSchedule::as_tensor() const {
  return torch::tensor(sigmas_, torch::dtype(torch::kFloat64));
}

BetaSchedule::BetaSchedule(std::vector<double> betas) : betas_(std::move(betas)) {
  if (betas_.empty()) throw ConfigError("beta schedule: no timesteps; expected T >= 1");
  alpha_bars_.resize(betas_.size());
  double prod = 1.0;
  for (size_t t = 0; t < betas_.size(); ++t) {
    if (!(betas_[t] > 0 && betas_[t] < 1))
      throw ConfigError("beta schedule: beta_" + std::to_string(t) + " = " + fmt(betas_[t]) + "; expected 0 < beta < 1");
    prod *= 1.0 - betas_[t];
    alpha_bars_[t] = prod;
  }
}

BetaSchedule BetaSchedule::linear(int64_t steps, double beta_start, double beta_end) {
  if (steps < 1) throw ConfigError("beta schedule 'linear': got T = " + std::to_string(steps) + "; expected T >= 1");
  std::vector<double> betas(static_cast<size_t>(steps));
  for (int64_t t = 0; t < steps; ++t) {
    const double frac = steps == 1 ? 0.0 : static_cast<double>(t) / static_cast<double>(steps - 1);
    betas[static_cast<size_t>(t)] = beta_start + (beta_end - beta_start) * frac;  // np.linspace
  }
  return BetaSchedule(std::move(betas));
}

BetaSchedule BetaSchedule::cosine(int64_t steps, double s) {
  if (steps < 1) throw ConfigError("beta schedule 'cosine': got T = " + std::to_string(steps) + "; expected T >= 1");
  if (!(s >= 0) || !std::isfinite(s)) throw ConfigError("beta schedule 'cosine': offset s = " + fmt(s) + "; expected s >= 0");
  // improved-diffusion betas_for_alpha_bar: beta_t = min(1 - f(t+1)/f(t), 0.999), so that without
  // clipping alpha_bar(t) = f(t+1)/f(0) (index t = 0..T-1 is continuous time (t+1)/T).
  const double T = static_cast<double>(steps);
  auto f = [&](double t) {
    const double c = std::cos((t / T + s) / (1.0 + s) * kPi / 2.0);
    return c * c;
  };
  std::vector<double> betas(static_cast<size_t>(steps));
  for (int64_t t = 0; t < steps; ++t) {
    const double td = static_cast<double>(t);
    betas[static_cast<size_t>(t)] = std::min(1.0 - f(td + 1.0) / f(td), kCosineMaxBeta);
  }
  return BetaSchedule(std::move(betas));
}

BetaSchedule BetaSchedule::by_name(const std::string& name, int64_t steps) {
  if (name == "linear") {
    // Ho et al.'s 1e-4 -> 0.02 is for T = 1000; other T rescale both ends by 1000 / T (improved-diffusion),
    // so that abar_T stays near 0 and x_T ~ N(0, I) remains a valid start.
    const double scale = 1000.0 / static_cast<double>(steps);
    return linear(steps, std::min(1e-4 * scale, 0.999), std::min(0.02 * scale, 0.999));
  }
  if (name == "cosine") return cosine(steps);
  throw ConfigError("unknown beta schedule '" + name + "'; known: cosine, linear");
}

double BetaSchedule::posterior_variance(int64_t t) const {
  if (t == 0) return 0.0;
  return (1.0 - alpha_bar(t - 1)) / (1.0 - alpha_bar(t)) * beta(t);
}

double BetaSchedule::sigma_equivalent(int64_t t) const {
  const double ab = alpha_bar(t);
  return std::sqrt((1.0 - ab) / ab);
}

}  // namespace scorelab
