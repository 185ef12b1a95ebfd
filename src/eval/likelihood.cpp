#include "eval/likelihood.h"

#include <torch/torch.h>

#include <boost/program_options.hpp>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/cli.h"
#include "core/error.h"
#include "core/schedule.h"
#include "objectives/objective.h"

namespace po = boost::program_options;

namespace scorelab {

void LikelihoodConfig::add_options(po::options_description& desc) {
  po::options_description l("Likelihood (probability-flow ODE, DDPM bound)");
  l.add_options()
      ("lik-solver", po::value(&solver)->default_value(solver), "ODE likelihood solver: euler | heun | rk4 | rk45 (adaptive)")
      ("lik-steps", po::value(&steps)->default_value(steps), "fixed-step solvers: steps in log sigma (rk45: first step 1/steps)")
      ("lik-rtol", po::value(&rtol)->default_value(rtol), "rk45 relative tolerance")
      ("lik-atol", po::value(&atol)->default_value(atol), "rk45 absolute tolerance")
      ("divergence", po::value(&divergence)->default_value(divergence), "auto (exact for D <= 16, else hutchinson) | exact (D backward passes) | hutchinson (probes)")
      ("probe", po::value(&probe)->default_value(probe), "Hutchinson probes: rademacher | gaussian")
      ("probes", po::value(&probes)->default_value(probes), "Hutchinson probes per example (K >= 2 gives a standard error)")
      ("vlb-strata", po::value(&vlb_strata)->default_value(vlb_strata), "DDPM bound: 0 = all T terms, S = S strata, 2 timesteps each")
      ("lik-batch-size", po::value(&batch_size)->default_value(batch_size), "examples per likelihood batch")
      ("ode-examples", po::value(&ode_examples)->default_value(ode_examples), "ODE likelihood on the first N test examples only (0: all)");
  desc.add(l);
}

void LikelihoodConfig::validate() const {
  require_one_of("--lik-solver", solver, {"euler", "heun", "rk4", "rk45"});
  require_one_of("--divergence", divergence, {"auto", "exact", "hutchinson"});
  require_one_of("--probe", probe, {"rademacher", "gaussian"});
  require_one_of("--ddpm-variance", variance, {"small", "large"});
  if (steps < 1) throw ConfigError(flag_error("--lik-steps", std::to_string(steps), "an integer >= 1"));
  if (probes < 1) throw ConfigError(flag_error("--probes", std::to_string(probes), "an integer >= 1"));
  if (vlb_strata < 0) throw ConfigError(flag_error("--vlb-strata", std::to_string(vlb_strata), "an integer >= 0"));
  if (ode_examples < 0) throw ConfigError(flag_error("--ode-examples", std::to_string(ode_examples), "an integer >= 0"));
  if (batch_size < 1) throw ConfigError(flag_error("--lik-batch-size", std::to_string(batch_size), "an integer >= 1"));
  if (!(rtol > 0) || !(atol > 0))
    throw ConfigError(flag_error(rtol > 0 ? "--lik-atol" : "--lik-rtol", std::to_string(rtol > 0 ? atol : rtol),
                                 "a number > 0"));
}

nlohmann::json LikelihoodConfig::to_json() const {
  return {{"solver", solver}, {"steps", steps}, {"rtol", rtol}, {"atol", atol}, {"divergence", divergence},
          {"probe", probe}, {"probes", probes}, {"vlb_strata", vlb_strata}, {"variance", variance}, {"ode_examples", ode_examples},
          {"batch_size", batch_size}};
}

namespace {

using GFn = std::function<at::Tensor(const at::Tensor&)>;

// g(x) and its divergence: exact ([1, N]) when probes is undefined, else Hutchinson per probe ([K, N]).
std::pair<at::Tensor, at::Tensor> value_and_divergence(const GFn& g, const at::Tensor& x, const at::Tensor& probes) {
  torch::AutoGradMode grad_mode(true);
  at::Tensor xg = x.detach().requires_grad_(true);
  at::Tensor out = g(xg);
  TORCH_CHECK(out.sizes() == x.sizes(), "likelihood: the drift has shape ", out.sizes(), ", expected ", x.sizes());
  const int64_t n = x.size(0);
  std::vector<at::Tensor> divs;
  if (!probes.defined()) {
    const at::Tensor flat = out.reshape({n, -1});
    const int64_t d = flat.size(1);
    at::Tensor div = torch::zeros({n}, x.options());
    for (int64_t j = 0; j < d; ++j) {
      auto grad = torch::autograd::grad({flat.select(1, j).sum()}, {xg}, {}, /*retain_graph=*/true)[0];
      div += grad.reshape({n, -1}).select(1, j);
    }
    divs.push_back(div);
  } else {
    const int64_t k = probes.size(0);
    for (int64_t i = 0; i < k; ++i) {
      const at::Tensor v = probes[i];
      auto grad = torch::autograd::grad({(out * v).sum()}, {xg}, {}, /*retain_graph=*/i + 1 < k)[0];
      divs.push_back((grad * v).reshape({n, -1}).sum(1));
    }
  }
  return {out.detach(), torch::stack(divs).detach()};
}

double rms_error(const at::Tensor& err, const at::Tensor& y0, const at::Tensor& y1, double rtol, double atol) {
  const at::Tensor scale = atol + rtol * torch::maximum(y0.abs(), y1.abs());
  return (err / scale).pow(2).mean().sqrt().item<double>();
}

}  // namespace

at::Tensor divergence_exact(const GFn& g, const at::Tensor& x) { return value_and_divergence(g, x, {}).second[0]; }

at::Tensor divergence_hutchinson(const GFn& g, const at::Tensor& x, const at::Tensor& probes) {
  TORCH_CHECK(probes.dim() == x.dim() + 1 && probes.sizes().slice(1) == x.sizes(),
              "divergence_hutchinson: probes must be [K, ", x.sizes(), "], got ", probes.sizes());
  return value_and_divergence(g, x, probes).second;
}

at::Tensor solve_ode(const OdeFn& f, at::Tensor y, double u0, double u1, const std::string& solver, int64_t steps,
                     double rtol, double atol, int64_t* nfe_out, int64_t* rejected_out) {
  int64_t nfe = 0, rejected = 0;
  auto F = [&](double u, const at::Tensor& x) {
    ++nfe;
    return f(u, x);
  };
  if (solver != "rk45") {
    const double h = (u1 - u0) / static_cast<double>(steps);
    for (int64_t i = 0; i < steps; ++i) {
      const double u = u0 + h * static_cast<double>(i);
      if (solver == "euler") {
        y = y + h * F(u, y);
      } else if (solver == "heun") {
        const at::Tensor k1 = F(u, y);
        const at::Tensor k2 = F(u + h, y + h * k1);
        y = y + 0.5 * h * (k1 + k2);
      } else if (solver == "rk4") {
        const at::Tensor k1 = F(u, y);
        const at::Tensor k2 = F(u + 0.5 * h, y + 0.5 * h * k1);
        const at::Tensor k3 = F(u + 0.5 * h, y + 0.5 * h * k2);
        const at::Tensor k4 = F(u + h, y + h * k3);
        y = y + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4);
      } else {
        throw ConfigError(flag_error("--lik-solver", solver, "euler, heun, rk4 or rk45"));
      }
    }
  } else {
    // Dormand-Prince 5(4) with FSAL and the standard step-size control.
    const double dir = u1 >= u0 ? 1.0 : -1.0;
    double u = u0, h = (u1 - u0) / static_cast<double>(steps);
    at::Tensor k1 = F(u, y);
    int64_t guard = 0;
    while (dir * (u1 - u) > 1e-12 * std::max(1.0, std::abs(u1))) {
      if (dir * (u + h - u1) > 0) h = u1 - u;
      const at::Tensor k2 = F(u + h / 5, y + h * (k1 / 5));
      const at::Tensor k3 = F(u + 3 * h / 10, y + h * (3.0 / 40 * k1 + 9.0 / 40 * k2));
      const at::Tensor k4 = F(u + 4 * h / 5, y + h * (44.0 / 45 * k1 - 56.0 / 15 * k2 + 32.0 / 9 * k3));
      const at::Tensor k5 = F(u + 8 * h / 9, y + h * (19372.0 / 6561 * k1 - 25360.0 / 2187 * k2 + 64448.0 / 6561 * k3 -
                                                      212.0 / 729 * k4));
      const at::Tensor k6 = F(u + h, y + h * (9017.0 / 3168 * k1 - 355.0 / 33 * k2 + 46732.0 / 5247 * k3 +
                                              49.0 / 176 * k4 - 5103.0 / 18656 * k5));
      const at::Tensor y5 =
          y + h * (35.0 / 384 * k1 + 500.0 / 1113 * k3 + 125.0 / 192 * k4 - 2187.0 / 6784 * k5 + 11.0 / 84 * k6);
      const at::Tensor k7 = F(u + h, y5);
      const at::Tensor err = h * ((35.0 / 384 - 5179.0 / 57600) * k1 + (500.0 / 1113 - 7571.0 / 16695) * k3 +
                                  (125.0 / 192 - 393.0 / 640) * k4 + (-2187.0 / 6784 + 92097.0 / 339200) * k5 +
                                  (11.0 / 84 - 187.0 / 2100) * k6 - (1.0 / 40) * k7);
      const double e = rms_error(err, y, y5, rtol, atol);
      if (e <= 1.0) {
        u += h;
        y = y5;
        k1 = k7;
      } else {
        ++rejected;
      }
      const double factor = e == 0.0 ? 10.0 : std::min(10.0, std::max(0.2, 0.9 * std::pow(e, -0.2)));
      h *= factor;
      TORCH_CHECK(++guard < 100000 && std::isfinite(e), "likelihood rk45: no progress (error ", e, " at u = ", u,
                  "); loosen --lik-rtol / --lik-atol or use a fixed-step solver");
    }
  }
  if (nfe_out) *nfe_out = nfe;
  if (rejected_out) *rejected_out = rejected;
  return y;
}

