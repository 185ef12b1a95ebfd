// ddpm: denoising diffusion (Ho et al. 2020): an eps-prediction network on a beta schedule (an MLP on the
// standardised mixture, the U-Net on images; --hybrid adds learned variances), sampled ancestrally, by DDIM,
// or by any score sampler on its VE-coordinate score (pc, ode, edm) through its model wrapper.
#include <torch/torch.h>

#include <chrono>
#include <cmath>

#include "core/noise.h"
#include "eval/likelihood.h"
#include "eval/markdown.h"
#include "methods/method_parts.h"
#include "models/toy_score.h"
#include "models/unet.h"
#include "samplers/wrappers.h"

namespace scorelab {

namespace {

using namespace method_parts;

// DDPM: eps-prediction MLP on standardised data, ancestral or DDIM sampling.
class DdpmToy : public ToyMethod {
 public:
  double relative_cost() const override { return 3.0; }  // one MLP, T-step sampling, the bound and the ODE over T
  explicit DdpmToy(ToyMethodConfig c) : c_(std::move(c)) {
    sampler_ = c_.sampler.empty() ? "ddpm" : c_.sampler;
    check_sampler(sampler_, offered_by(Parameterisation::VpEps), "method ddpm");
    // Building the sampler on the configured schedule checks its settings against T before any training
    // (e.g. --steps above --timesteps); the placeholder eps is never evaluated.
    c_.validate();
    auto betas = std::make_shared<BetaSchedule>(BetaSchedule::by_name(c_.beta_schedule, c_.timesteps));
    make_sampler(sampler_, vp_eps_model([](const at::Tensor& x, int64_t) { return x; }, betas, "method ddpm")
                               .args(c_.sampling));
  }
  std::string name() const override { return "ddpm"; }
  void train(const ToyData& data, at::Generator& gen, const std::string& dir) override {
    dim_ = data.truth.dim();
    // DDPM assumes standardised data: centre by the data mean and divide by the pooled std.
    scale_ = data.scale;
    mean_ = (data.truth.weights_tensor().unsqueeze(1) * data.truth.means_tensor()).sum(0).to(torch::kFloat32);
    betas_ = std::make_shared<BetaSchedule>(BetaSchedule::by_name(c_.beta_schedule, c_.timesteps));
    truth_ = std::make_shared<GaussianMixture>(data.truth);
    if (c_.score == "exact") return;
    ModelArgs args = toy_model_args(c_, dim_, 0, 1.0);
    if (c_.precond == "edm") args.alphas_cumprod = betas_->alpha_bars();
    net_ = EpsMLP(build_model<EpsMLPImpl>("eps-mlp", args));
    ObjectiveArgs a;
    a.betas = betas_;
    a.antithetic = c_.antithetic;
    a.eps = [m = net_](const at::Tensor& x, const at::Tensor& t) mutable { return m->forward(x, t); };
    const double scale = scale_;
    const at::Tensor mean = mean_;
    fit(*this, "ddpm", net_.ptr(), *objective_registry().get("ddpm")(a), data, c_, gen, dir,
        [scale, mean](const at::Tensor& x) { return (x - mean) / scale; });
    // Classifier guidance: the classifier in the sampler's coordinates, the standardised data plus VE noise.
    if (c_.classifier_scale > 0)
      classifier_ = fit_toy_classifier(*this, data, c_, [scale, mean](const at::Tensor& x) { return (x - mean) / scale; },
                                       1.0, betas_->sigma_equivalent(0), betas_->sigma_equivalent(betas_->steps() - 1),
                                       gen, dir);
  }
  std::optional<ScoreFn> score_fn() override {
    // Score of the data smoothed at sigma, from eps of the standardised model: s(x) = s_std(x / scale) / scale.
    auto to_score = wrapper().score;
    const double scale = scale_;
    const at::Tensor mean = mean_;
    return ScoreFn([to_score, scale, mean](const at::Tensor& x, double sigma) {
      return to_score((x - mean) / scale, sigma / scale) / scale;
    });
  }
  std::vector<NamedSamples> sample(int64_t n, at::Generator& gen) override {
    // Every sampler runs on the standardised data (score samplers in VE coordinates x_t / sqrt(abar_t)).
    ModelWrapper model = wrapper();
    at::Tensor y;
    if (c_.classifier_scale > 0) {  // classifier guidance toward components drawn from the weights
      y = draw_labels(*truth_, n, gen);
      model = classifier_guided(model, c_.score == "exact" ? exact_classifier_grad(standardised_truth(), y)
                                                           : toy_classifier_grad(classifier_, y),
                                c_.classifier_scale);
    }
    auto sampler = make_sampler(sampler_, model.args(c_.sampling));
    auto s = timed_sample("", [&] { return run_sampler(*sampler, n, {dim_}, gen) * scale_ + mean_; });
    s.stats = sampler->stats();
    s.note = sampler->describe() + (c_.score == "exact" ? ", exact eps" : "");
    if (y.defined()) {
      s.stats["label_agreement"] = label_agreement(*truth_, s.samples, y);
      s.note += ", classifier-guided (scale " + fmt_number(c_.classifier_scale, 3) + ")";
    }
    return {s};
  }
  // The variational bound (all T terms or stratified; the Gaussian decoder on continuous data) and the
  // probability-flow ODE likelihood, both on the standardised data and converted back: log p(x) =
  // log p_std((x - m) / s) - D log s.
  nlohmann::json evaluate(const ToyData& data, at::Generator& gen) override {
    const at::Tensor x = (data.test - mean_) / scale_;
    const double log_jac = static_cast<double>(dim_) * std::log(scale_);
    LikelihoodConfig lc = c_.likelihood;
    lc.variance = c_.sampling.variance;
    // Bound.
    auto t0 = std::chrono::steady_clock::now();
    double nfe = 0;
    const EpsVarFn net = eps_var_fn();
    const at::Tensor bound = batched(x, lc.batch_size, [&](const at::Tensor& b, double& calls) {
      const VlbResult r = ddpm_vlb(net, *betas_, b, /*discrete=*/false, lc, gen);
      calls = r.nfe;
      return r.nll_bound + log_jac;
    }, &nfe);
    const std::string bound_kind = "upper bound: DDPM variational bound (" +
                                   (lc.vlb_strata > 0 ? std::to_string(lc.vlb_strata) + " strata" : std::string("all T terms")) +
                                   ", " + lc.variance + " variance, Gaussian decoder)";
    nlohmann::json vlb = likelihood_entry(bound_kind, bound, seconds_since(t0), nfe);
    // ODE in the VE coordinates of the VP process; prior N(0, (1 + sigma_max^2) I) there (x_T ~ N(0, I)).
    const ModelWrapper model = wrapper();
    const double smin = model.process->sigma_min(), smax = model.process->sigma_max();
    const PriorLogProb prior = gaussian_prior(1.0 + smax * smax);
    t0 = std::chrono::steady_clock::now();
    const int64_t m = lc.ode_examples > 0 ? std::min(lc.ode_examples, x.size(0)) : x.size(0);
    const at::Tensor log_p = batched(x.slice(0, 0, m), lc.batch_size, [&](const at::Tensor& b, double& calls) {
      const LikelihoodResult r = ode_log_likelihood(model.score, smin, smax, prior, b, lc, gen);
      calls = r.nfe;
      return r.log_p - log_jac;
    }, &nfe);
    nlohmann::json ode = likelihood_entry("probability-flow ODE (" + lc.solver + ", " + divergence_label(lc, dim_) + ")",
                                          -log_p, seconds_since(t0), nfe);
    return {{"test_nll", vlb["nll"]}, {"test_nll_kind", bound_kind}, {"likelihoods", {{"bound", vlb}, {"ode", ode}}},
            {"sampler", sampler_}, {"beta_schedule", c_.beta_schedule}, {"score", c_.score}};
  }

