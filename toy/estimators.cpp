#include "toy/estimators.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/io.h"
#include "core/precision.h"
#include "core/runtime.h"
#include "eval/markdown.h"
#include "models/toy_score.h"
#include "objectives/objective.h"
#include "toy/toy.h"

namespace fs = std::filesystem;

namespace scorelab {

namespace {

struct Estimate {
  double value = 0.0, se = 0.0;  // a Monte Carlo mean and its standard error
};

// The level's term l(sigma) by Vincent's identity over n exact draws of p_sigma (chunks of 100,000), per draw
//   lambda / sigma^2 [1/2 sigma^2 (||s - s*||^2 - ||s*||^2) + d / 2],
// with the exact score s* in float64.
Estimate level_term(const GaussianMixture& truth, ScoreMLPImpl& net, double sigma, ScoreWeight weight, int64_t n,
                    at::Generator& gen) {
  torch::NoGradGuard no_grad;
  const GaussianMixture p = truth.smoothed(sigma);
  const double d = static_cast<double>(truth.dim()), scale = lambda_over_sigma2(weight, sigma);
  double sum = 0, sum2 = 0;
  for (int64_t done = 0; done < n; done += 100000) {
    const int64_t m = std::min<int64_t>(100000, n - done);
    const at::Tensor x = p.sample(m, gen);
    const at::Tensor exact = p.score(x.to(torch::kFloat64));
    const at::Tensor model = net.forward(x, torch::full({m}, sigma, x.options())).to(torch::kFloat64);
    const at::Tensor q =
        scale * (0.5 * sigma * sigma * ((model - exact).pow(2).sum(1) - exact.pow(2).sum(1)) + 0.5 * d);
    sum += q.sum().item<double>();
    sum2 += q.pow(2).sum().item<double>();
  }
  const double mean = sum / static_cast<double>(n);
  const double var = std::max(0.0, (sum2 - static_cast<double>(n) * mean * mean) / static_cast<double>(n - 1));
  return {mean, std::sqrt(var / static_cast<double>(n))};
}

struct EstimatorResult {
  std::string name;
  double mean = 0, sd = 0, bias = 0, bias_se = 0, seconds = 0;
  int64_t evaluations = 0;  // network evaluations per estimate
  std::string target;       // "J" or "J_c"
};

nlohmann::json to_json(const EstimatorResult& r) {
  return {{"mean", r.mean}, {"sd", r.sd}, {"bias", r.bias}, {"bias_se", r.bias_se},
          {"bias_ci95", {r.bias - 1.96 * r.bias_se, r.bias + 1.96 * r.bias_se}}, {"target", r.target},
          {"evaluations", r.evaluations}, {"ms_per_estimate", 1e3 * r.seconds}};
}

}  // namespace

nlohmann::json run_dsm_estimators(const EstimatorStudyConfig& c, const std::string& out, const std::string& command) {
  const ToyLabConfig& lab = c.lab;
  lab.validate();
  const ToyMethodConfig& base = lab.method;
  if (base.score != "learned") throw ConfigError(flag_error("--score", base.score, "learned (the estimators are of a network's objective)"));
  if (base.objective != "dsm")
    throw ConfigError(flag_error("--objective", base.objective, "dsm (the estimators are of the DSM objective the network trains on)"));
  if (base.condition != "none")
    throw ConfigError(flag_error("--condition", base.condition, "none (the exact objective is that of the unconditional score)"));
  if (base.dsm_noise != "gaussian")
    throw ConfigError(flag_error("--dsm-noise", base.dsm_noise, "gaussian (the exact objective uses Gaussian smoothing)"));
  if (c.repeats < 2) throw ConfigError(flag_error("--repeats", std::to_string(c.repeats), "an integer >= 2"));
  if (c.exact_draws < 1000) throw ConfigError(flag_error("--exact-draws", std::to_string(c.exact_draws), "an integer >= 1000"));
  if (c.quadrature < 3 || c.quadrature % 2 == 0)
    throw ConfigError(flag_error("--quadrature", std::to_string(c.quadrature), "an odd integer >= 3 (Simpson's rule)"));
  set_threads(lab.runtime.threads);
  resolve_device(lab.runtime.device);
  set_precision(lab.runtime.precision, c10::Device(c10::kCPU));  // the toy MLPs run on the CPU
  ensure_writable_dir(out);
  const uint64_t seed = lab.runtime.seed;
  const GaussianMixture truth = make_toy_dataset(lab.dataset, lab.mixture_file);
  ToyData data = make_toy_data(truth, seed, lab.test_size);
  const SigmaSchedule sigmas = toy_sigmas(base, truth);
  const ScoreWeight weight = score_weight_by_name(base.score_weight);
  const int64_t L = sigmas.size(), B = base.train.batch_size;

  std::ostringstream md;
  md << "# The estimators of NCSN's unified objective on `" << lab.dataset << "`\n\nCommand:\n\n```\n" << command
     << "\n```\n\n"
     << "J = (1/L) sum_i l(sigma_i), l(sigma) = lambda(sigma) / 2 E ||s(x + sigma z, sigma) + z / sigma||^2 (lambda = "
     << base.score_weight << ", L = " << L << ", sigma " << fmt_number(sigmas.sigmas().front()) << " -> "
     << fmt_number(sigmas.sigmas().back()) << "), computed exactly up to Monte Carlo error with Vincent's identity "
     << "over " << c.exact_draws << " exact draws of each smoothed mixture. J_c: the average of l over log sigma "
     << "(Simpson, " << c.quadrature << " points), the target of log-uniform sigma. Each estimator ran on "
     << c.repeats << " independent batches of " << B << " fresh draws; bias = mean - target with its 95% interval "
     << "(both Monte Carlo errors); sd: the spread of one batch estimate; evals: network evaluations per estimate; "
     << "var x evals: the variance at equal network evaluations, relative to random.\n\n";
  nlohmann::json metrics = {{"dataset", lab.dataset}, {"levels", L}, {"batch_size", B}, {"repeats", c.repeats},
                            {"exact_draws", c.exact_draws}, {"score_weight", base.score_weight},
                            {"sigmas", sigmas.sigmas()}, {"networks", nlohmann::json::array()}};
  for (int64_t iters : c.iters) {
    ToyMethodConfig mc = base;
    mc.train.iters = iters;
    const std::string dir = (fs::path(out) / "checkpoints" / ("iters-" + std::to_string(iters))).string();
    ensure_writable_dir(dir);
    seed_module_init(derive_seed(seed, "init/ncsn"));
    auto method = toy_method_registry().get("ncsn")(mc);
    auto train_gen = make_generator(derive_seed(seed, "train/ncsn"));
    method->train(data, train_gen, dir);
    auto net = std::dynamic_pointer_cast<ScoreMLPImpl>(method->modules.at("ncsn"));
    if (!net) throw std::logic_error("dsm_estimators: the ncsn toy model is not a ScoreMLP");
    net->eval();

    // J and J_c.
    auto exact_gen = make_generator(derive_seed(seed, "estimators/exact"));
    std::vector<Estimate> terms;
    Estimate J;
    for (double s : sigmas.sigmas()) {
      terms.push_back(level_term(truth, *net, s, weight, c.exact_draws, exact_gen));
      J.value += terms.back().value / static_cast<double>(L);
      J.se += std::pow(terms.back().se / static_cast<double>(L), 2);
    }
    J.se = std::sqrt(J.se);
    const double a = std::log(sigmas.sigmas().back()), b = std::log(sigmas.sigmas().front());
    const int64_t K = c.quadrature;
    Estimate Jc;
    for (int64_t k = 0; k < K; ++k) {
      const double u = a + (b - a) * static_cast<double>(k) / static_cast<double>(K - 1);
      const double w = (k == 0 || k == K - 1 ? 1.0 : (k % 2 == 1 ? 4.0 : 2.0)) / (3.0 * static_cast<double>(K - 1));
      const Estimate t = level_term(truth, *net, std::exp(u), weight, std::max<int64_t>(1000, c.exact_draws / 4), exact_gen);
      Jc.value += w * t.value;
      Jc.se += std::pow(w * t.se, 2);
    }
    Jc.se = std::sqrt(Jc.se);

    std::vector<EstimatorResult> results;
    const ScoreNetFn fn = [net](const at::Tensor& x, const at::Tensor& s) { return net->forward(x, s); };
    for (const std::string name : {"random", "stratified", "all", "log-uniform"}) {
      const LevelSampling mode = level_sampling_by_name(name);
      auto g = make_generator(derive_seed(seed, "estimators/" + name));
      std::vector<double> e;
      torch::NoGradGuard no_grad;
      const auto t0 = std::chrono::steady_clock::now();
      for (int64_t r = 0; r < c.repeats; ++r)
        e.push_back(dsm_loss(fn, data.batch(B, g), sigmas, g, {}, mode, weight).loss.item<double>());
      EstimatorResult res;
      res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                    static_cast<double>(c.repeats);
      res.name = name;
      for (double v : e) res.mean += v / static_cast<double>(e.size());
      for (double v : e) res.sd += (v - res.mean) * (v - res.mean) / static_cast<double>(e.size() - 1);
      res.sd = std::sqrt(res.sd);
      const Estimate& target = mode == LevelSampling::LogUniform ? Jc : J;
      res.target = mode == LevelSampling::LogUniform ? "J_c" : "J";
      res.bias = res.mean - target.value;
      res.bias_se = std::sqrt(res.sd * res.sd / static_cast<double>(c.repeats) + target.se * target.se);
      res.evaluations = mode == LevelSampling::All ? B * L : B;
      // log-uniform against J as well: its bias for the stated (discrete) objective.
      results.push_back(res);
    }
    const double eff_random = results[0].sd * results[0].sd * static_cast<double>(results[0].evaluations);
    nlohmann::json net_json = {{"iters", iters}, {"J", J.value}, {"J_se", J.se}, {"J_c", Jc.value}, {"J_c_se", Jc.se},
                               {"level_terms", nlohmann::json::array()}, {"estimators", nlohmann::json::object()}};
    for (const Estimate& t : terms) net_json["level_terms"].push_back({{"value", t.value}, {"se", t.se}});
    md << "## Network after " << iters << " training iteration" << (iters == 1 ? "" : "s") << "\n\n"
       << "J = " << fmt_number(J.value, 6) << " +- " << fmt_number(J.se, 2) << " (se); J_c = " << fmt_number(Jc.value, 6)
       << " +- " << fmt_number(Jc.se, 2) << "; J_c - J = " << fmt_number(Jc.value - J.value, 3) << ".\n\n";
    std::vector<std::vector<std::string>> rows;
    for (const EstimatorResult& r : results) {
      const bool covers = std::abs(r.bias) <= 1.96 * r.bias_se;
      nlohmann::json j = to_json(r);
      j["interval_covers_0"] = covers;
      j["var_x_evals_vs_random"] = r.sd * r.sd * static_cast<double>(r.evaluations) / eff_random;
      if (r.name == "log-uniform") {
        const double bias_j = r.mean - J.value;
        const double se_j = std::sqrt(r.sd * r.sd / static_cast<double>(c.repeats) + J.se * J.se);
        j["bias_vs_J"] = bias_j;
        j["bias_vs_J_ci95"] = {bias_j - 1.96 * se_j, bias_j + 1.96 * se_j};
      }
      net_json["estimators"][r.name] = j;
      rows.push_back({r.name, r.target, fmt_number(r.mean, 6), fmt_number(r.bias, 2),
                      "[" + fmt_number(r.bias - 1.96 * r.bias_se, 2) + ", " + fmt_number(r.bias + 1.96 * r.bias_se, 2) + "]",
                      covers ? "yes" : "no", fmt_number(r.sd, 3), std::to_string(r.evaluations),
                      fmt_number(j["var_x_evals_vs_random"].get<double>(), 3), fmt_number(1e3 * r.seconds, 3)});
    }
    md << markdown_table({"estimator", "target", "mean", "bias", "bias 95% interval", "unbiased (interval covers 0)",
                          "sd", "evals", "var x evals", "ms / estimate"},
                         rows)
       << "\n";
    if (net_json["estimators"]["log-uniform"].contains("bias_vs_J")) {
      const auto& lu = net_json["estimators"]["log-uniform"];
      md << "log-uniform against J (the stated discrete objective): bias " << fmt_number(lu["bias_vs_J"].get<double>(), 3)
         << ", 95% interval [" << fmt_number(lu["bias_vs_J_ci95"][0].get<double>(), 3) << ", "
         << fmt_number(lu["bias_vs_J_ci95"][1].get<double>(), 3) << "].\n\n";
    }
    metrics["networks"].push_back(net_json);
  }
  write_json((fs::path(out) / "metrics.json").string(), metrics);
  atomic_write_text((fs::path(out) / "report.md").string(), md.str());
  return metrics;
}

}  // namespace scorelab
