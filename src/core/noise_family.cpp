#include "core/noise_family.h"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "core/error.h"

namespace scorelab {

namespace {
const double kLaplaceB = 1.0 / std::sqrt(2.0);
}

NoiseFamily NoiseFamily::by_name(const std::string& name, double nu, const std::string& flag) {
  NoiseFamily f;
  f.nu = nu;
  if (name == "gaussian") {
    f.kind = Kind::Gaussian;
  } else if (name == "laplace") {
    f.kind = Kind::Laplace;
  } else if (name == "student-t") {
    f.kind = Kind::StudentT;
    if (!(nu > 2.0) || !std::isfinite(nu))
      throw ConfigError(flag_error("--student-nu", (std::ostringstream() << nu).str(), "degrees of freedom > 2 (unit-variance noise needs a finite variance)"));
  } else {
    throw ConfigError(flag_error(flag, name, "gaussian, laplace or student-t"));
  }
  return f;
}

std::string NoiseFamily::name() const {
  switch (kind) {
    case Kind::Gaussian: return "gaussian";
    case Kind::Laplace: return "laplace";
    case Kind::StudentT: return "student-t";
  }
  return "?";
}

at::Tensor NoiseFamily::draw(at::IntArrayRef shape, const at::Tensor& like, at::Generator& gen) const {
  const auto opts = like.options();
  switch (kind) {
    case Kind::Gaussian:
      return at::normal(0.0, 1.0, shape, gen, opts);
    case Kind::Laplace: {
      // b (E1 - E2), E1, E2 ~ Exp(1).
      auto e = at::empty(shape, opts).exponential_(1.0, gen);
      auto e2 = at::empty(shape, opts).exponential_(1.0, gen);
      return (e - e2) * kLaplaceB;
    }
    case Kind::StudentT: {
      // c z / sqrt(chi2_nu / nu), chi2_nu = 2 Gamma(nu / 2).
      auto z = at::normal(0.0, 1.0, shape, gen, opts);
      auto g = at::_standard_gamma(at::full(shape, nu / 2.0, opts.dtype(at::kDouble)), gen).to(opts.dtype());
      return z * std::sqrt((nu - 2.0) / nu) / torch::sqrt(2.0 * g / nu);
    }
  }
  return {};
}

at::Tensor NoiseFamily::residual(const at::Tensor& u) const {
  switch (kind) {
    case Kind::Gaussian: return u;
    case Kind::Laplace: return torch::sign(u) / kLaplaceB;
    case Kind::StudentT: return (nu + 1.0) * u / (nu - 2.0 + u * u);
  }
  return {};
}

at::Tensor NoiseFamily::log_density(const at::Tensor& u) const {
  switch (kind) {
    case Kind::Gaussian: return -0.5 * u * u - 0.5 * std::log(2.0 * M_PI);
    case Kind::Laplace: return -u.abs() / kLaplaceB - std::log(2.0 * kLaplaceB);
    case Kind::StudentT: {
      const double c = std::sqrt((nu - 2.0) / nu);
      const double norm = std::lgamma((nu + 1.0) / 2.0) - std::lgamma(nu / 2.0) - 0.5 * std::log(nu * M_PI) - std::log(c);
      return norm - (nu + 1.0) / 2.0 * torch::log1p((u / c).pow(2) / nu);
    }
  }
  return {};
}

}  // namespace scorelab