 private:
  ModelWrapper wrapper() const { return vp_eps_model(eps_fn(), betas_, "method ddpm"); }
  // The mixture in the sampler's coordinates (x - mean) / scale.
  std::shared_ptr<const GaussianMixture> standardised_truth() const {
    std::vector<std::vector<double>> means = truth_->means();
    std::vector<double> stds = truth_->stds();
    for (auto& m : means)
      for (size_t d = 0; d < m.size(); ++d) m[d] = (m[d] - mean_[static_cast<int64_t>(d)].item<double>()) / scale_;
    for (auto& sd : stds) sd /= scale_;
    return std::make_shared<GaussianMixture>(truth_->weights(), means, stds);
  }
  // eps with a timestep per example (the bound draws them so): the network directly; the exact eps per timestep.
  EpsVarFn eps_var_fn() const {
    if (c_.score != "exact")
      return [m = net_](const at::Tensor& x, const at::Tensor& t) mutable { return m->forward(x, t); };
    return [eps = eps_fn()](const at::Tensor& x, const at::Tensor& t) {
      const at::Tensor tc = t.cpu();
      if (tc.min().item<int64_t>() == tc.max().item<int64_t>()) return eps(x, tc[0].item<int64_t>());
      at::Tensor out = torch::empty_like(x);
      const at::Tensor values = std::get<0>(at::_unique(tc));
      for (int64_t i = 0; i < values.numel(); ++i) {
        const int64_t v = values[i].item<int64_t>();
        const at::Tensor idx = tc.eq(v).nonzero().flatten().to(x.device());
        out.index_copy_(0, idx, eps(x.index_select(0, idx), v));
      }
      return out;
    };
  }
  EpsFn eps_fn() const {
    if (c_.score == "exact") {
      // eps*(x_t, t) = -sqrt(1 - abar_t) grad log q_t(x_t), q_t the mixture of sqrt(abar_t) x0 + sqrt(1 - abar_t) e
      // for the standardised data x0 = x / scale.
      auto truth = truth_;
      auto betas = betas_;
      const double scale = scale_;
      const std::vector<float> mean(mean_.data_ptr<float>(), mean_.data_ptr<float>() + mean_.numel());
      return [truth, betas, scale, mean](const at::Tensor& x, int64_t t) {
        const double ab = betas->alpha_bar(t);
        std::vector<std::vector<double>> means = truth->means();
        std::vector<double> stds = truth->stds();
        for (auto& m : means)
          for (size_t d = 0; d < m.size(); ++d) m[d] = (m[d] - mean[d]) * std::sqrt(ab) / scale;
        for (auto& sd : stds) sd = std::sqrt(ab * sd * sd / (scale * scale) + 1 - ab);
        return -std::sqrt(1 - ab) * GaussianMixture(truth->weights(), means, stds).score(x);
      };
    }
    return [m = net_](const at::Tensor& x, int64_t t) mutable {
      return m->forward(x, torch::full({x.size(0)}, t, x.options().dtype(torch::kLong)));
    };
  }
  ToyMethodConfig c_;
  std::string sampler_;
  int64_t dim_ = 0;
  double scale_ = 1.0;
  at::Tensor mean_;
  std::shared_ptr<BetaSchedule> betas_;
  std::shared_ptr<GaussianMixture> truth_;
  EpsMLP net_{nullptr};
  std::shared_ptr<ToyClassifierImpl> classifier_;  // --classifier-scale
};

class DdpmMethod : public ScoreMethod {
 public:
  std::string name() const override { return "ddpm"; }
  std::string help() const override {
    return "denoising diffusion, eps prediction (MLP on standardised mixtures, U-Net on images; --hybrid: learned "
           "variances); ancestral by default";
  }
  std::vector<std::string> networks(const DataSource& source) const override {
    return {source.images() ? "unet" : "eps-mlp"};
  }
  std::unique_ptr<ToyMethod> toy(const ToyMethodConfig& c) const override { return std::make_unique<DdpmToy>(c); }
  bool supports_hybrid() const override { return true; }
  ImageModel build(const ImageTrainConfig& c, int64_t channels, int64_t size) const override {
    ImageModel m;
    ModelArgs args = model_args(c, channels, size);
    setup_conditioning(c, m, args);
    auto net = build_model<UNetImpl>("unet", args);
    m.name = "unet";
    m.module = net;
    m.eps = [net, holder = m.labels, null = m.null_label](const at::Tensor& x, const at::Tensor& t) {
      return net->forward(x, t, labels_for(holder, null, x, "ddpm"));
    };
    m.loss_unit = c.hybrid ? "hybrid (mse + vlb bits/dim)" : "mse";
    ObjectiveArgs a;
    a.betas = std::make_shared<BetaSchedule>(BetaSchedule::by_name(c.beta_schedule, c.timesteps));
    m.betas = a.betas;
    a.antithetic = c.antithetic;
    a.eps = m.eps;
    m.objective = objective_registry().get(c.hybrid ? "ddpm-hybrid" : "ddpm")(a);
    return m;
  }
  void paper_preset(ImageTrainConfig& c, const Unset& unset) const override {
    unet_paper_preset(c, unset);
  }
  void small_preset(ImageTrainConfig& c, const Unset& unset) const override { unet_small_preset(c, unset); }
  std::string default_sampler() const override { return "ddpm"; }
  std::vector<std::string> offered() const override { return offered_by(Parameterisation::VpEps); }
  SamplerArgs sampler_args(const SamplingConfig& config, const LoadedImageModel& model,
                           const ClassifierGuide& guide) const override {
    return classifier_guided(
               vp_eps_model(ddpm_eps_fn(model.model, model.channels, config.guidance_scale), model.model.betas, "method ddpm"),
               guide)
        .args(config.sampling);
  }
  std::vector<std::string> likelihood_kinds() const override { return {"bound", "ode"}; }
  // bound: the variational bound with the discretized Gaussian decoder (bits of the 8-bit data directly);
  // ode: the probability flow of the dequantized images in the VE coordinates, prior N(0, (1 + sigma_max^2) I).
  ImageLikelihood image_likelihood(const std::string& kind, const LoadedModels& models, const at::Tensor& x,
                                   const LikelihoodConfig& config, at::Generator& gen) const override {
    const int64_t dims = x[0].numel();
    const double per_dim = static_cast<double>(dims) * std::log(2.0);
    const LoadedImageModel& m = models.main;
    if (kind == "bound") {
      if (!m.model.eps) throw std::logic_error("ddpm bound: model '" + m.model.name + "' is not a U-Net");
      const EpsVarFn eps_var = m.model.eps;
      const VlbResult r = ddpm_vlb(eps_var, *m.model.betas, x, /*discrete=*/true, config, gen);
      const std::string terms = config.vlb_strata > 0 ? std::to_string(config.vlb_strata) + " strata" : "all T terms";
      return {r.nll_bound.to(torch::kFloat64) / per_dim,
              "upper bound: DDPM variational bound (" + terms + ", " +
                  (m.config.hybrid ? std::string("learned") : config.variance) + " variance, discretized decoder)",
              r.nfe};
    }
    if (kind == "ode") {
      const ModelWrapper w = vp_eps_model(ddpm_eps_fn(m.model, m.channels), m.model.betas, "method ddpm");
      const double smin = w.process->sigma_min(), smax = w.process->sigma_max();
      const LikelihoodResult r =
          ode_log_likelihood(w.score, smin, smax, gaussian_prior(1.0 + smax * smax), dequantize(x, gen), config, gen);
      return {-r.log_p / per_dim + std::log2(127.5),
              "probability-flow ODE (" + config.solver + ", " + divergence_label(config, dims) + ", dequantized)", r.nfe, true};
    }
    return Method::image_likelihood(kind, models, x, config, gen);
  }
};

}  // namespace

std::shared_ptr<const Method> make_ddpm_method() { return std::make_shared<DdpmMethod>(); }

}  // namespace scorelab
