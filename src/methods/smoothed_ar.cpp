// smoothed-ar: distribution smoothing (Meng et al. 2021). Stage 1 learns the smoothed density p(x~),
// x~ = x + sigma z (an MLP AR model on mixtures, PixelCNN++'s continuous logistic mixture on images); the
// smoothing is reversed by one gradient step x~ + sigma^2 grad log p(x~) (single-step) or by a stage-2 AR
// model p(x | x~) (conditional-ar).
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>

#include "core/noise.h"
#include "core/runtime.h"
#include "data/transforms.h"
#include "methods/image_compare.h"
#include "dist/dist.h"
#include "methods/method_parts.h"
#include "models/discretized_logistic.h"
#include "models/pixelcnnpp.h"
#include "samplers/pixelcnn_sampling.h"

namespace fs = std::filesystem;

namespace scorelab {

namespace {

using namespace method_parts;
using Clock = std::chrono::steady_clock;
nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

// The corruption of a smoothing method: noise (Meng et al.), blur, or blur then noise (issue 15).
enum class Kind { Noise, Blur, BlurNoise };
const char* kind_name(Kind k) { return k == Kind::Noise ? "noise" : k == Kind::Blur ? "blur" : "blur+noise"; }
const char* method_name(Kind k) {
  return k == Kind::Noise ? "smoothed-ar" : k == Kind::Blur ? "smoothed-ar-blur" : "smoothed-ar-blur-noise";
}

// log density at y [N, D] of B x + sigma z for x from the isotropic mixture `truth`: each component k becomes
// N(B mu_k, s_k^2 B B^T + sigma^2 I) (float64).
at::Tensor blurred_mixture_log_prob(const GaussianMixture& truth, const at::Tensor& b, double sigma, const at::Tensor& y) {
  const at::Tensor yd = y.to(torch::kFloat64).cpu();
  const at::Tensor means = truth.means_tensor().matmul(b.t());  // [K, D]
  const at::Tensor stds = truth.stds_tensor().to(torch::kFloat64);
  const at::Tensor log_w = truth.weights_tensor().to(torch::kFloat64).log();
  const int64_t k_count = means.size(0), d = means.size(1);
  const at::Tensor eye = torch::eye(d, torch::kFloat64);
  std::vector<at::Tensor> terms;
  for (int64_t k = 0; k < k_count; ++k) {
    const double s = stds[k].item<double>();
    const at::Tensor cov = s * s * b.matmul(b.t()) + sigma * sigma * eye;
    const at::Tensor l = torch::linalg_cholesky(cov);
    const at::Tensor diff = (yd - means[k]).t();                                      // [D, N]
    const at::Tensor z = torch::linalg_solve_triangular(l, diff, /*upper=*/false);    // L^-1 (y - m)
    const double log_det = 2.0 * l.diagonal().log().sum().item<double>();
    terms.push_back(log_w[k] - 0.5 * z.pow(2).sum(0) - 0.5 * log_det - 0.5 * d * std::log(2.0 * M_PI));
  }
  return torch::logsumexp(torch::stack(terms), 0);
}

// Distribution smoothing (Meng et al. 2021): stage 1 learns p(x~), stage 2 reverses the smoothing. With blur
// (issue 15) x~ = B x (+ sigma z): only the stage-2 model reverses it (single-step undoes Gaussian noise only).
class SmoothedArToy : public ToyMethod {
 public:
  // Stage 1 (one MLP) and stage 2 (an MLP per dimension) trained one after the other.
  double relative_cost() const override { return stage2() ? 3.0 : 1.2; }
  SmoothedArToy(ToyMethodConfig c, Kind kind) : c_(std::move(c)), kind_(kind) {
    smoothing_.sigma = kind_ == Kind::Blur ? 0.0 : c_.sigma;
    smoothing_.blur = kind_ == Kind::Noise ? 0.0 : (c_.blur_sigma > 0 ? c_.blur_sigma : 1.0);
  }
  std::string name() const override { return method_name(kind_); }
  void train(const ToyData& data, at::Generator& gen, const std::string& dir) override {
    dim_ = data.truth.dim();
    const double scale1 = std::sqrt(data.scale * data.scale + smoothing_.sigma * smoothing_.sigma);
    stage1_ = ToyAR(build_model<ToyARImpl>("toy-ar", toy_model_args(c_, dim_, 0, scale1)));
    ObjectiveArgs a;
    a.sigma = smoothing_.sigma;
    a.blur = smoothing_.blur;
    a.log_prob = [m = stage1_](const at::Tensor& x, const at::Tensor& cond) mutable { return m->log_prob(x, cond); };
    fit(*this, "smoothed-ar-stage1", stage1_.ptr(), *objective_registry().get("smoothed-nll")(a), data, c_, gen, dir);
    if (stage2()) {
      stage2_ = ToyAR(build_model<ToyARImpl>("toy-ar", toy_model_args(c_, dim_, dim_, data.scale)));
      ObjectiveArgs b;
      b.sigma = smoothing_.sigma;
      b.blur = smoothing_.blur;
      b.log_prob = [m = stage2_](const at::Tensor& x, const at::Tensor& cond) mutable { return m->log_prob(x, cond); };
      fit(*this, "smoothed-ar-stage2", stage2_.ptr(), *objective_registry().get("reverse-smoothing")(b), data, c_, gen,
          dir);
    }
  }
  // The stage-1 score is that of the data smoothed at sigma; with blur it is not the data's at any level.
  std::optional<double> score_level() const override {
    return kind_ == Kind::Noise ? std::optional<double>(c_.sigma) : std::nullopt;
  }
  std::optional<ScoreFn> score_fn() override {
    if (kind_ != Kind::Noise) return std::nullopt;
    // The stage-1 model's score is that of the data smoothed at the model's sigma only.
    // Captures the model (a shared handle), not the method: the function may outlive this object.
    const bool detached = c_.grad == "detached";
    return ScoreFn([m = stage1_, detached](const at::Tensor& x, double) mutable { return m->score(x, {}, detached); });
  }
  std::vector<NamedSamples> sample(int64_t n, at::Generator& gen) override {
    auto noisy = timed_sample("stage1", [&] { return draw_ar(stage1_, n, dim_, {}, gen); });
    noisy.note = kind_ == Kind::Noise ? "stage-1 samples x~ (before reverse smoothing)"
                                      : std::string("stage-1 samples x~ (") + kind_name(kind_) + ", before reversal)";
    // The single-step draws first, then stage 2's (the order of the generator's use since before blur smoothing).
    std::optional<NamedSamples> single;
    if (kind_ == Kind::Noise) {
      SamplerArgs args;
      args.sigmas = std::make_shared<SigmaSchedule>(std::vector<double>{c_.sigma});
      args.score = *score_fn();
      auto denoiser = make_sampler("single-step", args);
      single = timed_sample("single-step", [&] { return run_sampler_from(*denoiser, noisy.samples, gen); });
      single->seconds += noisy.seconds;
      single->note = std::string("x~ + sigma^2 grad log p(x~), ") + c_.grad + " gradient";
      single->name = stage2() ? "single-step" : "";
    }
    std::vector<NamedSamples> out;
    if (stage2()) {
      auto cond = timed_sample("", [&] { return draw_ar(stage2_, n, dim_, noisy.samples, gen); });
      cond.seconds += noisy.seconds;
      cond.note = kind_ == Kind::Noise ? "stage 2: conditional AR p(x | x~)"
                                       : std::string("stage 2: conditional AR p(x | x~), x~ = ") +
                                             (kind_ == Kind::Blur ? "B x" : "B x + sigma z");
      out.push_back(cond);
    }
    if (single) out.push_back(*single);
    out.push_back(noisy);
    return out;
  }
  nlohmann::json evaluate(const ToyData& data, at::Generator& gen) override {
    torch::NoGradGuard ng;
    const auto t0 = Clock::now();
    auto x_tilde = smoothing_.apply(data.test, gen);
    auto lp1 = stage1_->log_prob(x_tilde);
    nlohmann::json j;
    if (kind_ == Kind::Noise) {
      j = {{"stage1_nll", -lp1.mean().item<double>()},
           {"stage1_nll_exact", -data.truth.smoothed(c_.sigma).log_prob(x_tilde).mean().item<double>()},
           {"sigma", c_.sigma}};
    } else {
      const at::Tensor b = blur_matrix(dim_, smoothing_.blur);
      j = {{"stage1_nll", -lp1.mean().item<double>()},
           {"stage1_nll_exact", -blurred_mixture_log_prob(data.truth, b, smoothing_.sigma, x_tilde).mean().item<double>()},
           {"sigma", smoothing_.sigma},
           {"blur_sigma", smoothing_.blur},
           {"smoothing", kind_name(kind_)}};
    }
    if (kind_ == Kind::Blur) {
      // x~ = B x is invertible: log p(x) = log p1(B x) + log |det B| exactly (stage 1 alone).
      const double log_det = gaussian_blur_log_abs_det({dim_}, smoothing_.blur);
      const at::Tensor nll = -(lp1.to(torch::kFloat64) + log_det);
      j["test_nll"] = nll.mean().item<double>();
      j["test_nll_kind"] = "exact: -(log p1(B x) + log |det B|), stage 1 through the invertible blur";
      j["likelihoods"] = {{"exact", likelihood_entry("change of variables through the blur (stage 1)", nll,
                                                     seconds_since(t0), 1)}};
    } else if (stage2_) {
      // log p(x) >= E_q[log p(x~) + log p(x | x~) - log q(x~ | x)], one draw of x~ per test point.
      auto bound = smoothing_log_bound(lp1, stage2_->log_prob(data.test, x_tilde), smoothing_.mean(data.test), x_tilde,
                                       smoothing_.sigma);
      j["test_nll"] = -bound.mean().item<double>();
      j["test_nll_kind"] = "upper bound: -E_q[log p(x~) + log p(x|x~) - log q(x~|x)]";
      j["likelihoods"] = {{"bound", likelihood_entry("two-stage variational bound (one x~ per example)", -bound,
                                                     seconds_since(t0), 2)}};
    } else {
      j["test_nll"] = nullptr;
    }
    return j;
  }

