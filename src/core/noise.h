// Noise processes (STYLE 4; score_sde's `SDE` objects): the one place where noise is added to data.
// A process owns perturb (the marginal q(x | x0) at a level), prior sampling and the level <-> sigma map.
//   VarianceExploding   x = x0 + sigma e: distribution smoothing (one level) and NCSN's geometric sigmas.
//   VariancePreserving  x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) e: DDPM's betas. Divided by sqrt(abar_t) it is
//                       the VE state x0 + sigma_t e, sigma_t = sqrt((1 - abar_t) / abar_t) (Karras et al. 2022,
//                       sec. 3), which is how the VE-form samplers (pc, ode, edm) run on a VP network.
#pragma once
#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace scorelab {

class SigmaSchedule;
class BetaSchedule;

// The marginal of a state: x = alpha x0 + std e, e ~ N(0, I), i.e. x / alpha = x0 + sigma e.
struct NoiseLevel {
  double sigma = std::numeric_limits<double>::quiet_NaN();  // VE-equivalent level; 0: clean; NaN: not a known marginal
  double alpha = 1.0;                                         // signal coefficient (VP: sqrt(abar_t))
  double std = std::numeric_limits<double>::quiet_NaN();    // noise standard deviation, alpha sigma
  int64_t index = -1;  // the process's own index (NCSN level i, DDPM timestep t); -1: between grid levels

  bool known() const { return std::isfinite(sigma); }
  bool clean() const { return sigma == 0.0; }
  static NoiseLevel unknown() { return {}; }
  static NoiseLevel none() { return {0.0, 1.0, 0.0, -1}; }  // clean data
  static NoiseLevel ve(double sigma, int64_t index = -1) { return {sigma, 1.0, sigma, index}; }
};

// x = alpha x0 + std z with z ~ N(0, I) drawn from `gen` (one draw of x0's shape). A clean level returns x0.
at::Tensor perturb(const at::Tensor& x0, const NoiseLevel& level, at::Generator& gen);

struct Perturbed {
  at::Tensor noisy;  // alpha x0 + std z, per example
  at::Tensor noise;  // z
};

// The marginals every objective, sampler, inpainting and bound draws from (each draws z ~ N(0, I) of x0's
// shape from `gen`, also when the level is 0, so the stream does not depend on the level):
//   perturb_ve(x0, sigma)        x0 + sigma z: distribution smoothing, the bound's q(x~ | x), NCSN's DSM;
//   perturb_ve(x0, sigma [N])    one sigma per example;
//   perturb_vp(x0, abar [N])     sqrt(abar) x0 + sqrt(1 - abar) z per example: DDPM's q(x_t | x0).
Perturbed perturb_ve(const at::Tensor& x0, double sigma, at::Generator& gen);
Perturbed perturb_ve(const at::Tensor& x0, const at::Tensor& sigma, at::Generator& gen);
Perturbed perturb_vp(const at::Tensor& x0, const at::Tensor& alpha_bar, at::Generator& gen);

class NoiseProcess {
 public:
  virtual ~NoiseProcess() = default;
  virtual std::string kind() const = 0;  // "ve" | "vp"
  // Number of grid levels and level `index` in the process's own order (VE: sigma_1 > ... > sigma_L;
  // VP: t = 0 .. T-1, noise increasing).
  virtual int64_t size() const = 0;
  virtual NoiseLevel level(int64_t index) const = 0;
  // The level whose VE-equivalent sigma is `sigma`: VE processes take any sigma > 0 (off-grid index -1);
  // a VP process has only its grid and returns the nearest timestep in log sigma.
  virtual NoiseLevel at_sigma(double sigma) const = 0;
  // True when every sigma is a level of the network (VE); false when only the grid is (VP).
  virtual bool continuous() const = 0;
  double sigma_max() const;
  double sigma_min() const;
  // A draw from the prior (the largest level) in VE coordinates x / alpha: VE sigma_max z; VP z / sqrt(abar_{T-1}).
  at::Tensor prior_ve(int64_t n, at::IntArrayRef sample_shape, at::Generator& gen) const;
  // x = perturb(x0, level(index)) per example (index [N], long): the noisy batch and the noise drawn.
  virtual Perturbed perturb_batch(const at::Tensor& x0, const at::Tensor& index, at::Generator& gen) const = 0;
};

class VarianceExploding : public NoiseProcess {
 public:
  explicit VarianceExploding(std::vector<double> sigmas);  // decreasing, positive
  explicit VarianceExploding(const SigmaSchedule& sigmas);
  std::string kind() const override { return "ve"; }
  int64_t size() const override { return static_cast<int64_t>(sigmas_.size()); }
  NoiseLevel level(int64_t index) const override;
  NoiseLevel at_sigma(double sigma) const override;
  bool continuous() const override { return true; }
  Perturbed perturb_batch(const at::Tensor& x0, const at::Tensor& index, at::Generator& gen) const override;

 private:
  std::vector<double> sigmas_;
};

class VariancePreserving : public NoiseProcess {
 public:
  explicit VariancePreserving(const BetaSchedule& betas);
  std::string kind() const override { return "vp"; }
  int64_t size() const override { return static_cast<int64_t>(alpha_bar_.size()); }
  NoiseLevel level(int64_t index) const override;
  NoiseLevel at_sigma(double sigma) const override;
  bool continuous() const override { return false; }
  Perturbed perturb_batch(const at::Tensor& x0, const at::Tensor& index, at::Generator& gen) const override;

 private:
  std::vector<double> alpha_bar_, sigma_, log_sigma_;
};

// The levels of `sigmas` (decreasing) as the process sees them: VP snaps each to its nearest timestep and
// drops repeats (k-diffusion's quantised discrete schedules); VE keeps them.
std::vector<NoiseLevel> levels_for(const NoiseProcess& process, const std::vector<double>& sigmas);

// Decreasing geometric sigmas: n levels from hi to lo (n = 1: {hi}).
std::vector<double> geometric_sigmas(double hi, double lo, int64_t n);

}  // namespace scorelab
