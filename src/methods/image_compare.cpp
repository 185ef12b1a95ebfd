#include "methods/image_compare.h"

#include <torch/torch.h>

#include <boost/program_options.hpp>
#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "core/int_list.h"
#include "core/cli.h"
#include "core/error.h"
#include "core/noise.h"
#include "methods/method.h"
#include "core/io.h"
#include "core/precision.h"
#include "core/registry.h"
#include "data/image_data.h"
#include "dist/dist.h"
#include "eval/classifier.h"
#include "eval/image_grid.h"
#include "eval/markdown.h"
#include "eval/neighbours.h"
#include "eval/plot.h"
#include "eval/sample_quality.h"
#include "methods/guidance.h"
#include "models/discretized_logistic.h"
#include "models/pixelcnnpp.h"
#include "samplers/pixelcnn_sampling.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace scorelab {

namespace {


const std::vector<std::string> kDenoisers{"single-step-detached", "single-step-full", "conditional-ar"};

// "a,b" -> {a, b}; "all" -> every allowed name; unknown names are a ConfigError naming the flag.
std::vector<std::string> split_names(const std::string& flag, const std::string& list,
                                     const std::vector<std::string>& allowed) {
  if (list == "all") return allowed;
  std::vector<std::string> out;
  std::stringstream ss(list);
  std::string name;
  while (std::getline(ss, name, ',')) {
    if (name.empty()) continue;
    require_one_of(flag, name, allowed);
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  if (out.empty()) throw ConfigError(flag_error(flag, list, "a comma-separated list of names, or all"));
  return out;
}

// A path inside the source tree as repo-relative, so committed reports hold no machine's absolute paths.
std::string repo_relative(const std::string& path) {
  const std::string root = std::string(SCORELAB_SOURCE_DIR) + "/";
  return path.rfind(root, 0) == 0 ? path.substr(root.size()) : path;
}

// One model to train or load: the checkpoint key and the train settings that differ between methods.
struct ModelSpec {
  std::string key;
  std::string method;
  int stage = 1;
};

std::vector<ModelSpec> model_specs(const ImageCompareConfig& c) {
  std::vector<ModelSpec> specs;
  for (const auto& m : c.method_list()) {
    if (get_method(m).max_stage() > 1) {  // a stage-2 model: the reverse-smoothing p(x | x~)
      specs.push_back({m + "-stage1", m, 1});
      const auto d = get_method(m).compare_denoisers(c.denoiser_list());
      if (std::find(d.begin(), d.end(), "conditional-ar") != d.end())
        specs.push_back({m + "-stage2-stacked", m, 2});
    } else {
      specs.push_back({m, m, 1});
    }
  }
  return specs;
}

ImageTrainConfig train_config(const ImageCompareConfig& c, const ModelSpec& s) {
  ImageTrainConfig t;
  t.method = s.method;
  t.stage = s.stage;
  t.dataset = c.dataset;
  t.data_dir = c.data_dir;
  t.preset = c.preset;
  t.conditioning = "stacked";
  t.deconv_norm = c.deconv_norm;
  t.loss_reduction = c.loss_reduction;
  if (s.method == "ncsn") t.score_net = c.score_net;
  if (get_method(s.method).smoothing_kind().rfind("blur", 0) == 0) t.blur_sigma = c.blur_sigma;
  if (s.method == "ncsn" || s.method == "ddpm") {
    t.condition = c.condition;
    t.label_dropout = c.label_dropout;
  }
  t.runtime = c.runtime;
  t.runtime.out.clear();
  t.apply_preset(po::variables_map{});
  if (c.iters > 0) {
    t.train.iters = c.iters;
    t.eval_every = std::max<int64_t>(1, c.iters / 10);
  }
  if (c.batch_size > 0) t.train.batch_size = c.batch_size;
  t.train.budget_minutes = c.budget_minutes;
  t.train.resume = true;  // an interrupted compare continues where it stopped
  t.train.quiet = c.quiet;
  return t;
}

// Samples in [-1, 1] -> PNG grid of at most 64 images.
void write_samples(const std::string& path, const at::Tensor& x) {
  write_png_grid(path, x.slice(0, 0, std::min<int64_t>(64, x.size(0))).clamp(-1.0, 1.0));
}

std::string int_or_dash(const nlohmann::json& j) {
  if (j.is_null() || !j.is_number()) return "-";
  return std::to_string(static_cast<int64_t>(std::llround(j.get<double>())));
}

std::string fmt_or_dash(const nlohmann::json& j, int digits = 4) {
  if (j.is_null() || !j.is_number()) return "-";
  return fmt_number(j.get<double>(), digits);
}

// "v [lo, hi]" when a 95% interval is there, else "v".
std::string with_ci(const nlohmann::json& value, const nlohmann::json& ci, int digits = 4) {
  std::string s = fmt_or_dash(value, digits);
  if (ci.is_array() && ci.size() == 2) s += " [" + fmt_or_dash(ci[0], 3) + ", " + fmt_or_dash(ci[1], 3) + "]";
  return s;
}

// The KID shown: the unbiased MMD^2 of all rows with its interval when bootstrapped, else the subset mean.
nlohmann::json kid_value(const nlohmann::json& kid) { return kid.contains("all") ? kid["all"] : kid["mean"]; }
nlohmann::json kid_ci(const nlohmann::json& kid) { return kid.contains("ci95") ? kid["ci95"] : nlohmann::json(nullptr); }

// Which rows a score separates: the best row (lowest value) and, for every other row, whether its 95% interval
// is disjoint from the best one's (a conservative test: overlapping intervals are called not significant).
std::string separation(const nlohmann::json& rows, const std::string& what,
                       const std::function<std::pair<nlohmann::json, nlohmann::json>(const nlohmann::json&)>& get) {
  int best = -1;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto [v, ci] = get(rows[i]);
    if (!v.is_number() || !ci.is_array()) return "";
    if (best < 0 || v.get<double>() < get(rows[best]).first.get<double>()) best = static_cast<int>(i);
  }
  if (best < 0 || rows.size() < 2) return "";
  const auto [bv, bci] = get(rows[best]);
  std::string same, worse;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (static_cast<int>(i) == best) continue;
    const auto [v, ci] = get(rows[i]);
    const bool disjoint = ci[0].get<double>() > bci[1].get<double>() || ci[1].get<double>() < bci[0].get<double>();
    std::string& list = disjoint ? worse : same;
    list += (list.empty() ? "" : ", ") + rows[i]["method"].get<std::string>();
  }
  return "- " + what + ": lowest " + rows[best]["method"].get<std::string>() + " " + with_ci(bv, bci) +
         "; significantly higher (disjoint 95% intervals): " + (worse.empty() ? "none" : worse) +
         "; not distinguishable from it (overlapping intervals): " + (same.empty() ? "none" : same) + ".\n";
}

}  // namespace


ImageCompareConfig::ImageCompareConfig() { mask.mask = "bottom-half"; }