PriorLogProb gaussian_prior(double var, const at::Tensor& mean) {
  return [var, mean](const at::Tensor& x) {
    at::Tensor flat = x.reshape({x.size(0), -1}).to(torch::kFloat64);
    if (mean.defined()) flat = flat - mean.reshape({1, -1}).to(flat.device(), torch::kFloat64);
    const double d = static_cast<double>(flat.size(1));
    return (-0.5 * d * std::log(2 * M_PI * var) - flat.pow(2).sum(1) / (2 * var)).to(x.scalar_type());
  };
}

std::string divergence_label(const LikelihoodConfig& config, int64_t dims) {
  if (config.divergence == "exact" || (config.divergence == "auto" && dims <= 16)) return "exact divergence";
  return "Hutchinson, " + std::to_string(config.probes) + " " + config.probe + " probe" + (config.probes > 1 ? "s" : "");
}

LikelihoodResult ode_log_likelihood(const ScoreFn& score, double sigma_min, double sigma_max, const PriorLogProb& prior,
                                    const at::Tensor& x, const LikelihoodConfig& config, at::Generator& gen) {
  config.validate();  // (divergence "auto" resolves below, once D is known)
  TORCH_CHECK(sigma_min > 0 && sigma_max > sigma_min, "ode likelihood: needs 0 < sigma_min < sigma_max, got ", sigma_min,
              ", ", sigma_max);
  const int64_t n = x.size(0);
  const int64_t d = x.numel() / n;
  const bool exact = config.divergence == "exact" || (config.divergence == "auto" && d <= 16);
  const int64_t k = exact ? 1 : config.probes;
  at::Tensor probes;
  if (!exact) {
    std::vector<int64_t> shape{k};
    for (auto s : x.sizes()) shape.push_back(s);
    probes = config.probe == "gaussian" ? torch::randn(shape, gen, x.options())
                                        : torch::randint(0, 2, shape, gen, x.options()) * 2 - 1;
  }
  const auto sizes = x.sizes().vec();
  const OdeFn f = [&](double u, const at::Tensor& y) {
    const double sigma = std::exp(u);
    const at::Tensor xs = y.slice(1, 0, d).reshape(sizes);
    auto [g, div] = value_and_divergence(
        [&](const at::Tensor& z) { return -sigma * sigma * score(z, sigma); }, xs, probes);
    return torch::cat({g.reshape({n, d}), div.t().to(y.scalar_type())}, 1);
  };
  at::Tensor y0 = torch::cat({x.detach().reshape({n, d}), torch::zeros({n, k}, x.options())}, 1);
  int64_t nfe = 0, rejected = 0;
  const at::Tensor yT = solve_ode(f, y0, std::log(sigma_min), std::log(sigma_max), config.solver, config.steps,
                                  config.rtol, config.atol, &nfe, &rejected);
  const at::Tensor log_pT = prior(yT.slice(1, 0, d).reshape(sizes)).to(torch::kFloat64);
  const at::Tensor per_probe = log_pT.unsqueeze(1) + yT.slice(1, d).to(torch::kFloat64);  // [N, K]
  LikelihoodResult r;
  r.log_p = per_probe.mean(1);
  if (exact) r.probe_se = torch::zeros({n}, torch::kFloat64);
  else if (k == 1) r.probe_se = torch::full({n}, std::numeric_limits<double>::quiet_NaN(), torch::kFloat64);
  else r.probe_se = per_probe.std(1) / std::sqrt(static_cast<double>(k));
  r.nfe = static_cast<double>(nfe);
  r.rejected = static_cast<double>(rejected);
  return r;
}

