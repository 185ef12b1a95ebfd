// Noise schedules shared by objectives and samplers (one object per method, STYLE 4).
#pragma once
#include <ATen/Tensor.h>
#include <cstdint>
#include <string>
#include <vector>

namespace scorelab {

// NCSN noise levels: sigma_1 > ... > sigma_L, geometric between sigma_max and sigma_min (Song & Ermon 2019).
class SigmaSchedule {
 public:
  SigmaSchedule(double sigma_max, double sigma_min, int64_t levels);
  explicit SigmaSchedule(std::vector<double> sigmas);  // any decreasing positive list
  int64_t size() const { return static_cast<int64_t>(sigmas_.size()); }
  double sigma(int64_t i) const { return sigmas_.at(static_cast<size_t>(i)); }
  const std::vector<double>& sigmas() const { return sigmas_; }
  at::Tensor as_tensor() const;  // float64 CPU, shape [L]

 private:
  std::vector<double> sigmas_;
};

// DDPM variance schedule over t = 0..T-1 (Ho et al. 2020; cosine: Nichol & Dhariwal 2021).
class BetaSchedule {
 public:
  static BetaSchedule linear(int64_t steps, double beta_start = 1e-4, double beta_end = 0.02);
  // abar(t) = f(t)/f(0), f(t) = cos^2(((t/T + s)/(1 + s)) pi/2); betas clipped at 0.999.
  static BetaSchedule cosine(int64_t steps, double s = 0.008);
  // "linear" (ends rescaled by 1000 / steps, exact for T = 1000) or "cosine".
  static BetaSchedule by_name(const std::string& name, int64_t steps);

  int64_t steps() const { return static_cast<int64_t>(betas_.size()); }
  double beta(int64_t t) const { return betas_.at(static_cast<size_t>(t)); }
  double alpha_bar(int64_t t) const { return alpha_bars_.at(static_cast<size_t>(t)); }
  // Posterior variance beta~_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t (0 at t = 0).
  double posterior_variance(int64_t t) const;
  // Equivalent NCSN noise level of x_t / sqrt(abar_t): sqrt((1 - abar_t) / abar_t).
  double sigma_equivalent(int64_t t) const;
  const std::vector<double>& betas() const { return betas_; }
  const std::vector<double>& alpha_bars() const { return alpha_bars_; }

 private:
  explicit BetaSchedule(std::vector<double> betas);
  std::vector<double> betas_;
  std::vector<double> alpha_bars_;
};

}  // namespace scorelab