void ImageCompareConfig::add_options(po::options_description& desc) {
  po::options_description m("Image comparison");
  m.add_options()
      ("method", po::value(&methods)->default_value(methods), (methods_help("; ") + "; a,b | all").c_str())
      ("dataset", po::value(&dataset)->default_value(dataset), "mnist | fashion-mnist | cifar10 (or a toy set: the toy lab)")
      ("data-dir", po::value(&data_dir), "data folder (default: $SCORELAB_DATA or <repo>/data)")
      ("preset", po::value(&preset)->default_value(preset), "model sizes and training defaults: tiny | small | paper")
      ("iters", po::value(&iters)->default_value(iters), "training iterations per model (0: the preset's)")
      ("budget-minutes", po::value(&budget_minutes)->default_value(budget_minutes), "wall-clock training budget per model (0: none)")
      ("batch-size", po::value(&batch_size)->default_value(batch_size), "training batch size (0: the preset's)")
      ("deconv-norm", po::value(&deconv_norm)->default_value(deconv_norm),
       "PixelCNN++ transposed-convolution weight norm: input (the authors') | output (TensorFlow PixelCNN++)")
      ("loss-reduction", po::value(&loss_reduction)->default_value(loss_reduction),
       "PixelCNN++ gradient of the summed loss (sum, the authors') or of the per-dimension mean (mean)")
      ("score-net", po::value(&score_net)->default_value(score_net),
       "the ncsn row's network: ncsnv2 | unet (the DDPM U-Net with an NCSN head)")
      ("condition", po::value(&condition)->default_value(condition),
       "the ncsn and ddpm rows: none | class (class-conditional on the label; samples draw labels uniformly and the row "
       "reports the classifier's agreement with them; without --label-dropout no inpainting or likelihood)")
      ("label-dropout", po::value(&label_dropout)->default_value(label_dropout),
       "with --condition class: training labels replaced by the null label with this probability (classifier-free "
       "guidance: --guidance-scale)")
      ("blur-sigma", po::value(&blur_sigma)->default_value(blur_sigma),
       "the smoothed-ar-blur and smoothed-ar-blur-noise rows: Gaussian blur std in pixels (0: 1)")
      ("samples", po::value(&samples)->default_value(samples), "samples drawn per method row (0: 64 at --preset tiny, 1000 otherwise)")
      ("bootstrap", po::value(&bootstrap)->default_value(bootstrap), "bootstrap resamples for the 95% intervals of FD / KID and their floor (0: none)")
      ("seeds", po::value(&seeds)->default_value(seeds), "repeat the whole comparison with seeds --seed .. --seed + K - 1 and report mean and std")
      ("budget-iters", po::value(&budget_iters), "a,b,c: train each model once and evaluate it after a, b, c iterations (budget curves)")
      ("sample-batch", po::value(&sampling.sample_batch)->default_value(sampling.sample_batch),
       "images per sampler call (larger rows are drawn in such batches from the same stream; 0: all at once)")
      ("denoisers", po::value(&denoisers)->default_value(denoisers),
       "smoothed-ar rows: all | any of single-step-detached,single-step-full,conditional-ar")
      ("from-checkpoints", po::value(&from_checkpoints), "evaluate the train folders DIR/<key> instead of training")
      ("classifier", po::value(&classifier), "classifier file for FD/KID: loaded if it exists, else trained and saved there (default: data/classifiers/<dataset>/classifier.pt)")
      ("guide-classifier", po::value(&guide_classifier),
       "with --classifier-scale: the noise-aware classifier folder of the guided row, loaded if it holds one, else "
       "trained there (default: <checkpoints>/<method>-guide-classifier; one --method ncsn or ddpm when given)")
      ("guide-classifier-iters", po::value(&guide_classifier_iters)->default_value(guide_classifier_iters),
       "with --classifier-scale: training steps of a noise-aware classifier trained now (batch 128)")
      ("classifier-epochs", po::value(&classifier_epochs)->default_value(classifier_epochs),
       "epochs when the classifier is trained (0: the dataset's default: mnist 3, fashion-mnist 10, cifar10 10)")
      ("bound-images", po::value(&bound_images)->default_value(bound_images), "test images for the smoothed-ar two-stage bound")
      ("likelihood-images", po::value(&likelihood_images)->default_value(likelihood_images),
       "test images for each row's likelihoods (ar exact, ncsn ODE, ddpm bound and ODE; 0: none)")
      ("neighbours", po::value(&neighbours)->default_value(neighbours), "samples shown with their nearest training images (0: none)")
      ("inpaint-images", po::value(&inpaint_images)->default_value(inpaint_images), "test images to inpaint per method (0: none)")
      ("inpaint-samples", po::value(&inpaint_samples)->default_value(inpaint_samples), "completions per inpainted image")
      ("sampler", po::value(&sampling.sampler),
       ("one sampler for the score-model rows, each where it fits (others keep their default): " +
        sampler_registry().known_list()).c_str())
      ("quiet", po::bool_switch(&quiet), "no progress lines");
  sampling.add_image_options(m);
  mask.add_options(m);
  desc.add(m);
  po::options_description s("Samplers");
  sampling.sampling.add_options(s);
  desc.add(s);
  likelihood.add_options(desc);
  po::options_description r("Run");
  runtime.add_options(r);
  desc.add(r);
}

std::vector<int64_t> ImageCompareConfig::budget_list() const {
  if (budget_iters.empty()) return {};
  return increasing_counts("--budget-iters", budget_iters);
}

int64_t ImageCompareConfig::sample_count() const {
  if (samples > 0) return samples;
  return preset == "tiny" ? 64 : 1000;
}

std::vector<std::string> ImageCompareConfig::method_list() const {
  return split_names("--method", methods, method_names());
}

std::vector<std::string> ImageCompareConfig::denoiser_list() const {
  return split_names("--denoisers", denoisers, kDenoisers);
}