namespace {

// Per-timestep tables of the bound.
struct VlbTables {
  std::vector<double> abar, abar_prev, log_beta, log_post, log_post_clipped, c0, ct;
  explicit VlbTables(const BetaSchedule& b) {
    const int64_t T = b.steps();
    for (int64_t i = 0; i < T; ++i) {
      const double ab = b.alpha_bar(i), abp = i > 0 ? b.alpha_bar(i - 1) : 1.0, beta = b.beta(i);
      abar.push_back(ab);
      abar_prev.push_back(abp);
      log_beta.push_back(std::log(beta));
      const double post = b.posterior_variance(i);
      log_post.push_back(post > 0 ? std::log(post) : -std::numeric_limits<double>::infinity());
      // beta~_0 = 0: clipped to beta~_1 (improved-diffusion's posterior_log_variance_clipped).
      log_post_clipped.push_back(std::log(T > 1 ? b.posterior_variance(i > 0 ? i : 1) : beta));
      c0.push_back(std::sqrt(abp) * beta / (1 - ab));
      ct.push_back(std::sqrt(1 - beta) * (1 - abp) / (1 - ab));
    }
  }
};

at::Tensor sum_dims(const at::Tensor& t) { return t.reshape({t.size(0), -1}).sum(1); }

}  // namespace