 private:
  bool stage2() const { return kind_ != Kind::Noise || c_.denoise == "conditional-ar"; }
  ToyMethodConfig c_;
  Kind kind_;
  Smoothing smoothing_;
  int64_t dim_ = 0;
  ToyAR stage1_{nullptr}, stage2_{nullptr};
};

class SmoothedArMethod : public PixelCnnMethod {
 public:
  explicit SmoothedArMethod(Kind kind) : kind_(kind) {}
  std::string name() const override { return method_name(kind_); }
  std::string help() const override {
    if (kind_ == Kind::Blur)
      return "blur smoothing: an AR model of the Gaussian blur B x (--blur-sigma), reversed by a stage-2 AR model "
             "p(x | B x); exact likelihood log p1(B x) + log |det B|";
    if (kind_ == Kind::BlurNoise)
      return "blur and noise smoothing: an AR model of B x + sigma z, reversed by a stage-2 AR model p(x | x~)";
    return "distribution smoothing: an AR model of x + sigma z (MLP on mixtures, PixelCNN++ on images), then reverse "
           "smoothing (single-step or a stage-2 AR model)";
  }
  std::unique_ptr<ToyMethod> toy(const ToyMethodConfig& c) const override {
    return std::make_unique<SmoothedArToy>(c, kind_);
  }
  int max_stage() const override { return 2; }
  std::string smoothing_kind() const override { return kind_name(kind_); }
  std::vector<std::string> compare_denoisers(const std::vector<std::string>& requested) const override {
    if (kind_ == Kind::Noise) return requested;
    return {"conditional-ar"};  // single-step undoes Gaussian noise only
  }
  ImageModel build(const ImageTrainConfig& c, int64_t channels, int64_t) const override {
    std::shared_ptr<PixelCNNppImpl> net;
    ImageModel m = pixelcnn_model(c, channels, net);
    ObjectiveArgs a;
    a.sigma = c.smoothing().sigma;
    a.blur = c.smoothing().blur;
    if (c.stage == 1) {
      m.name = "pixelcnnpp";
      a.log_prob = [net](const at::Tensor& x, const at::Tensor&) { return mix_logistic_log_prob(x, net->forward(x)); };
      m.objective = objective_registry().get("smoothed-nll")(a);
    } else {
      m.name = "pixelcnnpp-" + c.conditioning;
      a.target_noise = c.target_noise;
      a.log_prob = [net](const at::Tensor& x, const at::Tensor& cond) {
        return mix_logistic_log_prob(x, net->forward(x, cond));
      };
      m.objective = objective_registry().get("reverse-smoothing")(a);
    }
    return m;
  }
  void validate_for(const SamplingConfig& config, const LoadedModels& models) const override {
    if (kind_ != Kind::Noise && config.denoise != "conditional-ar")
      throw ConfigError(flag_error("--denoise", config.denoise,
                                   "conditional-ar for " + name() + ": single-step undoes Gaussian noise only, not a "
                                   "blur (give --denoise conditional-ar and --stage2-dir)"));
    if (config.denoise == "conditional-ar" && !models.stage2)
      throw ConfigError(
          "flag --denoise: conditional-ar needs the stage-2 model p(x | x~); give --stage2-dir DIR (a folder of "
          "`train --method " + name() + " --stage 2`)" + (kind_ == Kind::Noise ? " or use --denoise single-step" : ""));
  }
  ImageSamples draw(const SamplingConfig& config, const LoadedModels& models, int64_t n, at::Generator& gen,
                    SamplingMonitor* monitor) const override {
    const LoadedImageModel& m = models.main;
    const int64_t c = m.channels, s = m.size;
    ImageSamples out;
    out.noisy = sample_pixelcnnpp(pixelcnn_of(m.model), n, c, s, s, gen, pixelcnn_options(config, m.config.dataset, true),
                                  {}, {}, {}, stage_callback(monitor, "stage1"));
    if (config.denoise == "single-step") {
      out.samples = denoise_single_step(pixelcnn_score_fn(m.model, config.grad == "detached"), out.noisy,
                                        m.config.smoothing_sigma(), gen, stage_callback(monitor, "single-step"));
    } else {
      out.samples = sample_pixelcnnpp(pixelcnn_of(models.stage2->model), n, c, s, s, gen,
                                      pixelcnn_options(config, m.config.dataset, false), out.noisy, {}, {},
                                      stage_callback(monitor, "stage2"));
    }
    return out;
  }
  // Stage 1 inpaints x~ given the smoothed known pixels, then the smoothing is reversed.
  at::Tensor inpaint(const SamplingConfig& config, const LoadedModels& models, const at::Tensor& x0,
                     const at::Tensor& known, at::Generator& gen, SamplingMonitor* monitor) const override {
    const auto& m = models.main;
    const int64_t n = x0.size(0), c = m.channels, s = m.size;
    const at::Tensor known_mask = known.to(torch::kFloat32);
    const Smoothing smoothing = m.config.smoothing();
    const double sigma = smoothing.sigma;
    at::Tensor known_noisy, known1 = known_mask;
    if (!smoothing.has_blur()) {
      known_noisy = perturb_ve(x0, sigma, gen).noisy;
    } else {
      // A blurred pixel is known only where its whole blur footprint is: every pixel it mixes is known.
      known1 = blur_known_footprint(known, smoothing.blur).to(torch::kFloat32);  // (known_mask here would leak)
      known_noisy = smoothing.apply(x0, gen);  // its values outside known1 are never read
    }
    const at::Tensor noisy =
        sample_pixelcnnpp(pixelcnn_of(m.model), n, c, s, s, gen, pixelcnn_options(config, m.config.dataset, true), {},
                          known_noisy, known1, stage_callback(monitor, "stage1"));
    if (config.denoise == "single-step")
      return denoise_single_step(pixelcnn_score_fn(m.model, config.grad == "detached"), noisy, sigma, gen,
                                 stage_callback(monitor, "single-step"));
    return sample_pixelcnnpp(pixelcnn_of(models.stage2->model), n, c, s, s, gen,
                             pixelcnn_options(config, m.config.dataset, false), noisy, x0, known_mask,
                             stage_callback(monitor, "stage2"));
  }
  nlohmann::json sampling_summary(const SamplingConfig& config) const override {
    nlohmann::json j = {{"denoise", config.denoise}, {"note", kRasterNote}};
    if (config.denoise == "single-step") j["grad"] = config.grad;
    if (kind_ != Kind::Noise) j["smoothing"] = kind_name(kind_);
    return j;
  }
  // With blur only, x~ = B (x + u) is invertible in x + u and stage 1 alone bounds the likelihood (the change of
  // variables of the dequantized data); with noise, the two-stage bound.
  std::vector<std::string> likelihood_kinds() const override { return {"bound"}; }
  ImageLikelihood image_likelihood(const std::string& kind, const LoadedModels& models, const at::Tensor& x,
                                   const LikelihoodConfig& config, at::Generator& gen) const override {
    if (kind != "bound") return Method::image_likelihood(kind, models, x, config, gen);
    const int64_t dims = x[0].numel();
    if (kind_ == Kind::Blur) {
      // Stage 1 models y = B (x + u) with u the uniform dequantization: -log2 P(x) <= E_u[-log2 p1(y)] - log2 |det B|
      // - D log2(2/255), estimated with one u per image.
      torch::NoGradGuard ng;
      const auto& m = models.main;
      const Smoothing smoothing = m.config.smoothing();
      const at::Tensor y = smoothing.apply(x, gen);
      const double log_det = gaussian_blur_log_abs_det(x[0].sizes(), smoothing.blur);
      const at::Tensor nats = -(mix_logistic_log_prob(y, pixelcnn_of(m.model).forward(y)).to(torch::kFloat64) + log_det);
      return {nats / (static_cast<double>(dims) * std::log(2.0)) + std::log2(127.5),
              "upper bound: -log p1(B (x + u)) - log |det B|, stage 1 through the invertible blur (dequantized, one u "
              "per image)", 1, true};
    }
    if (!models.stage2)
      throw ConfigError("flag --stage2-dir: the two-stage bound of " + name() + " needs the stage-2 model p(x | x~); give "
                        "--stage2-dir DIR (a `train --method " + name() + " --stage 2` folder)");
    // Continuous densities on [-1, 1] at the pixel values; + log2(127.5) per dim: bins of width 2/255.
    const at::Tensor nats = -two_stage_log_bound(models.main, *models.stage2, x, gen).to(torch::kFloat64);
    return {nats / (static_cast<double>(dims) * std::log(2.0)) + std::log2(127.5),
            "upper bound: two-stage variational bound (one x~ per image)", 2, true};
  }
  // ONE set of stage-1 draws x~, reversed by every chosen denoiser, one row each; the two-stage bound on test
  // images when the stage-2 model is there.
  void compare_rows(ImageCompareRows& r) const override {
    const ImageCompareConfig& c = r.config;
    const auto& device = r.device;
    const auto& out = r.out;
    const int64_t n = r.n;
    const auto& train_metrics = r.train_metrics;
    const auto& test_set = r.test_set;
    auto& dir_of = r.dir_of;
    auto& base_row = r.base_row;
    auto& inpaint_row = r.inpaint_row;
    auto& score_row = r.score_row;
    auto& write_samples = r.write_grid;
    const auto denoisers = compare_denoisers(c.denoiser_list());
    const std::string key1 = name() + "-stage1", key2 = name() + "-stage2-stacked";
    const bool need_stage2 = std::find(denoisers.begin(), denoisers.end(), "conditional-ar") != denoisers.end();
    LoadedModels models;
    models.main = load_image_model(dir_of(key1), device);
    if (need_stage2) models.stage2 = load_image_model(dir_of(key2), device);
    const auto& m1 = models.main;
    const double sigma = m1.config.smoothing().sigma;
    // The stage-1 draws x~, shared by every reverse-smoothing row (data parallel: each rank draws its share).
    SamplingMonitor monitor(c.sampling.snapshots > 0 ? (fs::path(out) / "snapshots" / "smoothed-ar").string() : "",
                            c.sampling.snapshots, !c.quiet);
    auto t0 = Clock::now();
    const at::Tensor x_tilde = dist::sharded_draw(
        n, derive_seed(c.runtime.seed, "sample-" + name()), device, [&](int64_t begin, int64_t end, at::Generator& gen) {
          torch::NoGradGuard ng;
          return sample_pixelcnnpp(pixelcnn_of(m1.model), end - begin, m1.channels, m1.size, m1.size, gen,
                                   pixelcnn_options(c.sampling, m1.config.dataset, /*continuous=*/true), {}, {}, {},
                                   monitor.stage("stage1"));
        },
        c.sampling.sample_batch);
    const double stage1_s = seconds_since(t0);
    write_samples((fs::path(out) / ("samples-" + name() + "-x-tilde.png")).string(), x_tilde.cpu());
    // Two-stage bound on test images (needs stage 2).
    double bound_bits = NAN;
    nlohmann::json exact = nullptr;
    if (kind_ == Kind::Blur && c.bound_images > 0) {  // blur only: stage 1 through the blur bounds the likelihood
      auto lgen = make_generator(derive_seed(c.runtime.seed, "bound"), device);
      LikelihoodConfig lc = c.likelihood;
      lc.batch_size = 50;
      exact = test_likelihood("bound", models, test_set, c.bound_images, lc, lgen);
    }
    if (need_stage2 && c.bound_images > 0 && kind_ != Kind::Blur) {
      auto bgen = make_generator(derive_seed(c.runtime.seed, "bound"), device);
      const int64_t nb = std::min<int64_t>(c.bound_images, test_set.images.size(0));
      double total = 0.0;
      for (int64_t i = 0; i < nb; i += 50) {
        const at::Tensor x = to_model_range(test_set.images.slice(0, i, std::min(nb, i + 50))).to(device);
        total += two_stage_log_bound(m1, *models.stage2, x, bgen).sum().item<double>();
      }
      const int64_t dims = m1.channels * m1.size * m1.size;
      // Continuous density on [-1, 1]; + log2(127.5) per dim converts to the 0..255 scale (bins of width 1).
      bound_bits = -total / nb / (dims * std::log(2.0)) + std::log2(127.5);
    }
    for (const auto& d : denoisers) {
      nlohmann::json row = base_row(name() + " (" + d + ")", key1);
      row["stage1_bits_per_dim_x_tilde"] = row["test_loss_final"];
      row["test_loss_final"] = nullptr;
      row["two_stage_bound_bits_per_dim"] = number(bound_bits);
      if (!exact.is_null()) row["likelihoods"] = {{"bound", exact}};
      if (d == "conditional-ar") {
        row["stage2_params"] = train_metrics.at(key2).value("params", 0);
        row["stage2_train_s"] = train_metrics.at(key2).value("train_s", 0.0);
      }
      SamplingConfig sc = c.sampling;  // (the blur methods' rows are conditional-ar only)
      sc.denoise = d == "conditional-ar" ? "conditional-ar" : "single-step";
      sc.grad = d == "single-step-full" ? "full" : "detached";
      t0 = Clock::now();
      // Each rank reverses its own rows of x~.
      const at::Tensor x = dist::sharded_draw(
          n, derive_seed(c.runtime.seed, kind_ == Kind::Noise ? "denoise-" + d : name() + "-denoise-" + d), device, [&](int64_t begin, int64_t end, at::Generator& dgen) {
            const at::Tensor mine = x_tilde.slice(0, begin, end);
            if (d == "conditional-ar") {
              torch::NoGradGuard ng;
              const auto& m2 = *models.stage2;
              return sample_pixelcnnpp(pixelcnn_of(m2.model), end - begin, m2.channels, m2.size, m2.size, dgen,
                                       pixelcnn_options(sc, m2.config.dataset, /*continuous=*/false), mine, {}, {},
                                       monitor.stage("stage2"));
            }
            return denoise_single_step(pixelcnn_score_fn(m1.model, sc.grad == "detached"), mine, sigma, dgen,
                                       monitor.stage("single-step"));
          },
          c.sampling.sample_batch);
      row["sample_s_per_image"] = (stage1_s + seconds_since(t0)) / static_cast<double>(n);
      row["stage1_sample_s_per_image"] = stage1_s / static_cast<double>(n);
      inpaint_row(row, dir_of(key1), need_stage2 ? dir_of(key2) : "", sc, name() + "-" + d);
      score_row(row, x, name() + "-" + d);
    }
  }

 private:
  Kind kind_;
};

}  // namespace

std::shared_ptr<const Method> make_smoothed_ar_method() { return std::make_shared<SmoothedArMethod>(Kind::Noise); }
std::shared_ptr<const Method> make_smoothed_ar_blur_method() { return std::make_shared<SmoothedArMethod>(Kind::Blur); }
std::shared_ptr<const Method> make_smoothed_ar_blur_noise_method() {
  return std::make_shared<SmoothedArMethod>(Kind::BlurNoise);
}

}  // namespace scorelab