void ImageCompareConfig::validate() const {
  require_one_of("--score-net", score_net, {"ncsnv2", "unet"});
  require_one_of("--condition", condition, {"none", "class"});
  const auto listed = method_list();
  const bool ncsn = std::find(listed.begin(), listed.end(), "ncsn") != listed.end();
  const bool ddpm = std::find(listed.begin(), listed.end(), "ddpm") != listed.end();
  if (score_net != "ncsnv2" && !ncsn) throw ConfigError(flag_error("--score-net", score_net, "ncsnv2 unless --method includes ncsn"));
  if (condition != "none" && !ncsn && !ddpm)
    throw ConfigError(flag_error("--condition", condition, "none unless --method includes ncsn or ddpm"));
  if (!(label_dropout >= 0 && label_dropout < 1))
    throw ConfigError(flag_error("--label-dropout", flag_value(label_dropout), "a probability in [0, 1)"));
  require_nonnegative("--blur-sigma", blur_sigma);
  if (blur_sigma > 0) {
    bool any_blur = false;
    for (const auto& m : method_list()) any_blur = any_blur || get_method(m).smoothing_kind().rfind("blur", 0) == 0;
    if (!any_blur)
      throw ConfigError(flag_error("--blur-sigma", flag_value(blur_sigma),
                                   "0 unless --method includes smoothed-ar-blur or smoothed-ar-blur-noise"));
  }
  if (label_dropout > 0 && condition == "none")
    throw ConfigError(flag_error("--label-dropout", flag_value(label_dropout), "0 unless --condition class"));
  if (sampling.guidance_scale != 0 && (condition == "none" || label_dropout == 0))
    throw ConfigError(flag_error("--guidance-scale", flag_value(sampling.guidance_scale),
                                 "0 unless --condition class --label-dropout p > 0 (classifier-free guidance)"));
  if (sampling.classifier_scale != 0 && !ncsn && !ddpm)
    throw ConfigError(flag_error("--classifier-scale", flag_value(sampling.classifier_scale),
                                 "0 unless --method includes ncsn or ddpm (classifier guidance guides those rows)"));
  if (!guide_classifier.empty() && sampling.classifier_scale == 0)
    throw ConfigError(flag_error("--guide-classifier", guide_classifier, "no folder unless --classifier-scale S > 0"));
  if (!guide_classifier.empty() && ncsn && ddpm)
    throw ConfigError(flag_error("--guide-classifier", guide_classifier,
                                 "one guided method: a classifier fits one model (leave it out: each row gets its own)"));
  if (guide_classifier_iters < 1)
    throw ConfigError(flag_error("--guide-classifier-iters", std::to_string(guide_classifier_iters), "an integer >= 1"));
  // --sampler must fit at least one chosen method that samples with a sampler (the others keep their own).
  if (!sampling.sampler.empty()) {
    const Method* first = nullptr;
    bool fits = false;
    for (const auto& m : method_list()) {
      const Method& im = get_method(m);
      if (im.default_sampler().empty()) continue;
      if (!first) first = &im;
      fits = fits || sampler_fits(sampling.sampler, im.offered());
    }
    if (first && !fits) check_sampler(sampling.sampler, first->offered(), "method " + first->name());
  }
  denoiser_list();
  require_one_of("--dataset", dataset, image_dataset_names());
  require_one_of("--preset", preset, {"tiny", "small", "paper"});
  require_one_of("--deconv-norm", deconv_norm, {"input", "output"});
  require_one_of("--loss-reduction", loss_reduction, {"sum", "mean"});
  if (iters < 0) throw ConfigError(flag_error("--iters", std::to_string(iters), "an integer >= 0 (0: the preset's)"));
  require_nonnegative("--budget-minutes", budget_minutes);
  if (batch_size < 0)
    throw ConfigError(flag_error("--batch-size", std::to_string(batch_size), "an integer >= 0 (0: the preset's)"));
  if (samples == 1 || samples < 0)
    throw ConfigError(flag_error("--samples", std::to_string(samples), "an integer >= 2 (0: the preset's)"));
  if (bootstrap < 0) throw ConfigError(flag_error("--bootstrap", std::to_string(bootstrap), "an integer >= 0 (0: no intervals)"));
  if (seeds < 1) throw ConfigError(flag_error("--seeds", std::to_string(seeds), "an integer >= 1"));
  if (!budget_list().empty()) {
    if (seeds > 1) throw ConfigError(flag_error("--budget-iters", budget_iters, "one seed (run --seeds and --budget-iters separately)"));
    if (!from_checkpoints.empty())
      throw ConfigError(flag_error("--budget-iters", budget_iters, "training (it cannot evaluate --from-checkpoints models at other budgets)"));
    if (iters > 0) throw ConfigError(flag_error("--budget-iters", budget_iters, "no --iters as well (the list holds the iterations)"));
  }
  if (sampling.sample_batch < 0)
    throw ConfigError(flag_error("--sample-batch", std::to_string(sampling.sample_batch), "an integer >= 0 (0: all at once)"));
  if (classifier_epochs < 0)
    throw ConfigError(
        flag_error("--classifier-epochs", std::to_string(classifier_epochs), "an integer >= 0 (0: the dataset's default)"));
  if (bound_images < 0) throw ConfigError(flag_error("--bound-images", std::to_string(bound_images), "an integer >= 0"));
  if (likelihood_images < 0)
    throw ConfigError(flag_error("--likelihood-images", std::to_string(likelihood_images), "an integer >= 0"));
  likelihood.validate();
  if (neighbours < 0) throw ConfigError(flag_error("--neighbours", std::to_string(neighbours), "an integer >= 0"));
  if (inpaint_images < 0)
    throw ConfigError(flag_error("--inpaint-images", std::to_string(inpaint_images), "an integer >= 0"));
  if (inpaint_samples < 1)
    throw ConfigError(flag_error("--inpaint-samples", std::to_string(inpaint_samples), "an integer >= 1"));
  if (!from_checkpoints.empty() && !fs::is_directory(from_checkpoints))
    throw ConfigError(flag_error("--from-checkpoints", from_checkpoints,
                                 "a folder holding train outputs named ar, smoothed-ar-stage1, ncsn, ddpm, ..."));
  mask.validate();
  sampling.validate();
  runtime.validate();
}

nlohmann::json ImageCompareConfig::to_json() const {
  nlohmann::json j = {{"methods", method_list()}, {"dataset", dataset}, {"preset", preset}, {"iters", iters},
          {"budget_minutes", budget_minutes}, {"batch_size", batch_size}, {"samples", sample_count()},
          {"bootstrap", bootstrap}, {"seeds", seeds}, {"sample_batch", sampling.sample_batch},
          {"budget_iters", budget_iters},
          {"deconv_norm", deconv_norm}, {"loss_reduction", loss_reduction}, {"denoisers", denoiser_list()}, {"from_checkpoints", from_checkpoints}, {"classifier", classifier},
          {"bound_images", bound_images}, {"likelihood_images", likelihood_images}, {"likelihood", likelihood.to_json()},
          {"inpaint_images", inpaint_images}, {"inpaint_samples", inpaint_samples},
          {"mask", mask.to_json()}, {"sampling", sampling.to_json()}, {"seed", runtime.seed},
          {"threads", runtime.threads}, {"precision", runtime.precision}, {"device", runtime.device}};
  // Only when set, so that finished runs (--seeds) written before these flags are still recognised.
  if (score_net != "ncsnv2") j["score_net"] = score_net;
  if (condition != "none") j["condition"] = condition;
  if (sampling.classifier_scale != 0) {
    j["guide_classifier"] = guide_classifier;
    j["guide_classifier_iters"] = guide_classifier_iters;
  }
  if (label_dropout > 0) j["label_dropout"] = label_dropout;
  if (blur_sigma > 0) j["blur_sigma"] = blur_sigma;
  return j;
}

at::Tensor two_stage_log_bound(const LoadedImageModel& stage1, const LoadedImageModel& stage2, const at::Tensor& x,
                               at::Generator& gen) {
  torch::NoGradGuard no_grad;
  const Smoothing smoothing = stage1.config.smoothing();
  const double sigma = smoothing.sigma;
  if (!smoothing.has_noise())
    throw ConfigError("the two-stage bound needs noise in the smoothing (q(x~ | x) = N(B x, sigma^2 I)); method " +
                      stage1.config.method + " has none");
  const double t = stage2.config.target_noise;
  auto& net1 = pixelcnn_of(stage1.model);
  auto& net2 = pixelcnn_of(stage2.model);
  const at::Tensor mean = smoothing.mean(x);
  const at::Tensor x_tilde = perturb_ve(mean, sigma, gen).noisy;
  const at::Tensor target = t > 0 ? perturb_ve(x, t, gen).noisy : x;
  const at::Tensor log_p1 = mix_logistic_log_prob(x_tilde, net1.forward(x_tilde));
  const at::Tensor log_p2 = mix_logistic_log_prob(target, net2.forward(target, x_tilde));
  return smoothing_log_bound(log_p1, log_p2, mean, x_tilde, sigma);
}

