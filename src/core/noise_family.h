// Perturbation noise families for denoising score matching (issue 14, experiment 8): x~ = x + sigma u with
// u i.i.d. per coordinate, standardised to unit variance:
//   gaussian   N(0, 1)
//   laplace    Laplace(0, b), b = 1 / sqrt(2)
//   student-t  c t_nu, c = sqrt((nu - 2) / nu) (nu > 2)
// The DSM target is grad_x~ log q(x~ | x) = -g(u) / sigma with g(u) = -d/du log f(u):
//   gaussian u;  laplace sign(u) / b;  student-t (nu + 1) u / (nu - 2 + u^2).
// Its conditional mean given x~ is the score of the perturbed data p_sigma = p * q_sigma (Vincent 2011), for
// any of these families; Tweedie's denoiser x~ + sigma^2 s(x~) and the probability-flow ODE are Gaussian-only.
#pragma once
#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>

#include <string>

namespace scorelab {

struct NoiseFamily {
  enum class Kind { Gaussian, Laplace, StudentT };
  Kind kind = Kind::Gaussian;
  double nu = 4.0;  // student-t degrees of freedom

  // "gaussian" | "laplace" | "student-t"; ConfigError naming `flag` otherwise, or for nu <= 2 with student-t.
  static NoiseFamily by_name(const std::string& name, double nu = 4.0, const std::string& flag = "--dsm-noise");
  std::string name() const;
  bool gaussian() const { return kind == Kind::Gaussian; }
  // Standardised draws u of the given shape (like's dtype and device) from gen.
  at::Tensor draw(at::IntArrayRef shape, const at::Tensor& like, at::Generator& gen) const;
  // g(u) = -d/du log f(u), elementwise.
  at::Tensor residual(const at::Tensor& u) const;
  // log f(u), elementwise (the standardised density).
  at::Tensor log_density(const at::Tensor& u) const;
};

}  // namespace scorelab
