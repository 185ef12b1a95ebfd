#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>
#include <tuple>

#include "core/cli.h"
#include "core/error.h"
#include "core/json_field.h"
#include "core/noise_family.h"
#include "objectives/objective.h"
#include "methods/toy_method.h"

namespace po = boost::program_options;

namespace scorelab {

ToyMethodConfig::ToyMethodConfig() {
  // Toy-lab training defaults: 2-D MLPs, fresh exact draws every batch, about 10 s per model on 2 cores.
  train.iters = 5000;
  train.batch_size = 512;
  train.lr = 2e-3;
  train.lr_schedule = "cosine";
  likelihood.divergence = "exact";  // D = 1 or 2: the exact trace costs D backward passes
  likelihood.batch_size = 10000;
  likelihood.ode_examples = 2000;  // the ODE costs 100s-1000s of evaluations per draw (ddpm ~2000)
}

void ToyMethodConfig::add_options(po::options_description& desc) {
  desc.add_options()
      ("hidden", po::value(&hidden)->default_value(hidden), "hidden width of the toy MLPs")
      ("depth", po::value(&depth)->default_value(depth), "hidden layers of the toy MLPs")
      ("mixtures", po::value(&mixtures)->default_value(mixtures), "logistic components per autoregressive conditional")
      ("precond", po::value(&precond)->default_value(precond),
       "ncsn/ddpm toy networks: none | edm (Karras et al. 2022's skip connection and input/output scales; ddpm: v-prediction)")
      ("sigma", po::value(&sigma)->default_value(sigma), "smoothed-ar: smoothing noise level sigma (> 0)")
      ("denoise", po::value(&denoise)->default_value(denoise), "smoothed-ar stage 2: single-step | conditional-ar")
      ("grad", po::value(&grad)->default_value(grad), "smoothed-ar single-step gradient: full | detached (authors' quirk)")
      ("classifier-scale", po::value(&classifier_scale)->default_value(classifier_scale),
       "ncsn, ddpm: classifier guidance, the score plus s grad log p(k | x, sigma) of a noise-aware classifier of the "
       "mixture component k (trained beside the model; the exact one with --score exact); k drawn from the weights")
      ("ardm-bins", po::value(&ardm_bins)->default_value(ardm_bins),
       "ardm: bins per coordinate over the data's range (the modes' means +- 4 of their std)")
      ("ardm-steps", po::value(&ardm_steps)->default_value(ardm_steps),
       "ardm: decoding steps, the coordinates drawn in that many groups in a random order (0: one per step)")
      ("blur-sigma", po::value(&blur_sigma)->default_value(blur_sigma),
       "smoothed-ar-blur, smoothed-ar-blur-noise: Gaussian blur std over the coordinates seen as a 1-D signal (0: 1); "
       "they always reverse the corruption with the stage-2 model (no --denoise single-step)")
      ("objective", po::value(&objective)->default_value(objective), "ncsn objective: dsm | ssm")
      ("dsm-noise", po::value(&dsm_noise)->default_value(dsm_noise),
       "ncsn perturbation noise: gaussian | laplace | student-t (unit variance per coordinate, scaled by each sigma)")
      ("student-nu", po::value(&student_nu)->default_value(student_nu), "ncsn --dsm-noise student-t: degrees of freedom (> 2)")
      ("level-sampling", po::value(&level_sampling)->default_value(level_sampling),
       "ncsn dsm: noise levels per batch: random (one per example, NCSN) | stratified | all (every level per example) | "
       "log-uniform (continuous sigma)")
      ("score-weight", po::value(&score_weight)->default_value(score_weight),
       "ncsn dsm/ssm weighting lambda(sigma): sigma2 (NCSN) | one | sigma")
      ("projections", po::value(&projections)->default_value(projections), "ncsn ssm: random projections per example (>= 1)")
      ("projection", po::value(&projection)->default_value(projection), "ncsn ssm: projection directions: gaussian | rademacher")
      ("ssm-form", po::value(&ssm_form)->default_value(ssm_form),
       "ncsn ssm: vr (variance-reduced, E[v^T J v] + ||s||^2 / 2) | full (E[v^T J v + (v^T s)^2 / 2])")
      ("condition", po::value(&condition)->default_value(condition),
       "ncsn: none | component (a class-conditional score s(x, sigma, k) on the mixture component k; samples draw k "
       "from the mixture weights, then run the sampler on that component's score)")
      ("label-dropout", po::value(&label_dropout)->default_value(label_dropout),
       "ncsn --condition component: train on a null label with this probability (classifier-free guidance)")
      ("guidance-scale", po::value(&guidance_scale)->default_value(guidance_scale),
       "ncsn --condition component: (1 + w) s(x, sigma, k) - w s(x, sigma) with the null label's score (needs "
       "--label-dropout) or, with --score exact, the exact marginal score")
      ("score", po::value(&score)->default_value(score), "ncsn/ddpm: learned | exact (the data's exact smoothed score or eps, no training)")
      ("sigma-max", po::value(&sigma_max)->default_value(sigma_max), "ncsn largest noise level (0: max pairwise distance rule)")
      ("sigma-min", po::value(&sigma_min)->default_value(sigma_min), "ncsn smallest noise level")
      ("levels", po::value(&levels)->default_value(levels), "ncsn number of noise levels L")
      ("sigma-spacing", po::value(&sigma_spacing)->default_value(sigma_spacing),
       "ncsn noise levels from sigma_max to sigma_min: geometric (NCSN) | linear")
      ("beta-schedule", po::value(&beta_schedule)->default_value(beta_schedule), "ddpm betas: linear | cosine")
      ("timesteps", po::value(&timesteps)->default_value(timesteps), "ddpm T")
      ("antithetic", po::bool_switch(&antithetic), "ddpm: antithetic timestep sampling")
      ("sampler", po::value(&sampler),
       ("sampler: ncsn: annealed-langevin (default); ddpm: ddpm (default); ar: ancestral unless a sampler that runs "
        "on its log-density (mala); any of " + sampler_registry().known_list()).c_str());
  sampling.add_options(desc);
  train.add_options(desc);
  likelihood.add_options(desc);
}

void ToyMethodConfig::validate() const {
  for (auto [flag, v] : {std::pair<const char*, int64_t>{"--hidden", hidden}, {"--depth", depth}, {"--mixtures", mixtures},
                         {"--levels", levels}, {"--timesteps", timesteps}})
    if (v < 1) throw ConfigError(flag_error(flag, std::to_string(v), "an integer >= 1"));
  if (levels < 2) throw ConfigError(flag_error("--levels", std::to_string(levels), "an integer >= 2 (noise levels from sigma_max to sigma_min)"));
  require_one_of("--precond", precond, {"none", "edm"});
  require_positive("--sigma", sigma);
  require_one_of("--denoise", denoise, {"single-step", "conditional-ar"});
  require_one_of("--grad", grad, {"full", "detached"});
  require_nonnegative("--blur-sigma", blur_sigma);
  require_nonnegative("--classifier-scale", classifier_scale);
  if (classifier_scale > 0 && condition != "none")
    throw ConfigError(flag_error("--classifier-scale", flag_value(classifier_scale),
                                 "0 with --condition " + condition + " (classifier guidance steers the unconditional model; "
                                 "--guidance-scale is the class-conditional model's)"));
  if (ardm_bins < 2) throw ConfigError(flag_error("--ardm-bins", std::to_string(ardm_bins), "an integer >= 2"));
  if (ardm_steps < 0)
    throw ConfigError(flag_error("--ardm-steps", std::to_string(ardm_steps), "an integer >= 0 (0: one per step)"));
  require_one_of("--objective", objective, {"dsm", "ssm"});
  require_one_of("--score", score, {"learned", "exact"});
  const NoiseFamily noise = NoiseFamily::by_name(dsm_noise, student_nu);
  level_sampling_by_name(level_sampling);
  score_weight_by_name(score_weight);
  require_one_of("--projection", projection, {"gaussian", "rademacher"});
  require_one_of("--ssm-form", ssm_form, {"vr", "full"});
  require_one_of("--sigma-spacing", sigma_spacing, {"geometric", "linear"});
  if (projections < 1) throw ConfigError(flag_error("--projections", std::to_string(projections), "an integer >= 1"));
  if (objective != "ssm")
    for (auto [flag, value, fallback] : {std::tuple<const char*, std::string, std::string>{"--projections", std::to_string(projections), "1"},
                                         {"--projection", projection, "gaussian"}, {"--ssm-form", ssm_form, "vr"}})
      if (value != fallback)
        throw ConfigError(flag_error(flag, value, fallback + " unless --objective ssm (it sets sliced score matching's projections)"));
  require_one_of("--condition", condition, {"none", "component"});
  if (condition == "component") {
    if (objective != "dsm") throw ConfigError(flag_error("--condition", condition, "none with --objective " + objective + " (the class-conditional network trains with dsm)"));
    if (level_sampling == "all")
      throw ConfigError(flag_error("--condition", condition, "none with --level-sampling all (its rows repeat every example L times, the labels do not)"));
    if (!noise.gaussian()) throw ConfigError(flag_error("--condition", condition, "none with --dsm-noise " + dsm_noise));
    if (precond != "none") throw ConfigError(flag_error("--condition", condition, "none with --precond " + precond));
    if (!sampler.empty() && sampler != "langevin" && sampler != "annealed-langevin")
      throw ConfigError(flag_error("--condition", condition, "none with --sampler " + sampler + " (class-conditional sampling runs langevin or annealed-langevin)"));
  }
  if (!(label_dropout >= 0 && label_dropout < 1))
    throw ConfigError(flag_error("--label-dropout", flag_value(label_dropout), "a probability in [0, 1)"));
  if (label_dropout > 0 && condition != "component")
    throw ConfigError(flag_error("--label-dropout", flag_value(label_dropout), "0 unless --condition component"));
  require_nonnegative("--guidance-scale", guidance_scale);
  if (guidance_scale > 0 && (condition != "component" || (label_dropout == 0 && score != "exact")))
    throw ConfigError(flag_error("--guidance-scale", flag_value(guidance_scale),
                                 "0 unless --condition component with --label-dropout p > 0 or --score exact"));
  if ((sampling.alpha_rule != "sigma2" || sampling.level_steps != "uniform") && !sampler.empty() &&
      sampler != "annealed-langevin" && sampler != "mala")
    throw ConfigError(flag_error(sampling.alpha_rule != "sigma2" ? "--alpha-rule" : "--level-steps",
                                 sampling.alpha_rule != "sigma2" ? sampling.alpha_rule : sampling.level_steps,
                                 "the default with --sampler " + sampler + " (it shapes annealed-langevin and mala only)"));
  if (level_sampling != "random" && objective != "dsm")
    throw ConfigError(flag_error("--level-sampling", level_sampling, "random with --objective " + objective + " (the other estimators are for dsm)"));
  if (!noise.gaussian() && score == "exact")
    throw ConfigError(flag_error("--dsm-noise", dsm_noise, "gaussian with --score exact (the exact score is that of Gaussian smoothing)"));
  if (!noise.gaussian() && sampling.final_denoise)
    throw ConfigError(flag_error("--dsm-noise", dsm_noise, "gaussian with --final-denoise (Tweedie's denoiser x + sigma^2 s holds for Gaussian noise only)"));
  require_nonnegative("--sigma-max", sigma_max);
  require_positive("--sigma-min", sigma_min);
  if (sigma_max > 0 && sigma_max <= sigma_min)
    throw ConfigError(flag_error("--sigma-max", std::to_string(sigma_max), "a value above --sigma-min (or 0 for the rule)"));
  require_one_of("--beta-schedule", beta_schedule, {"linear", "cosine"});
  if (!sampler.empty() && !sampler_registry().contains(sampler))
    throw ConfigError(flag_error("--sampler", sampler, "one of " + sampler_registry().known_list()));
  sampling.validate();
  train.validate();
  LikelihoodConfig l = likelihood;
  l.variance = sampling.variance;  // the bound's decoder variance is the sampler's --ddpm-variance
  l.validate();
}

nlohmann::json ToyMethodConfig::to_json() const {
  nlohmann::json j = {{"hidden", hidden}, {"depth", depth}, {"mixtures", mixtures}, {"precond", precond}, {"sigma", sigma}, {"denoise", denoise},
          {"grad", grad}, {"objective", objective}, {"dsm_noise", dsm_noise}, {"student_nu", student_nu}, {"level_sampling", level_sampling}, {"score_weight", score_weight},
          {"projections", projections}, {"projection", projection}, {"ssm_form", ssm_form}, {"sigma_spacing", sigma_spacing}, {"condition", condition}, {"score", score}, {"sigma_max", sigma_max},
          {"sigma_min", sigma_min}, {"levels", levels}, {"beta_schedule", beta_schedule}, {"timesteps", timesteps},
          {"antithetic", antithetic}, {"sampler", sampler},
          {"sampling", {{"langevin_preset", sampling.langevin_preset}, {"step_size", sampling.step_size}, {"steps_per_level", sampling.steps_per_level},
                        {"clip_x0", sampling.clip_x0 ? nlohmann::json(*sampling.clip_x0) : nlohmann::json(nullptr)},
                        {"step_rule", sampling.step_rule}, {"final_denoise", sampling.final_denoise},
                        {"alpha_rule", sampling.alpha_rule}, {"level_steps", sampling.level_steps},
                        {"ddpm_variance", sampling.variance}, {"ddim_steps", sampling.ddim_steps}, {"eta", sampling.eta},
                        {"spacing", sampling.spacing}}},
          {"train", {{"iters", train.iters}, {"batch_size", train.batch_size}, {"lr", train.lr},
                     {"lr_schedule", train.lr_schedule}, {"lr_decay", train.lr_decay}, {"ema", train.ema},
                     {"grad_clip", train.grad_clip}, {"budget_minutes", train.budget_minutes},
                     {"checkpoint_every", train.checkpoint_every}}},
          {"likelihood", likelihood.to_json()}};
  // Only when set (issue 15): every other run's config.json and checkpoint fingerprint stay as they were.
  if (label_dropout > 0) j["label_dropout"] = label_dropout;
  if (blur_sigma > 0) j["blur_sigma"] = blur_sigma;
  if (ardm_bins != 256) j["ardm_bins"] = ardm_bins;
  if (classifier_scale > 0) j["sampling"]["classifier_scale"] = classifier_scale;
  if (ardm_steps != 0) j["sampling"]["ardm_steps"] = ardm_steps;
  if (guidance_scale > 0) j["sampling"]["guidance_scale"] = guidance_scale;
  return j;
}

// What to_json wrote (the networks, objectives and training; the sampler is left at its default).
ToyMethodConfig ToyMethodConfig::from_json(const nlohmann::json& j) {
  ToyMethodConfig c;
  read_json_field(j, "hidden", c.hidden);
  read_json_field(j, "depth", c.depth);
  read_json_field(j, "mixtures", c.mixtures);
  read_json_field(j, "precond", c.precond);
  read_json_field(j, "sigma", c.sigma);
  read_json_field(j, "denoise", c.denoise);
  read_json_field(j, "grad", c.grad);
  read_json_field(j, "objective", c.objective);
  read_json_field(j, "dsm_noise", c.dsm_noise);
  read_json_field(j, "student_nu", c.student_nu);
  read_json_field(j, "level_sampling", c.level_sampling);
  read_json_field(j, "score_weight", c.score_weight);
  read_json_field(j, "projections", c.projections);
  read_json_field(j, "projection", c.projection);
  read_json_field(j, "ssm_form", c.ssm_form);
  read_json_field(j, "sigma_spacing", c.sigma_spacing);
  read_json_field(j, "condition", c.condition);
  read_json_field(j, "label_dropout", c.label_dropout);
  read_json_field(j, "blur_sigma", c.blur_sigma);
  read_json_field(j, "ardm_bins", c.ardm_bins);
  read_json_field(j, "score", c.score);
  read_json_field(j, "sigma_max", c.sigma_max);
  read_json_field(j, "sigma_min", c.sigma_min);
  read_json_field(j, "levels", c.levels);
  read_json_field(j, "beta_schedule", c.beta_schedule);
  read_json_field(j, "timesteps", c.timesteps);
  read_json_field(j, "antithetic", c.antithetic);
  if (j.contains("train")) {
    const auto& t = j.at("train");
    read_json_field(t, "iters", c.train.iters);
    read_json_field(t, "batch_size", c.train.batch_size);
    read_json_field(t, "lr", c.train.lr);
    read_json_field(t, "lr_schedule", c.train.lr_schedule);
    read_json_field(t, "lr_decay", c.train.lr_decay);
    read_json_field(t, "ema", c.train.ema);
    read_json_field(t, "grad_clip", c.train.grad_clip);
    read_json_field(t, "checkpoint_every", c.train.checkpoint_every);
  }
  return c;
}

SigmaSchedule toy_sigmas(const ToyMethodConfig& config, const GaussianMixture& truth) {
  const double smax = config.sigma_max > 0 ? config.sigma_max : truth.max_pairwise_distance();
  if (smax <= config.sigma_min)
    throw ConfigError(flag_error("--sigma-min", std::to_string(config.sigma_min), "a value below sigma_max = " + std::to_string(smax)));
  if (config.sigma_spacing == "linear") {  // sigma_max, ..., sigma_min evenly spaced
    std::vector<double> s(static_cast<size_t>(config.levels));
    for (int64_t i = 0; i < config.levels; ++i)
      s[static_cast<size_t>(i)] = smax + (config.sigma_min - smax) * static_cast<double>(i) / static_cast<double>(config.levels - 1);
    s.back() = config.sigma_min;
    return SigmaSchedule(std::move(s));
  }
  return SigmaSchedule(smax, config.sigma_min, config.levels);
}

}  // namespace scorelab
