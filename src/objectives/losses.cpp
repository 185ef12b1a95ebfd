#include <torch/torch.h>

#include "core/noise.h"
#include "data/transforms.h"
#include "core/error.h"
#include "objectives/objective.h"

namespace scorelab {

namespace {
int64_t dims_per_example(const at::Tensor& x) { return x.numel() / std::max<int64_t>(1, x.size(0)); }

// Uniform timesteps in [0, T); antithetic: the second half mirrors the first (t and T - 1 - t).
at::Tensor sample_timesteps(int64_t n, int64_t T, bool antithetic, const at::Tensor& like, at::Generator& gen) {
  auto opts = like.options().dtype(torch::kLong);
  if (!antithetic) return at::randint(T, {n}, gen, opts);
  auto half = at::randint(T, {(n + 1) / 2}, gen, opts);
  return torch::cat({half, T - 1 - half}).slice(0, 0, n);
}

at::Tensor random_levels(int64_t n, int64_t levels, const at::Tensor& like, at::Generator& gen) {
  return at::randint(levels, {n}, gen, like.options().dtype(torch::kLong));
}

}  // namespace

LossOutput nll_loss(const LogProbFn& log_prob, const at::Tensor& x_global) {
  const at::Tensor x = local_rows(x_global);
  auto per = -log_prob(x, {}) / static_cast<double>(dims_per_example(x));
  return {per.mean(), per.detach()};
}

LossOutput smoothed_nll_loss(const LogProbFn& log_prob, const at::Tensor& x, double sigma, at::Generator& gen) {
  return smoothed_nll_loss(log_prob, x, Smoothing{sigma, 0.0}, gen);
}

LossOutput smoothed_nll_loss(const LogProbFn& log_prob, const at::Tensor& x, const Smoothing& smoothing,
                             at::Generator& gen) {
  auto x_tilde = local_rows(smoothing.apply(x, gen));
  auto per = -log_prob(x_tilde, {}) / static_cast<double>(dims_per_example(x));
  return {per.mean(), per.detach()};
}

LossOutput reverse_smoothing_loss(const LogProbFn& log_prob, const at::Tensor& x, double sigma, at::Generator& gen,
                                  double target_noise) {
  return reverse_smoothing_loss(log_prob, x, Smoothing{sigma, 0.0}, gen, target_noise);
}

LossOutput reverse_smoothing_loss(const LogProbFn& log_prob, const at::Tensor& x, const Smoothing& smoothing,
                                  at::Generator& gen, double target_noise) {
  auto x_tilde = local_rows(smoothing.apply(x, gen));
  auto target = local_rows(target_noise > 0 ? smooth(x, target_noise, gen) : x);
  auto per = -log_prob(target, x_tilde) / static_cast<double>(dims_per_example(x));
  return {per.mean(), per.detach()};
}

at::Tensor smoothing_log_bound(const at::Tensor& log_p_tilde, const at::Tensor& log_p_x_given_tilde, const at::Tensor& x,
                               const at::Tensor& x_tilde, double sigma) {
  TORCH_CHECK(sigma > 0, "smoothing_log_bound: sigma must be > 0");
  const double D = static_cast<double>(dims_per_example(x));
  auto log_q = -0.5 * ((x_tilde - x) / sigma).pow(2).flatten(1).sum(1) - D * std::log(sigma) - 0.5 * D * std::log(2 * M_PI);
  return log_p_tilde + log_p_x_given_tilde - log_q;
}

namespace {
// x + sigma u with u from the family (Gaussian: the shared perturb_ve stream, as before noise families).
Noised perturb_family(const at::Tensor& x, const at::Tensor& sigma, const NoiseFamily& noise, at::Generator& gen) {
  if (noise.gaussian()) return add_gaussian_noise(x, sigma, gen);
  at::Tensor u = noise.draw(x.sizes(), x, gen);
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = -1;
  return {x + sigma.reshape(shape) * u, u};
}
}  // namespace

LevelSampling level_sampling_by_name(const std::string& name, const std::string& flag) {
  if (name == "random") return LevelSampling::Random;
  if (name == "stratified") return LevelSampling::Stratified;
  if (name == "all") return LevelSampling::All;
  if (name == "log-uniform") return LevelSampling::LogUniform;
  throw ConfigError(flag_error(flag, name, "random, stratified, all or log-uniform"));
}

ScoreWeight score_weight_by_name(const std::string& name, const std::string& flag) {
  if (name == "sigma2") return ScoreWeight::Sigma2;
  if (name == "one") return ScoreWeight::One;
  if (name == "sigma") return ScoreWeight::Sigma;
  throw ConfigError(flag_error(flag, name, "sigma2 (lambda = sigma^2, NCSN), one (lambda = 1) or sigma (lambda = sigma)"));
}

double lambda_over_sigma2(ScoreWeight weight, double sigma) {
  switch (weight) {
    case ScoreWeight::Sigma2: return 1.0;
    case ScoreWeight::One: return 1.0 / (sigma * sigma);
    case ScoreWeight::Sigma: return 1.0 / sigma;
  }
  return 1.0;
}

namespace {
// A per-example loss in the lambda = sigma^2 form, reweighted to lambda(sigma): times lambda / sigma^2 (the tensor
// form of lambda_over_sigma2).
// The default returns its input untouched (the same bytes as before the option).
at::Tensor reweight(const at::Tensor& per_sigma2, const at::Tensor& sigma, ScoreWeight weight) {
  switch (weight) {
    case ScoreWeight::Sigma2: return per_sigma2;
    case ScoreWeight::One: return per_sigma2 / sigma.pow(2);
    case ScoreWeight::Sigma: return per_sigma2 / sigma;
  }
  return per_sigma2;
}
}  // namespace

LossOutput dsm_loss(const ScoreNetFn& score, const at::Tensor& x, const SigmaSchedule& sigmas, at::Generator& gen,
                    const NoiseFamily& family, LevelSampling levels, ScoreWeight weight) {
  if (levels == LevelSampling::All) {
    // Every level for every example: [n, L, ...] draws for the global batch, this rank's examples kept, the
    // per-example loss the mean over its L levels.
    const int64_t L = sigmas.size();
    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
    shape.insert(shape.begin() + 1, L);
    const at::Tensor u_all = family.draw(shape, x, gen);
    const at::Tensor xe = local_rows(x.unsqueeze(1).expand(shape)), u = local_rows(u_all);
    const int64_t m = xe.size(0);
    std::vector<int64_t> flat = shape;
    flat.erase(flat.begin());
    flat[0] = m * L;
    auto sigma = sigmas.as_tensor().to(x.device()).to(x.scalar_type()).repeat({m});  // [m L]
    auto xf = xe.reshape(flat), uf = u.reshape(flat);
    auto s = per_example(sigma, xf);
    auto diff = score(xf + s * uf, sigma) * s + (family.gaussian() ? uf : family.residual(uf));
    auto per = reweight(0.5 * diff.pow(2).flatten(1).sum(1), sigma, weight).reshape({m, L}).mean(1);
    return {per.mean(), per.detach()};
  }
  at::Tensor sigma_all;
  if (levels == LevelSampling::LogUniform) {
    // sigma = sigma_min (sigma_max / sigma_min)^t, t ~ U(0, 1): the continuous VE training of score_sde.
    const double lo = std::log(sigmas.sigmas().back()), hi = std::log(sigmas.sigmas().front());
    sigma_all = (at::rand({x.size(0)}, gen, x.options()) * (hi - lo) + lo).exp();
  } else {
    // Random: one uniform level per example (NCSN). Stratified: a random permutation of the examples dealt
    // over the levels in turn from a random first level, so every level gets floor or ceil(n / L) examples of
    // the batch and, over the offset, n / L on average (unbiased also when L does not divide n).
    at::Tensor idx;
    if (levels == LevelSampling::Stratified) {
      const at::Tensor offset = at::randint(sigmas.size(), {1}, gen, x.options().dtype(torch::kLong));
      idx = (at::randperm(x.size(0), gen, x.options().dtype(torch::kLong)) + offset).remainder(sigmas.size());
    } else {
      idx = random_levels(x.size(0), sigmas.size(), x, gen);
    }
    sigma_all = sigmas.as_tensor().to(x.device()).to(x.scalar_type()).index_select(0, idx);
  }
  auto noised = perturb_family(x, sigma_all, family, gen);
  const at::Tensor sigma = local_rows(sigma_all), noisy = local_rows(noised.noisy), noise = local_rows(noised.noise);
  auto s = per_example(sigma, noisy);
  // target = -(x~ - x) / sigma^2 = -z / sigma; lambda(sigma) = sigma^2 gives ||sigma s + z||^2. Other families:
  // target = -g(u) / sigma (core/noise_family.h), ||sigma s + g(u)||^2.
  auto diff = score(noisy, sigma) * s + (family.gaussian() ? noise : family.residual(noise));
  auto per = reweight(0.5 * diff.pow(2).flatten(1).sum(1), sigma, weight);
  return {per.mean(), per.detach()};
}

LossOutput ssm_loss(const ScoreNetFn& score, const at::Tensor& x, const SigmaSchedule& sigmas, int64_t projections,
                    at::Generator& gen, const NoiseFamily& family, const SsmOptions& options, ScoreWeight weight) {
  TORCH_CHECK(projections >= 1, "ssm needs at least one projection");
  auto idx = random_levels(x.size(0), sigmas.size(), x, gen);
  auto sigma_all = sigmas.as_tensor().to(x.device()).to(x.scalar_type()).index_select(0, idx);
  auto x_tilde = local_rows(perturb_family(x, sigma_all, family, gen).noisy).detach().requires_grad_(true);
  const at::Tensor sigma = local_rows(sigma_all);
  auto s = score(x_tilde, sigma);
  at::Tensor per = torch::zeros({x_tilde.size(0)}, x.options());
  for (int64_t p = 0; p < projections; ++p) {
    // Rademacher: +-1 with equal odds (never 0).
    auto v = local_rows(options.rademacher ? at::randint(2, x.sizes(), gen, x.options()).mul_(2.0).sub_(1.0)
                                           : at::normal(0.0, 1.0, x.sizes(), gen, x.options()));
    auto sv = (s * v).flatten(1).sum(1);
    auto grad_sv = torch::autograd::grad({sv.sum()}, {x_tilde}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
    per = per + (grad_sv * v).flatten(1).sum(1);
    if (!options.variance_reduced) per = per + 0.5 * sv.pow(2);
  }
  per = per / static_cast<double>(projections);
  if (options.variance_reduced) per = per + 0.5 * s.pow(2).flatten(1).sum(1);
  per = reweight(per * sigma.pow(2), sigma, weight);
  return {per.mean(), per.detach()};
}

LossOutput ddpm_loss(const EpsNetFn& eps, const at::Tensor& x0, const BetaSchedule& betas, bool antithetic,
                     at::Generator& gen) {
  const int64_t n = x0.size(0);
  const int64_t T = betas.steps();
  const at::Tensor t_all = sample_timesteps(n, T, antithetic, x0, gen);
  auto abar = torch::tensor(betas.alpha_bars(), torch::kFloat64).to(x0.device()).to(x0.scalar_type()).index_select(0, t_all);
  const Perturbed p = perturb_vp(x0, abar, gen);
  auto per = (eps(local_rows(p.noisy), local_rows(t_all)) - local_rows(p.noise)).pow(2).flatten(1).mean(1);
  return {per.mean(), per.detach()};
}

at::Tensor gaussian_kl(const at::Tensor& m1, const at::Tensor& lv1, const at::Tensor& m2, const at::Tensor& lv2) {
  return 0.5 * (-1.0 + lv2 - lv1 + torch::exp(lv1 - lv2) + (m1 - m2).pow(2) * torch::exp(-lv2));
}

at::Tensor discretized_gaussian_log_likelihood(const at::Tensor& x, const at::Tensor& mean, const at::Tensor& log_var) {
  auto inv_std = torch::exp(-0.5 * log_var);
  auto phi = [](const at::Tensor& z) { return 0.5 * (1.0 + torch::erf(z / std::sqrt(2.0))); };
  auto cdf_plus = phi((x - mean + 1.0 / 255) * inv_std);
  auto cdf_minus = phi((x - mean - 1.0 / 255) * inv_std);
  auto log_cdf_plus = torch::log(cdf_plus.clamp_min(1e-12));
  auto log_one_minus_cdf_minus = torch::log((1.0 - cdf_minus).clamp_min(1e-12));
  auto log_delta = torch::log((cdf_plus - cdf_minus).clamp_min(1e-12));
  return torch::where(x < -0.999, log_cdf_plus, torch::where(x > 0.999, log_one_minus_cdf_minus, log_delta));
}

LossOutput ddpm_hybrid_loss(const EpsNetFn& eps_var, const at::Tensor& x0_all, const BetaSchedule& betas, bool antithetic,
                            at::Generator& gen) {
  const int64_t n = x0_all.size(0);
  const int64_t T = betas.steps();
  const at::Tensor t_all = sample_timesteps(n, T, antithetic, x0_all, gen);
  // Per-step tables (float64 on the host, then gathered per example).
  std::vector<double> ab_prev(T), log_beta(T), log_post(T), c0(T), ct(T);
  for (int64_t i = 0; i < T; ++i) {
    const double ab = betas.alpha_bar(i), abp = i > 0 ? betas.alpha_bar(i - 1) : 1.0, b = betas.beta(i);
    ab_prev[i] = abp;
    log_beta[i] = std::log(b);
    // beta~_0 = 0: the reference clips the log posterior variance at t = 0 to that of t = 1.
    const double post = T > 1 ? betas.posterior_variance(i > 0 ? i : 1) : b;
    log_post[i] = std::log(post);
    c0[i] = std::sqrt(abp) * b / (1 - ab);
    ct[i] = std::sqrt(1 - b) * (1 - abp) / (1 - ab);
  }
  auto gather_at = [&](const std::vector<double>& v, const at::Tensor& t, const at::Tensor& like) {
    return per_example(torch::tensor(v, torch::kFloat64).to(like.device()).to(like.scalar_type()).index_select(0, t), like);
  };
  const Perturbed p = perturb_vp(x0_all, gather_at(betas.alpha_bars(), t_all, x0_all).flatten(), gen);
  // Every draw was for the global batch; this process takes its rows (local_rows: identity in one process).
  const at::Tensor x0 = local_rows(x0_all), t = local_rows(t_all), noise = local_rows(p.noise), xt = local_rows(p.noisy);
  auto gather = [&](const std::vector<double>& v) { return gather_at(v, t, x0); };
  auto abar = gather(betas.alpha_bars());
  auto out = eps_var(xt, t);
  TORCH_CHECK(out.size(1) == 2 * x0.size(1), "ddpm-hybrid needs a network with 2C outputs (learned variances), got ",
              out.size(1), " channels for C = ", x0.size(1));
  auto parts = out.chunk(2, 1);
  auto eps = parts[0], v = parts[1];
  auto mse = (eps - noise).pow(2).flatten(1).mean(1);
  // Model mean from eps (stop-gradient for the vlb term), learned log-variance.
  auto x0_pred = (xt - torch::sqrt(1 - abar) * eps.detach()) / torch::sqrt(abar);
  auto c0t = gather(c0), ctt = gather(ct);
  auto model_mean = c0t * x0_pred + ctt * xt;
  auto frac = (v + 1) * 0.5;
  auto model_log_var = frac * gather(log_beta) + (1 - frac) * gather(log_post);
  auto true_mean = c0t * x0 + ctt * xt;
  auto true_log_var = gather(log_post);
  const double ln2 = std::log(2.0);
  auto kl = gaussian_kl(true_mean, true_log_var, model_mean, model_log_var).flatten(1).mean(1) / ln2;
  auto nll = -discretized_gaussian_log_likelihood(x0, model_mean, model_log_var).flatten(1).mean(1) / ln2;
  auto vb = torch::where(t == 0, nll, kl);
  auto per = mse + vb * (static_cast<double>(T) / 1000.0);
  return {per.mean(), per.detach()};
}

}  // namespace scorelab