VlbResult ddpm_vlb(const EpsVarFn& net, const BetaSchedule& betas, const at::Tensor& x0, bool discrete,
                   const LikelihoodConfig& config, at::Generator& gen) {
  config.validate();
  torch::NoGradGuard no_grad;
  const VlbTables tab(betas);
  const int64_t T = betas.steps(), n = x0.size(0), c = x0.size(1);
  const auto opts = x0.options();
  auto per = [&](const std::vector<double>& v, const at::Tensor& t) {
    std::vector<int64_t> shape(static_cast<size_t>(x0.dim()), 1);
    shape[0] = n;
    return torch::tensor(v, torch::kFloat64).to(x0.device()).index_select(0, t).to(x0.scalar_type()).view(shape);
  };
  // The term of timestep index t (per example, [N] long) with a fresh draw of x_t: nats per example.
  auto term = [&](const at::Tensor& t) {
    const at::Tensor ab = per(tab.abar, t);
    const at::Tensor e = torch::randn(x0.sizes(), gen, opts);
    const at::Tensor xt = ab.sqrt() * x0 + (1 - ab).sqrt() * e;
    const at::Tensor out = net(xt, t);
    TORCH_CHECK(out.size(1) == c || out.size(1) == 2 * c, "ddpm bound: the network gives ", out.size(1),
                " channels for C = ", c, " (expected C or 2C)");
    const at::Tensor eps = out.slice(1, 0, c);
    at::Tensor x0_pred = (xt - (1 - ab).sqrt() * eps) / ab.sqrt();
    if (discrete) x0_pred = x0_pred.clamp(-1.0, 1.0);  // improved-diffusion's clip_denoised for images
    const at::Tensor c0 = per(tab.c0, t), ct = per(tab.ct, t);
    const at::Tensor model_mean = c0 * x0_pred + ct * xt;
    at::Tensor model_log_var;
    if (out.size(1) == 2 * c) {
      const at::Tensor frac = (out.slice(1, c) + 1) * 0.5;
      model_log_var = frac * per(tab.log_beta, t) + (1 - frac) * per(tab.log_post_clipped, t);
    } else if (config.variance == "large") {
      // improved-diffusion's fixed large variance: beta_t, with beta~_1 at t = 0.
      std::vector<double> large = tab.log_beta;
      large[0] = tab.log_post_clipped[0];
      model_log_var = per(large, t).expand_as(x0);
    } else {
      model_log_var = per(tab.log_post_clipped, t).expand_as(x0);
    }
    const at::Tensor is0 = t.eq(0);
    // t >= 1: KL to the true posterior q(x_{t-1} | x_t, x0); t = 0: the decoder.
    const at::Tensor safe_t = torch::where(is0, torch::ones_like(t), t);
    const at::Tensor kl = sum_dims(gaussian_kl(per(tab.c0, safe_t) * x0 + per(tab.ct, safe_t) * xt,
                                               per(tab.log_post, safe_t).expand_as(x0), model_mean, model_log_var));
    at::Tensor dec;
    if (discrete) {
      dec = -sum_dims(discretized_gaussian_log_likelihood(x0, model_mean, model_log_var));
    } else {
      dec = sum_dims(0.5 * (std::log(2 * M_PI) + model_log_var + (x0 - model_mean).pow(2) * torch::exp(-model_log_var)));
    }
    return torch::where(is0, dec, kl);
  };
  const at::Tensor abT = torch::full({}, tab.abar.back(), opts);
  const at::Tensor prior = sum_dims(gaussian_kl(abT.sqrt() * x0, torch::log(1 - abT).expand_as(x0),
                                                torch::zeros_like(x0), torch::zeros_like(x0)));
  const auto long_opts = torch::TensorOptions().dtype(torch::kLong).device(x0.device());
  VlbResult r;
  r.prior_term = prior;
  r.decoder_term = term(torch::zeros({n}, long_opts));
  at::Tensor total = prior + r.decoder_term;
  if (config.vlb_strata == 0 || config.vlb_strata * 2 >= T - 1) {
    for (int64_t i = 1; i < T; ++i) total = total + term(torch::full({n}, i, long_opts));
    r.nfe = static_cast<double>(T);
  } else {
    // Strata [lo_k, hi_k) of 1..T-1; two uniform draws per stratum and example, mean times the stratum size.
    const int64_t S = config.vlb_strata, m = T - 1;
    for (int64_t k = 0; k < S; ++k) {
      const int64_t lo = 1 + k * m / S, hi = 1 + (k + 1) * m / S;
      at::Tensor sum = torch::zeros({n}, opts);
      for (int rep = 0; rep < 2; ++rep) sum = sum + term(torch::randint(lo, hi, {n}, gen, long_opts));
      total = total + sum * (static_cast<double>(hi - lo) / 2.0);
    }
    r.nfe = static_cast<double>(1 + 2 * S);
  }
  r.nll_bound = total;
  return r;
}

at::Tensor dequantize(const at::Tensor& x, at::Generator& gen) {
  return x + (torch::rand(x.sizes(), gen, x.options()) - 0.5) * (2.0 / 255.0);
}

double dequantized_bits_per_dim(double nll_nats, int64_t dims) {
  return nll_nats / (static_cast<double>(dims) * std::log(2.0)) + std::log2(127.5);
}

nlohmann::json nll_summary(const at::Tensor& nll) {
  const at::Tensor v = nll.to(torch::kFloat64).flatten();
  const int64_t n = v.numel();
  const double mean = v.mean().item<double>();
  const double se = n > 1 ? v.std().item<double>() / std::sqrt(static_cast<double>(n)) : NAN;
  auto num = [](double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); };
  return {{"nll", num(mean)}, {"se", num(se)}, {"n", n}};
}

}  // namespace scorelab