// One row: the method's samples with its default sampler (or --sampler where it fits), inpainting, quality.
void Method::compare_rows(ImageCompareRows& r) const {
  const ImageCompareConfig& c = r.config;
  const std::string& method = r.method;
  const auto& device = r.device;
  const auto& out = r.out;
  const int64_t n = r.n;
  const auto& train_metrics = r.train_metrics;
  LoadedModels models;
  models.main = load_image_model(r.dir_of(method), device);
  const Method& im = *this;
  SamplingConfig sc = c.sampling;
  // One --sampler for all rows: each score method runs it where it fits, else its own default.
  if (!sc.sampler.empty() && !sampler_fits(sc.sampler, im.offered())) sc.sampler = "";
  nlohmann::json row = r.base_row(method, method);
  if (!im.likelihood()) row["test_loss_final"] = nullptr;  // not a likelihood
  if (im.likelihood()) row["bits_per_dim"] = train_metrics.at(method).value("test_loss_final", NAN);
  // A bound rather than the exact likelihood (ardm: its training objective on the test set, one step t per image).
  if (im.likelihood() && likelihood_kinds() == std::vector<std::string>{"bound"})
    row["bits_per_dim_kind"] = "ELBO estimate: the test objective";
  row["sampler"] = im.default_sampler().empty() ? "pixelcnn++ " + sc.ar_draw : sc.sampler_for(method);
  if (sc.classifier_scale > 0) {  // classifier guidance: the noise-aware classifier of this model
    const std::string dir = c.guide_classifier.empty() ? r.dir_of(method + "-guide-classifier") : c.guide_classifier;
    GuideClassifierConfig gc;
    gc.iters = c.guide_classifier_iters;
    gc.quiet = c.quiet;
    // Data parallel: every rank trains the same classifier (same seed) into its own checkpoint folder, as its models.
    models.guide = load_or_train_guide_classifier(dir, models.main, r.train_set, r.test_set, gc,
                                                  derive_seed(c.runtime.seed, "guide-classifier-" + method), device);
    row["classifier_scale"] = sc.classifier_scale;
    row["guide_classifier"] = models.guide->metrics;
    row["guide_classifier"]["dir"] = repo_relative(dir);
  }
  SamplingMonitor monitor(c.sampling.snapshots > 0 ? (fs::path(out) / "snapshots" / method).string() : "",
                          c.sampling.snapshots, !c.quiet);
  ImageSamples s = draw_samples_sharded(sc, models, n, derive_seed(c.runtime.seed, "sample-" + method), device, &monitor);
  row["sample_s_per_image"] = s.seconds / static_cast<double>(n);
  // A class-conditional model: the classifier's agreement with the labels drawn. Without a null label (--label-dropout)
  // it has no marginal model: no likelihood and no inpainting (they would need labels).
  const bool conditional = models.main.model.labels != nullptr;
  const bool no_marginal = conditional && models.main.model.null_label < 0;
  if (conditional) {
    row["condition"] = no_marginal ? "class: labels drawn uniformly; no likelihood or inpainting (no marginal model)"
                                   : "class: labels drawn uniformly; likelihood and inpainting with the null label";
    if (sc.guidance_scale != 0) row["guidance_scale"] = sc.guidance_scale;
  }
  if (s.labels.defined()) row["label_agreement"] = r.label_agreement(s.samples, s.labels);
  if (models.guide && s.labels.defined()) {
    // The guide classifier's own verdict on the (quantized) samples at its smallest noise level: far above the
    // evaluation classifier's agreement means the guidance found features that only the guide sees.
    const at::Tensor x = sampler_data_transform(models.main).to_sampler(to_model_range(to_uint8(s.samples.cpu())));
    torch::NoGradGuard no_grad;
    const double lo = models.guide->sigma_min;
    const at::Tensor pred =
        models.guide->net->forward(x.to(device), torch::full({1}, lo, x.options().device(device))).argmax(1).cpu();
    row["guide_label_agreement"] = {{"accuracy", pred.eq(s.labels.cpu()).to(torch::kDouble).mean().item<double>()},
                                    {"sigma", lo}, {"n", s.labels.size(0)}};
  }
  // Its own likelihoods on the first --likelihood-images test images, in bits/dim (issue 12).
  if (c.likelihood_images > 0 && !likelihood_kinds().empty() && !no_marginal) {
    LikelihoodConfig lc = c.likelihood;
    lc.variance = c.sampling.sampling.variance;
    const int64_t nl = std::min<int64_t>(c.likelihood_images, r.test_set.images.size(0));
    auto lgen = make_generator(derive_seed(c.runtime.seed, "likelihood-" + method), device);
    row["likelihoods"] = nlohmann::json::object();
    for (const auto& kind : likelihood_kinds()) {
      const auto t0 = std::chrono::steady_clock::now();
      nlohmann::json e = test_likelihood(kind, models, r.test_set, nl, lc, lgen);
      e["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      row["likelihoods"][kind] = e;
    }
  }
  if (!no_marginal) {
    SamplingConfig unguided = sc;  // inpainting draws no labels (the null label's model)
    unguided.guidance_scale = 0.0;
    unguided.classifier_scale = 0.0;
    r.inpaint_row(row, r.dir_of(method), "", unguided, method);
  }
  r.score_row(row, s.samples, method);
}

namespace {
nlohmann::json run_image_compare_once(const ImageCompareConfig& c, const std::string& out, const std::string& command);

// The numbers of one row that --seeds aggregates (null where the row has none).
std::vector<std::pair<std::string, nlohmann::json>> row_numbers(const nlohmann::json& r) {
  const auto& q = r["quality"];
  nlohmann::json bits = nullptr;
  if (r.contains("bits_per_dim")) bits = r["bits_per_dim"];
  if (r.contains("two_stage_bound_bits_per_dim")) bits = r["two_stage_bound_bits_per_dim"];
  return {{"fd_classifier", q["fd_classifier"]},
          {"kid_classifier", kid_value(q["kid_classifier"])},
          {"classifier_confidence", q["classifier_scores"]["mean_max_prob"]},
          {"bits_per_dim", bits},
          {"inpaint_mse_unknown", r.contains("inpaint") ? r["inpaint"]["mse_unknown"] : nlohmann::json(nullptr)},
          {"label_agreement", r.contains("label_agreement") ? r["label_agreement"]["accuracy"] : nlohmann::json(nullptr)}};
}

nlohmann::json mean_std(const std::vector<double>& v) {
  if (v.empty()) return nullptr;
  double m = 0.0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  double ss = 0.0;
  for (double x : v) ss += (x - m) * (x - m);
  const double sd = v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0.0;
  return {{"mean", m}, {"std", sd}, {"n", v.size()}, {"values", v}};
}
}  // namespace

nlohmann::json run_budget_curves(const ImageCompareConfig& c, const std::string& out, const std::string& command);

// The metrics of a finished comparison in `dir` with exactly these settings, or null. Its config.json must
// match and its metrics.json must have been written after it (a run writes config.json first and
// metrics.json last, so an interrupted rerun with other settings is not mistaken for a finished one). Data
// parallel: always null (ranks > 0 write into private folders and could not see it); the run then resumes
// its training from the checkpoints.
static nlohmann::json finished_run(const std::string& dir, const ImageCompareConfig& one) {
  const fs::path metrics_path = fs::path(dir) / "metrics.json", config_path = fs::path(dir) / "config.json";
  if (dist::active() || !fs::exists(metrics_path) || !fs::exists(config_path) ||
      fs::last_write_time(metrics_path) < fs::last_write_time(config_path))
    return nullptr;
  nlohmann::json was = read_json(config_path.string());
  was.erase("command");
  if (!was.contains("precision")) was["precision"] = "fp32";  // written before --precision existed
  return was == one.to_json() ? read_run_metrics(dir) : nlohmann::json(nullptr);
}

nlohmann::json run_image_compare(const ImageCompareConfig& c, const std::string& out, const std::string& command) {
  c.validate();
  if (!c.budget_list().empty()) return run_budget_curves(c, out, command);
  if (c.seeds <= 1) return run_image_compare_once(c, out, command);
  ensure_writable_dir(out);
  std::vector<nlohmann::json> runs;
  std::vector<std::string> dirs;
  for (int64_t k = 0; k < c.seeds; ++k) {
    ImageCompareConfig one = c;
    one.seeds = 1;
    one.runtime.seed = c.runtime.seed + static_cast<uint64_t>(k);
    if (!c.from_checkpoints.empty())  // one set of trained models per seed: DIR/seed-S
      one.from_checkpoints = (fs::path(c.from_checkpoints) / ("seed-" + std::to_string(one.runtime.seed)) / "checkpoints").string();
    const std::string dir = (fs::path(out) / ("seed-" + std::to_string(one.runtime.seed))).string();
    // A finished seed with the same settings is reused (an interrupted --seeds run continues where it stopped).
    nlohmann::json done = finished_run(dir, one);
    if (done.is_null()) {
      std::cerr << "[compare] seed " << one.runtime.seed << " (" << (k + 1) << " of " << c.seeds << ") -> " << dir << "\n";
      done = run_image_compare_once(one, dir, command + "  # seed " + std::to_string(one.runtime.seed));
    } else {
      std::cerr << "[compare] seed " << one.runtime.seed << ": reusing " << dir << "\n";
    }
    runs.push_back(done);
    dirs.push_back("seed-" + std::to_string(one.runtime.seed));
  }
  // Mean and sample standard deviation over the seeds, per row and number.
  nlohmann::json agg = nlohmann::json::object();
  std::vector<std::string> row_order;
  for (const auto& run : runs)
    for (auto it = run["methods"].begin(); it != run["methods"].end(); ++it)
      if (std::find(row_order.begin(), row_order.end(), it.key()) == row_order.end()) row_order.push_back(it.key());
  const std::vector<std::string> keys{"fd_classifier", "kid_classifier", "classifier_confidence", "bits_per_dim",
                                      "inpaint_mse_unknown"};
  for (const auto& name : row_order) {
    std::map<std::string, std::vector<double>> values;
    for (const auto& run : runs) {
      if (!run["methods"].contains(name)) continue;
      for (const auto& [k, v] : row_numbers(run["methods"][name]))
        if (v.is_number()) values[k].push_back(v.get<double>());
    }
    for (const auto& k : keys) agg[name][k] = mean_std(values[k]);
    // Class-conditional rows only (the other rows' aggregates keep their keys).
    if (!values["label_agreement"].empty()) agg[name]["label_agreement"] = mean_std(values["label_agreement"]);
  }
  std::map<std::string, std::vector<double>> floor_values;
  for (const auto& run : runs)
    for (auto it = run["methods"].begin(); it != run["methods"].end(); ++it) {
      const auto& f = it.value()["quality"]["floor"];
      floor_values["fd_classifier"].push_back(f["fd_classifier"].get<double>());
      floor_values["kid_classifier"].push_back(kid_value(f["kid_classifier"]).get<double>());
      break;
    }
  nlohmann::json floor = {{"fd_classifier", mean_std(floor_values["fd_classifier"])},
                          {"kid_classifier", mean_std(floor_values["kid_classifier"])}};
  nlohmann::json metrics = {{"dataset", c.dataset}, {"preset", c.preset}, {"seeds", c.seeds},
                            {"first_seed", c.runtime.seed}, {"runs", dirs}, {"samples_per_method", c.sample_count()},
                            {"aggregate", agg}, {"floor", floor}};
  if (dist::rank() == 0) {
    nlohmann::json config = c.to_json();
    config["command"] = command;
    write_json((fs::path(out) / "config.json").string(), config);
    write_run_metrics(out, metrics);
    auto cell = [](const nlohmann::json& ms, int digits = 4) {
      if (ms.is_null()) return std::string("-");
      return fmt_number(ms["mean"].get<double>(), digits) + " +- " + fmt_number(ms["std"].get<double>(), 2);
    };
    std::vector<std::vector<std::string>> table;
    for (const auto& name : row_order)
      table.push_back({name, cell(agg[name]["bits_per_dim"]), cell(agg[name]["fd_classifier"]),
                       cell(agg[name]["kid_classifier"]), cell(agg[name]["classifier_confidence"], 3),
                       cell(agg[name]["inpaint_mse_unknown"])});
    table.push_back({"floor: real test vs real train", "-", cell(floor["fd_classifier"]), cell(floor["kid_classifier"]),
                     "-", "-"});
    std::ostringstream md;
    md << "# compare on " << c.dataset << " (" << c.preset << " preset), " << c.seeds << " seeds\n\n"
       << "Command: `" << command << "`\n\n"
       << "Each seed (" << c.runtime.seed << " .. " << c.runtime.seed + static_cast<uint64_t>(c.seeds - 1)
       << ") trains every model, draws " << c.sample_count() << " samples per row and scores them; its own report is "
       << "in `seed-S/report.md` (with the bootstrap intervals of that run). Below: mean +- sample standard deviation "
       << "over the " << c.seeds << " seeds (training, sampling and the reference draws all change with the seed). "
       << "bits/dim: ar's exact test likelihood, smoothed-ar's two-stage bound.\n\n"
       << markdown_table({"method", "bits/dim (test)", "FD-classifier", "KID-classifier", "classifier confidence",
                          "inpaint MSE (unknown)"},
                         table)
       << "\nPer-seed reports:";
    for (const auto& d : dirs) md << " [" << d << "](" << d << "/report.md)";
    md << "\n";
    atomic_write_text((fs::path(out) / "report.md").string(), md.str());
  }
  return metrics;
}

nlohmann::json run_budget_curves(const ImageCompareConfig& c, const std::string& out, const std::string& command) {
  ensure_writable_dir(out);
  const std::vector<int64_t> budgets = c.budget_list();
  const std::string train_dir = (fs::path(out) / "checkpoints").string();
  std::map<std::string, double> cum_train_s;  // per row: training seconds so far
  std::map<std::string, std::vector<std::pair<double, double>>> fd, kid, bits;
  std::vector<std::string> row_order;
  std::vector<std::vector<std::string>> table;
  nlohmann::json steps = nlohmann::json::array();
  for (int64_t b : budgets) {
    ImageCompareConfig one = c;
    one.budget_iters.clear();
    one.iters = b;
    one.train_dir = train_dir;  // the same models, resumed to b iterations
    const std::string dir = (fs::path(out) / ("iters-" + std::to_string(b))).string();
    // A finished budget with the same settings is reused, so an interrupted run (or one given a longer list)
    // continues at the first unfinished budget instead of finding its checkpoints past the earlier ones.
    nlohmann::json m = finished_run(dir, one);
    if (m.is_null()) {
      std::cerr << "[compare] budget " << b << " iterations -> " << dir << "\n";
      m = run_image_compare_once(one, dir, command + "  # budget " + std::to_string(b) + " iterations");
    } else {
      std::cerr << "[compare] budget " << b << " iterations: reusing " << dir << "\n";
    }
    nlohmann::json step = {{"iters", b}, {"dir", "iters-" + std::to_string(b)}, {"rows", nlohmann::json::object()}};
    for (auto it = m["methods"].begin(); it != m["methods"].end(); ++it) {
      const std::string& name = it.key();
      const auto& r = it.value();
      if (r["iters"].is_number() && r["iters"].get<int64_t>() > b)
        throw DataError("--budget-iters: the model of row '" + name + "' in '" + train_dir + "' has trained " +
                        std::to_string(r["iters"].get<int64_t>()) + " iterations, past the budget " + std::to_string(b) +
                        "; budget curves need a fresh --out (or one whose checkpoints stopped before " +
                        std::to_string(b) + ")");
      if (std::find(row_order.begin(), row_order.end(), name) == row_order.end()) row_order.push_back(name);
      double t = r["train_s"].is_number() ? r["train_s"].get<double>() : 0.0;
      if (r.contains("stage2_train_s") && r["stage2_train_s"].is_number()) t += r["stage2_train_s"].get<double>();
      cum_train_s[name] += t;
      const double x = cum_train_s[name];
      const auto& q = r["quality"];
      const nlohmann::json bpd = r.contains("two_stage_bound_bits_per_dim") ? r["two_stage_bound_bits_per_dim"]
                                 : r.contains("bits_per_dim")               ? r["bits_per_dim"]
                                                                            : nlohmann::json(nullptr);
      fd[name].emplace_back(x, q["fd_classifier"].get<double>());
      kid[name].emplace_back(x, kid_value(q["kid_classifier"]).get<double>());
      if (bpd.is_number()) bits[name].emplace_back(x, bpd.get<double>());
      step["rows"][name] = {{"train_s_cumulative", x}, {"fd_classifier", q["fd_classifier"]},
                            {"fd_classifier_ci95", q.value("fd_classifier_ci95", nlohmann::json())},
                            {"kid_classifier", kid_value(q["kid_classifier"])},
                            {"kid_classifier_ci95", kid_ci(q["kid_classifier"])}, {"bits_per_dim", bpd}};
      table.push_back({name, r["iters"].is_number() ? std::to_string(r["iters"].get<int64_t>()) : std::to_string(b),
                       fmt_number(x, 4),
                       with_ci(q["fd_classifier"], q.value("fd_classifier_ci95", nlohmann::json())),
                       with_ci(kid_value(q["kid_classifier"]), kid_ci(q["kid_classifier"])), fmt_or_dash(bpd)});
    }
    steps.push_back(step);
  }
  auto series = [&](std::map<std::string, std::vector<std::pair<double, double>>>& s) {
    std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>> out_series;
    for (const auto& name : row_order) out_series.emplace_back(name, s[name]);
    return out_series;
  };
  const std::string title = c.dataset + " (" + c.preset + " preset): scores against training time";
  if (gnuplot_available()) {
    plot_lines((fs::path(out) / "budget-fd.png").string(), series(fd), "training seconds (cumulative)", "FD-classifier", title, true);
    plot_lines((fs::path(out) / "budget-kid.png").string(), series(kid), "training seconds (cumulative)", "KID-classifier", title);
    plot_lines((fs::path(out) / "budget-bits.png").string(), series(bits), "training seconds (cumulative)", "bits/dim (test)", title);
  }
  nlohmann::json metrics = {{"dataset", c.dataset}, {"preset", c.preset}, {"budget_iters", budgets},
                            {"samples_per_method", c.sample_count()}, {"steps", steps}};
  nlohmann::json config = c.to_json();
  config["command"] = command;
  write_json((fs::path(out) / "config.json").string(), config);
  write_run_metrics(out, metrics);
  std::ostringstream md;
  md << "# Budget curves on " << c.dataset << " (" << c.preset << " preset)\n\n"
     << "Command: `" << command << "`\n\n"
     << "Every model is trained once; after each budget (iterations: ";
  for (size_t i = 0; i < budgets.size(); ++i) md << (i ? ", " : "") << budgets[i];
  md << ") training stops, the comparison samples and scores it (`iters-N/report.md`), and the next budget "
     << "resumes the same checkpoints. Training time is the cumulative wall clock of a row's model(s) "
     << "(smoothed-ar: both stages). FD / KID with bootstrap 95% intervals in brackets (FD: basic, KID: percentile); bits/dim: ar's "
     << "exact test likelihood, smoothed-ar's two-stage bound.\n\n"
     << "![FD](budget-fd.png) ![KID](budget-kid.png) ![bits/dim](budget-bits.png)\n\n"
     << markdown_table({"method", "iterations", "train s (cumulative)", "FD-classifier", "KID-classifier", "bits/dim (test)"},
                       table);
  atomic_write_text((fs::path(out) / "report.md").string(), md.str());
  return metrics;
}

namespace {
nlohmann::json run_image_compare_once(const ImageCompareConfig& c, const std::string& out, const std::string& command) {
  c.validate();
  set_threads(c.runtime.threads);
  const auto device = resolve_device(c.runtime.device);
  set_precision(c.runtime.precision, device);
  if (dist::active() && c.sample_count() < dist::world_size())
    throw ConfigError(flag_error("--samples", std::to_string(c.sample_count()), "at least one per data-parallel rank (" +
                                                                           std::to_string(dist::world_size()) + ")"));
  ensure_writable_dir(out);
  nlohmann::json config = c.to_json();
  config["command"] = command;
  write_json((fs::path(out) / "config.json").string(), config);

  // 1. Train (or find) every model.
  const std::string ckpt_root = !c.from_checkpoints.empty() ? c.from_checkpoints
                                : !c.train_dir.empty()      ? c.train_dir
                                                            : (fs::path(out) / "checkpoints").string();
  nlohmann::json train_metrics = nlohmann::json::object();
  for (const auto& spec : model_specs(c)) {
    const std::string dir = (fs::path(ckpt_root) / spec.key).string();
    if (c.from_checkpoints.empty()) {
      std::cerr << "[compare] training " << spec.key << " -> " << dir << "\n";
      ImageTrainConfig t = train_config(c, spec);
      t.validate();
      run_image_train(t, dir, command + "  # model " + spec.key);
    } else if (!fs::exists(fs::path(dir) / "config.json")) {
      throw ConfigError(flag_error("--from-checkpoints", c.from_checkpoints,
                                   "a folder with a train output '" + spec.key + "' (missing " + dir + "/config.json)"));
    }
    train_metrics[spec.key] = fs::exists(fs::path(dir) / "metrics.json") ? read_run_metrics(dir) : nlohmann::json::object();
  }
  auto dir_of = [&](const std::string& key) { return (fs::path(ckpt_root) / key).string(); };

  // 2. The data and the classifier behind FD / KID.
  auto train_set = load_image_dataset(c.dataset, "train", c.data_dir);
  auto test_set = load_image_dataset(c.dataset, "test", c.data_dir);
  ClassifierTrainConfig cls_cfg;
  cls_cfg.epochs = c.classifier_epochs;
  std::string cls_path = c.classifier.empty() ? default_classifier_path(c.dataset, c.data_dir) : c.classifier;
  // Data parallel: only rank 0 writes a classifier it trains; the others train the same one (same seed) privately.
  if (dist::rank() > 0 && !fs::exists(cls_path)) cls_path = (fs::path(out) / "classifier.pt").string();
  bool cls_trained = false;
  ImageClassifier classifier =
      load_or_train_classifier(c.dataset, c.data_dir, cls_path, derive_seed(c.runtime.seed, "classifier"), cls_cfg, &cls_trained);
  const double cls_acc = classifier_accuracy(classifier, test_set.images, test_set.labels);
  SampleQualityOptions quality_opts;
  quality_opts.classifier_path = cls_path;
  // Real subsets: at most half the rows (with all of them every subset would be the same set and its std 0).
  quality_opts.kid_subset_size = std::max<int64_t>(2, std::min<int64_t>(1000, c.sample_count() / 2));
  quality_opts.bootstrap = c.bootstrap;

  // 3. Draw, score and complete, one row per method variant.
  nlohmann::json rows = nlohmann::json::array();
  auto score_row = [&](nlohmann::json row, const at::Tensor& samples, const std::string& tag) {
    auto gen = make_generator(derive_seed(c.runtime.seed, "quality"));
    row["quality"] = evaluate_sample_quality(classifier, samples.cpu(), train_set, test_set, gen, quality_opts);
    const std::string grid = "samples-" + tag + ".png";
    write_samples((fs::path(out) / grid).string(), samples.cpu());
    row["samples_png"] = grid;
    if (c.neighbours > 0) {
      const std::string nn = "neighbours-" + tag + ".png";
      const at::Tensor q = samples.cpu().slice(0, 0, std::min(c.neighbours, samples.size(0)));
      write_neighbour_grid((fs::path(out) / nn).string(), q, train_set.images, nearest_training_images(q, train_set, 4));
      row["neighbours_png"] = nn;
    }
    rows.push_back(row);
  };
  auto inpaint_row = [&](nlohmann::json& row, const std::string& model_dir, const std::string& stage2_dir,
                         const SamplingConfig& sampling, const std::string& tag) {
    if (c.inpaint_images == 0) return;
    InpaintConfig ic;
    ic.model_dir = model_dir;
    ic.stage2_dir = stage2_dir;
    ic.images = c.inpaint_images;
    ic.samples = c.inpaint_samples;
    ic.data_dir = c.data_dir;
    ic.quiet = c.quiet;
    ic.mask = c.mask;
    ic.sampling = sampling;
    ic.sampling.snapshots = 0;
    ic.runtime = c.runtime;
    const std::string dir = (fs::path(out) / "inpaint" / tag).string();
    row["inpaint"] = run_inpaint(ic, dir, command + "  # inpaint " + tag);
    row["inpaint_png"] = "inpaint/" + tag + "/inpaint.png";
  };
  auto base_row = [&](const std::string& name, const std::string& key) {
    const auto& tm = train_metrics[key];
    nlohmann::json row = {{"method", name}, {"model", key}};
    for (const char* k : {"params", "train_s", "iters", "images_per_s", "test_loss_final", "loss_unit"})
      row[k] = tm.contains(k) ? tm[k] : nlohmann::json(nullptr);
    return row;
  };
  const int64_t n = c.sample_count();
  auto label_agreement = [&](const at::Tensor& samples, const at::Tensor& labels) -> nlohmann::json {
    const at::Tensor pred = classifier_logits(classifier, to_uint8(samples.cpu())).argmax(1);
    const double m = static_cast<double>(labels.size(0));
    const double acc = pred.eq(labels.cpu()).to(torch::kDouble).mean().item<double>();
    const double z = 1.959963984540054, centre = (acc + z * z / (2 * m)) / (1 + z * z / m);
    const double half = z / (1 + z * z / m) * std::sqrt(acc * (1 - acc) / m + z * z / (4 * m * m));
    return {{"accuracy", acc}, {"ci95", {centre - half, centre + half}}, {"n", labels.size(0)}};
  };
  auto write_grid = [](const std::string& path, const at::Tensor& x) { write_samples(path, x); };
  for (const auto& method : c.method_list()) {
    std::cerr << "[compare] sampling " << method << "\n";
    // --guidance-scale guides the class-conditional rows (ncsn, ddpm); the other methods sample as they are.
    ImageCompareConfig row_config = c;
    if (method != "ncsn" && method != "ddpm") {
      row_config.sampling.guidance_scale = 0.0;
      row_config.sampling.classifier_scale = 0.0;
    }
    ImageCompareRows r{row_config, method, device, out, n, train_metrics, test_set, train_set, dir_of, base_row, inpaint_row, score_row,
                       write_grid, label_agreement};
    get_method(method).compare_rows(r);
  }

  // 4. The floor and the report.
  nlohmann::json metrics = {{"dataset", c.dataset}, {"preset", c.preset}, {"device", device.str()},
                            {"samples_per_method", n}, {"classifier", {{"path", repo_relative(cls_path)}, {"arch", classifier->arch()},
                                                                       {"test_accuracy", cls_acc}, {"trained_now", cls_trained}}},
                            {"models", train_metrics}};
  // One schema with the toy compare: a "methods" object keyed by row name (e.g. "smoothed-ar (single-step-full)").
  metrics["methods"] = nlohmann::json::object();
  for (const auto& r : rows) metrics["methods"][r["method"].get<std::string>()] = r;
  write_run_metrics(out, metrics);

  std::vector<std::vector<std::string>> table;
  nlohmann::json floor;
  for (const auto& r : rows) {
    const auto& q = r["quality"];
    if (floor.is_null()) floor = q["floor"];
    std::string bits = "-";
    if (r.contains("bits_per_dim"))
      bits = fmt_or_dash(r["bits_per_dim"]) + " (" + r.value("bits_per_dim_kind", "exact, discretized") + ")";
    if (r.contains("likelihoods") && !r.contains("bits_per_dim")) {
      bits.clear();
      for (auto l = r["likelihoods"].begin(); l != r["likelihoods"].end(); ++l)
        bits += (bits.empty() ? "" : "; ") + l.key() + " " + fmt_or_dash(l.value()["bits_per_dim"]) + " +- " +
                fmt_or_dash(l.value()["se"], 2);
    }
    if (r.contains("stage1_bits_per_dim_x_tilde"))
      bits = fmt_or_dash(r["stage1_bits_per_dim_x_tilde"]) + " (x~, stage 1); bound " +
             fmt_or_dash(r["two_stage_bound_bits_per_dim"]);
    std::string params = int_or_dash(r["params"]);
    if (r.contains("stage2_params")) params += " + " + int_or_dash(r["stage2_params"]);
    std::string train_s = fmt_or_dash(r["train_s"], 4);
    if (r.contains("stage2_train_s")) train_s += " + " + fmt_or_dash(r["stage2_train_s"], 4);
    table.push_back({r["method"].get<std::string>(), params, int_or_dash(r["iters"]), train_s, bits,
                     with_ci(q["fd_classifier"], q.value("fd_classifier_ci95", nlohmann::json())),
                     with_ci(kid_value(q["kid_classifier"]), kid_ci(q["kid_classifier"])),
                     fmt_or_dash(q["classifier_scores"]["mean_max_prob"], 3),
                     r.contains("inpaint") ? fmt_or_dash(r["inpaint"]["mse_unknown"]) : "-",
                     fmt_or_dash(r["sample_s_per_image"])});
  }
  if (!floor.is_null())
    table.push_back({"floor: real test vs real train", "-", "-", "-", "-",
                     with_ci(floor["fd_classifier"], floor.value("fd_classifier_ci95", nlohmann::json())),
                     with_ci(kid_value(floor["kid_classifier"]), kid_ci(floor["kid_classifier"])),
                     rows.empty() ? "-" : fmt_or_dash(rows[0]["quality"]["classifier_scores_real_test"]["mean_max_prob"], 3),
                     "-", "-"});
  // Class-conditional rows: the classifier's agreement with the labels the samples were drawn for.
  std::string agreement;
  for (const auto& r : rows)
    if (r.contains("label_agreement"))
      agreement += "- " + r["method"].get<std::string>() + ": " + fmt_number(r["label_agreement"]["accuracy"].get<double>(), 3) +
                   " [" + fmt_number(r["label_agreement"]["ci95"][0].get<double>(), 3) + ", " +
                   fmt_number(r["label_agreement"]["ci95"][1].get<double>(), 3) + "] of " +
                   std::to_string(r["label_agreement"]["n"].get<int64_t>()) + " samples" +
                   (r.contains("guidance_scale") ? ", guidance scale " + fmt_number(r["guidance_scale"].get<double>(), 3) : "") +
                   (r.contains("classifier_scale") ? ", classifier scale " + fmt_number(r["classifier_scale"].get<double>(), 3) : "") +
                   "\n";
  std::ostringstream md;
  md << "# compare on " << c.dataset << " (" << c.preset << " preset)\n\n"
     << "Command: `" << command << "`\n\n"
     << "Device: " << device.str() << ". Samples per method: " << n << ". Training per model: "
     << (!c.from_checkpoints.empty()
             ? "the models in " + c.from_checkpoints + " (iterations and train time per row)"
             : (c.iters > 0 ? std::to_string(c.iters) + " iterations" : std::string("the preset's iterations")) +
                   (c.budget_minutes > 0 ? ", at most " + fmt_number(c.budget_minutes, 3) + " minutes" : std::string()))
     << ".\n\n"
     << markdown_table({"method", "params", "iters", "train s", "bits/dim (test)", "FD-classifier", "KID-classifier",
                        "classifier confidence", "inpaint MSE (unknown)", "sampling s/image"},
                       table)
     << "\n"
     << (agreement.empty() ? std::string()
                           : "Class-conditional rows: how often the classifier's argmax is the label each sample was drawn "
                             "for (uniform labels; Wilson 95% interval; chance 0.1):\n\n" + agreement + "\n")
     << "FD-classifier and KID-classifier use the FID / KID formulas on the penultimate features of our own "
     << classifier->arch() << " classifier (test accuracy " << fmt_number(100.0 * cls_acc, 4)
     << "%), not Inception: they are not FID and not comparable to published numbers. Lower is better; the floor "
     << "row is real test images against real training images with the same count. "
     << (c.bootstrap > 0 ? "In brackets: bootstrap 95% intervals (FD: basic, KID: percentile; " + std::to_string(c.bootstrap) +
                               " resamples of samples and reference images); KID is the unbiased MMD^2 of all rows "
                               "(metrics.json also has the mean and std over " +
                               std::to_string(quality_opts.kid_subsets) + " random subsets of " +
                               std::to_string(quality_opts.kid_subset_size) + "). "
                         : "KID is the unbiased MMD^2 of all rows (metrics.json also has the mean and std over " +
                               std::to_string(quality_opts.kid_subsets) + " random subsets of " +
                               std::to_string(quality_opts.kid_subset_size) + "). ")
     << "Classifier confidence is the "
     << "mean max-softmax probability of the samples (higher: more recognisable). Inpainting: mask "
     << c.mask.mask << ", MSE on the completed pixels on the [-1, 1] scale (known pixels are kept exactly).\n\n"
     << "bits/dim: ar is the exact discretized test likelihood. smoothed-ar's stage-1 figure is the continuous "
     << "density of x~ = x + sigma z (not comparable to clean-data bits/dim); the bound is the two-stage variational "
     << "bound E[log p(x~) + log p(x + t e | x~) - log q(x~ | x)] on the continuous, N(0, t^2)-dequantized data, "
     << "shifted by log2(127.5) to the 0..255 scale: an approximate clean-data figure, not an exact discrete bound. "
     << "ncsn and ddpm: their own likelihoods on the first " << c.likelihood_images << " test images, bits/dim +- "
     << "standard error (ode: the probability-flow ODE of uniformly dequantized images; bound: the DDPM variational "
     << "bound with the discretized decoder); kinds, function evaluations and seconds in metrics.json / timings.json.\n\n"
     << (c.bootstrap > 0 ? "Which differences the intervals support:\n\n" +
                               separation(rows, "FD-classifier", [](const nlohmann::json& r) {
                                 return std::make_pair(r["quality"]["fd_classifier"],
                                                       r["quality"].value("fd_classifier_ci95", nlohmann::json()));
                               }) +
                               separation(rows, "KID-classifier", [](const nlohmann::json& r) {
                                 return std::make_pair(kid_value(r["quality"]["kid_classifier"]),
                                                       kid_ci(r["quality"]["kid_classifier"]));
                               }) + "\n"
                         : std::string())
     << "## Samples\n\n";
  const auto method_names = c.method_list();
  for (const auto& m : method_names)
    if (get_method(m).max_stage() > 1)  // a smoothing method: its stage-1 draws x~ before reverse smoothing
      md << m << " stage 1 draws x~ (before reverse smoothing): ![x~](samples-" << m << "-x-tilde.png)\n\n";
  for (const auto& r : rows)
    md << "### " << r["method"].get<std::string>() << "\n\n![samples](" << r["samples_png"].get<std::string>() << ")"
       << (r.contains("neighbours_png") ? " ![nearest training images](" + r["neighbours_png"].get<std::string>() + ")"
                                         : std::string())
       << (r.contains("inpaint_png") ? " ![inpainting](" + r["inpaint_png"].get<std::string>() + ")" : std::string())
       << "\n\n";
  md << "Nearest-neighbour grids: each row is a sample followed by its nearest training images (L2 in pixel space). "
     << "Inpainting grids: masked input, completion(s), original.\n";
  atomic_write_text((fs::path(out) / "report.md").string(), md.str());
  return metrics;
}

}  // namespace

}  // namespace scorelab
