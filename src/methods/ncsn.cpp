// ncsn: a noise-conditional score network s(x, sigma) trained by denoising (or sliced) score matching on
// geometric noise levels (Song & Ermon 2019; NCSNv2 on images), sampled by annealed Langevin dynamics or any
// score sampler (pc, ode, edm; mala with the exact mixture density) through its model wrapper.
#include <torch/torch.h>

#include "core/error.h"
#include "core/noise.h"
#include "core/runtime.h"
#include "eval/likelihood.h"
#include "eval/markdown.h"
#include "data/datasets.h"
#include "data/image_data.h"
#include "methods/method_parts.h"
#include "models/ncsnv2.h"
#include "models/toy_score.h"
#include "models/unet.h"
#include "samplers/wrappers.h"
#include "toy/toy_metrics.h"

namespace scorelab {

namespace {

using namespace method_parts;

// NCSN: noise-conditional score network + (annealed) Langevin dynamics.
class NcsnToy : public ToyMethod {
 public:
  double relative_cost() const override { return 1.5; }  // one MLP, L x T Langevin steps, the ODE likelihood
  explicit NcsnToy(ToyMethodConfig c) : c_(std::move(c)) {
    sampler_ = c_.sampler.empty() ? "annealed-langevin" : c_.sampler;
    check_sampler(sampler_, offered(), "method ncsn");
  }
  std::string name() const override { return "ncsn"; }
  void train(const ToyData& data, at::Generator& gen, const std::string& dir) override {
    truth_ = std::make_shared<GaussianMixture>(data.truth);
    dim_ = data.truth.dim();
    sigmas_ = std::make_shared<SigmaSchedule>(toy_sigmas(c_, data.truth));
    if (c_.score == "exact") return;
    ModelArgs args = toy_model_args(c_, dim_, 0, data.scale);
    if (c_.precond == "edm") {
      const at::Tensor m = (data.truth.weights_tensor().unsqueeze(1) * data.truth.means_tensor()).sum(0) /
                           data.truth.weights_tensor().sum();
      args.centre = std::vector<double>(m.data_ptr<double>(), m.data_ptr<double>() + m.numel());
    }
    if (conditional()) args.classes = data.truth.components() + (c_.label_dropout > 0 ? 1 : 0);  // + the null label
    net_ = ScoreMLP(build_model<ScoreMLPImpl>("score-mlp", args));
    if (conditional()) return train_conditional(data, gen, dir);
    ObjectiveArgs a;
    a.sigmas = sigmas_;
    a.score = [m = net_](const at::Tensor& x, const at::Tensor& s) mutable { return m->forward(x, s); };
    a.noise = NoiseFamily::by_name(c_.dsm_noise, c_.student_nu);
    a.levels = level_sampling_by_name(c_.level_sampling);
    a.weight = score_weight_by_name(c_.score_weight);
    a.projections = c_.projections;
    a.rademacher = c_.projection == "rademacher";
    a.variance_reduced = c_.ssm_form == "vr";
    fit(*this, "ncsn", net_.ptr(), *objective_registry().get(c_.objective)(a), data, c_, gen, dir);
    if (c_.classifier_scale > 0)  // classifier guidance: noise levels over the trained range
      classifier_ = fit_toy_classifier(*this, data, c_, {}, data.scale, sigmas_->sigmas().back(),
                                       sigmas_->sigmas().front(), gen, dir);
  }
  // A class-conditional model has no marginal score s(x, sigma) (score fields, score errors).
  std::optional<ScoreFn> score_fn() override {
    if (conditional()) return std::nullopt;
    return wrapper().score;
  }
  std::vector<NamedSamples> sample(int64_t n, at::Generator& gen) override {
    if (conditional()) return sample_conditional(n, gen);
    if (c_.classifier_scale > 0) {  // classifier guidance toward components drawn from the weights
      const at::Tensor y = draw_labels(*truth_, n, gen);
      const ScoreFn grad = c_.score == "exact" ? exact_classifier_grad(truth_, y) : toy_classifier_grad(classifier_, y);
      NamedSamples s = draw(classifier_guided(wrapper(), grad, c_.classifier_scale), n, gen,
                            ", classifier-guided (scale " + fmt_number(c_.classifier_scale, 3) + ")");
      s.stats["label_agreement"] = label_agreement(*truth_, s.samples, y);
      return {s};
    }
    return {draw(wrapper(), n, gen, "")};
  }
  // The probability-flow ODE likelihood of the test draws (exact score: the exact model's, with the smoothed
  // mixture at sigma_max as prior; learned: prior N(m, (sigma_max^2 + s^2) I), m and s the data mean and std).
  nlohmann::json evaluate(const ToyData& data, at::Generator& gen) override {
    const double smax = sigmas_->sigmas().front(), smin = sigmas_->sigmas().back();
    if (conditional())
      return {{"test_nll", nullptr},
              {"test_nll_kind", "none: the marginal of a class-conditional model needs one probability-flow ODE per class"},
              {"sampler", sampler_}, {"score", c_.score}, {"condition", c_.condition}, {"sigma_max", smax}, {"sigma_min", smin}};
    if (c_.dsm_noise != "gaussian")  // the probability-flow ODE is that of Gaussian smoothing
      return {{"test_nll", nullptr}, {"test_nll_kind", "none: the probability-flow ODE needs Gaussian perturbations"},
              {"sampler", sampler_}, {"score", c_.score}, {"dsm_noise", c_.dsm_noise}, {"sigma_max", smax}, {"sigma_min", smin}};
    const bool exact = c_.score == "exact";
    const ModelWrapper model = wrapper();
    PriorLogProb prior = exact ? PriorLogProb([top = truth_->smoothed(smax)](const at::Tensor& x) { return top.log_prob(x); })
                               : gaussian_prior(smax * smax + data.scale * data.scale,
                                              (truth_->weights_tensor().unsqueeze(1) * truth_->means_tensor()).sum(0));
    const auto t0 = std::chrono::steady_clock::now();
    double nfe = 0;
    const int64_t m = c_.likelihood.ode_examples > 0 ? std::min(c_.likelihood.ode_examples, data.test.size(0)) : data.test.size(0);
    const at::Tensor x = (exact ? data.test.to(torch::kFloat64) : data.test).slice(0, 0, m);
    const at::Tensor log_p = batched(x, c_.likelihood.batch_size, [&](const at::Tensor& b, double& calls) {
      const LikelihoodResult r = ode_log_likelihood(model.score, smin, smax, prior, b, c_.likelihood, gen);
      calls = r.nfe;
      return r.log_p;
    }, &nfe);
    const std::string kind = "probability-flow ODE (" + c_.likelihood.solver + ", " +
                             divergence_label(c_.likelihood, dim_) + (exact ? ", exact score and prior" : "") + ")";
    nlohmann::json ode = likelihood_entry(kind, -log_p, seconds_since(t0), nfe);
    nlohmann::json out = {{"test_nll", ode["nll"]}, {"test_nll_kind", kind}, {"likelihoods", {{"ode", ode}}},
                          {"sampler", sampler_}, {"score", c_.score}, {"sigma_max", smax}, {"sigma_min", smin}};
    if (!exact) out["score_error"] = score_error(data.truth);
    return out;
  }

  // The learned score against the exact one at every trained level (issue 14): 4,000 exact draws of the data
  // smoothed at sigma from a stream of their own (the other metrics see the same draws as before); "mse" is the
  // Fisher divergence E ||s_theta - grad log p_sigma||^2 and "relative" its ratio to E ||grad log p_sigma||^2.
  // score_esm averages lambda(sigma) mse / 2 over the levels (--score-weight): the explicit score-matching
  // objective that DSM minimises (up to a constant); score_rel_error averages the ratios.
  nlohmann::json score_error(const GaussianMixture& truth) {
    at::Generator g = make_generator(derive_seed(0, "toy-eval/ncsn-score-error"));
    const ScoreFn fn = wrapper().score;
    const ScoreWeight weight = score_weight_by_name(c_.score_weight);
    std::vector<double> mse, rel;
    double esm = 0, relative = 0;
    for (double sigma : sigmas_->sigmas()) {
      const ScoreError e = scorelab::score_error(truth, fn, sigma, 4000, g);
      mse.push_back(e.mse);
      rel.push_back(e.relative());
      esm += 0.5 * sigma * sigma * e.mse * lambda_over_sigma2(weight, sigma);
      relative += e.relative();
    }
    const double L = static_cast<double>(mse.size());
    return {{"sigmas", sigmas_->sigmas()}, {"mse", mse}, {"relative", rel}, {"score_esm", esm / L},
            {"score_rel_error", relative / L}};
  }

 private:
  bool conditional() const { return c_.condition == "component"; }

  // --condition component (issue 14, experiment 10): DSM on labelled draws. A batch carries the component as one
  // extra column, so the trainer's batches and held-out set stay tensors; the objective splits it off and binds
  // the labels to the network. The x draws (batches and held-out set) are the unconditional run's: sample_labelled
  // shares sample's stream.
  void train_conditional(const ToyData& data, at::Generator& gen, const std::string& dir) {
    const int64_t D = dim_;
    auto with_labels = [](const std::pair<at::Tensor, at::Tensor>& xy) {
      return torch::cat({xy.first, xy.second.to(xy.first.scalar_type()).unsqueeze(1)}, 1);
    };
    ToyData labelled = data;
    labelled.batch = [truth = truth_, with_labels](int64_t n, at::Generator& g) { return with_labels(truth->sample_labelled(n, g)); };
    labelled.test = with_labels({data.test, data.test_labels});
    const auto sigmas = sigmas_;
    const NoiseFamily noise = NoiseFamily::by_name(c_.dsm_noise, c_.student_nu);
    const LevelSampling levels = level_sampling_by_name(c_.level_sampling);
    const ScoreWeight weight = score_weight_by_name(c_.score_weight);
    const double dropout = c_.label_dropout;
    const int64_t null_label = data.truth.components();
    auto objective = make_objective("dsm", [m = net_, D, sigmas, noise, levels, weight, dropout, null_label](
                                               const at::Tensor& batch, at::Generator& g) mutable {
      // dsm_loss draws for the global batch and keeps this process's rows (in order): the labels follow them.
      // --label-dropout: each (global) label becomes the null label with probability p, drawn before dsm_loss's draws.
      at::Tensor labels = batch.select(1, D).to(torch::kLong);
      if (dropout > 0)
        labels = torch::where(torch::rand({labels.size(0)}, g, batch.options()) < dropout, torch::full_like(labels, null_label), labels);
      const at::Tensor x = batch.slice(1, 0, D), y = local_rows(labels);
      const ScoreNetFn fn = [m, y](const at::Tensor& xx, const at::Tensor& s) mutable { return m->forward(xx, s, y); };
      return dsm_loss(fn, x, *sigmas, g, noise, levels, weight);
    });
    fit(*this, "ncsn", net_.ptr(), *objective, labelled, c_, gen, dir);
  }

  // Labels k ~ the mixture weights (the class prior), then the sampler on the score of component k: the network's
  // s(x, sigma, k), or with --score exact the component's smoothed score -(x - mu_k) / (s_k^2 + sigma^2).
  std::vector<NamedSamples> sample_conditional(int64_t n, at::Generator& gen) {
    const at::Tensor y = torch::multinomial(truth_->weights_tensor(), n, /*replacement=*/true, gen);
    ScoreFn fn, marginal;
    if (c_.score == "exact") {
      const at::Tensor mu = truth_->means_tensor().index_select(0, y), var = truth_->stds_tensor().index_select(0, y).pow(2).unsqueeze(1);
      fn = [mu, var](const at::Tensor& x, double sigma) {
        return (-(x.to(torch::kFloat64) - mu) / (var + sigma * sigma)).to(x.scalar_type());
      };
      marginal = exact_mixture_model(truth_, sigmas_, "method ncsn").score;
    } else {
      fn = [m = net_, y](const at::Tensor& x, double sigma) mutable {
        return m->forward(x, torch::full({x.size(0)}, sigma, x.options()), y);
      };
      if (c_.label_dropout > 0)
        marginal = [m = net_, null = truth_->components()](const at::Tensor& x, double sigma) mutable {
          return m->forward(x, torch::full({x.size(0)}, sigma, x.options()),
                            torch::full({x.size(0)}, null, torch::TensorOptions().dtype(torch::kLong).device(x.device())));
        };
    }
    // Classifier-free guidance (issue 15): (1 + w) s(x | k) - w s(x).
    const double w = c_.guidance_scale;
    if (w > 0) fn = [fn, marginal, w](const at::Tensor& x, double sigma) { return (1 + w) * fn(x, sigma) - w * marginal(x, sigma); };
    const std::string note = ", class-conditional on the component" + (w > 0 ? ", guidance scale " + fmt_number(w, 3) : std::string());
    NamedSamples s = draw(ve_score_model(fn, sigmas_, "method ncsn --condition component"), n, gen, note);
    s.stats["label_agreement"] = label_agreement(*truth_, s.samples, y);
    return {s};

  }

  // n draws of the chosen sampler on `model`. Plain Langevin (and single-level mala) run at the smallest trained
  // level, or on the data itself with the exact score.
  NamedSamples draw(const ModelWrapper& model, int64_t n, at::Generator& gen, const std::string& note) {
    SamplerArgs args = model.args(with_box(c_.sampling, *truth_));
    args.config.langevin_sigma = c_.score == "exact" ? 0.0 : sigmas_->sigmas().back();
    auto sampler = make_sampler(sampler_, args);
    auto s = timed_sample("", [&] { return run_sampler(*sampler, n, {dim_}, gen); });
    s.note = sampler->describe() + note + (c_.score == "exact" ? " with the exact score" : "");
    s.stats = sampler->stats();
    return s;
  }

  std::vector<std::string> offered() const {
    return offered_by(c_.score == "exact" ? Parameterisation::ExactDensity : Parameterisation::VeScore);
  }
  // The exact smoothed mixture, or the trained network s(x, sigma).
  ModelWrapper wrapper() const {
    if (c_.score == "exact") return exact_mixture_model(truth_, sigmas_, "method ncsn");
    return ve_score_model(
        [m = net_](const at::Tensor& x, double sigma) mutable {
          return m->forward(x, torch::full({x.size(0)}, sigma, x.options()));
        },
        sigmas_, "method ncsn");
  }
  ToyMethodConfig c_;
  std::string sampler_;
  int64_t dim_ = 0;
  std::shared_ptr<GaussianMixture> truth_;
  std::shared_ptr<SigmaSchedule> sigmas_;
  std::shared_ptr<ToyClassifierImpl> classifier_;  // --classifier-scale
  ScoreMLP net_{nullptr};
};

class NcsnMethod : public ScoreMethod {
 public:
  std::string name() const override { return "ncsn"; }
  std::string help() const override {
    return "noise-conditional score network (MLP on mixtures, NCSNv2 on images), DSM / SSM; annealed Langevin by default";
  }
  std::vector<std::string> networks(const DataSource& source) const override {
    return {source.images() ? "ncsnv2" : "score-mlp"};  // images: or the U-Net with --score-net unet
  }
  std::unique_ptr<ToyMethod> toy(const ToyMethodConfig& c) const override { return std::make_unique<NcsnToy>(c); }
  ImageModel build(const ImageTrainConfig& c, int64_t channels, int64_t size) const override {
    ImageModel m;
    // The preset's noise set: NCSNv2's per-dataset one at --preset paper, sigma 1 -> 0.01 over 10 levels else.
    const bool paper = c.preset == "paper";
    const ImageDatasetInfo& info = image_dataset(c.dataset);
    const double smax = c.sigma_max > 0 ? c.sigma_max : (paper ? info.ncsn_paper_sigma_max : 1.0);
    const int64_t levels = c.levels > 0 ? c.levels : (paper ? info.ncsn_paper_levels : 10);
    if (smax <= c.sigma_min)
      throw ConfigError(flag_error("--sigma-max", std::to_string(smax), "a value above --sigma-min"));
    ModelArgs args = model_args(c, channels, size);
    setup_conditioning(c, m, args);
    auto labels_of = [holder = m.labels, null = m.null_label](const at::Tensor& x) {
      return labels_for(holder, null, x, "ncsn");
    };
    if (c.score_net == "unet") {
      // The DDPM U-Net with an NCSN head: its timestep input carries log sigma, scaled so that the trained levels
      // span DDPM's [0, 1000], and the output is divided by sigma as NCSNv2's (REFERENCE 3).
      auto net = build_model<UNetImpl>("unet", args);
      m.name = "unet-ncsn";
      m.module = net;
      const double log_min = std::log(c.sigma_min), span = std::log(smax) - log_min;
      m.score = [net, log_min, span, labels_of](const at::Tensor& x, const at::Tensor& sigma) {
        const at::Tensor s = sigma.to(x.device(), torch::kFloat32).reshape({-1});
        const at::Tensor t = (s.log() - log_min) * (1000.0 / span);
        return net->forward(2 * x - 1, t, labels_of(x)) / s.reshape({-1, 1, 1, 1}).to(x.scalar_type());
      };
    } else {
      auto net = build_model<NCSNv2Impl>("ncsnv2", args);
      m.name = "ncsnv2";
      m.module = net;
      m.score = [net, labels_of](const at::Tensor& x, const at::Tensor& sigma) { return net->forward(x, sigma, labels_of(x)); };
    }
    m.loss_unit = c.objective;
    m.eval_needs_grad = c.objective == "ssm";
    ObjectiveArgs a;
    a.sigmas = std::make_shared<SigmaSchedule>(smax, c.sigma_min, levels);
    m.sigmas = a.sigmas;
    // NCSN works on data in [0, 1] (REFERENCE 3): the objective sees (x + 1) / 2.
    a.score = m.score;
    auto inner = std::shared_ptr<const Objective>(objective_registry().get(c.objective)(a));
    m.objective = make_objective(c.objective, [inner](const at::Tensor& x, at::Generator& g) {
      return inner->loss((x + 1) * 0.5, g);
    });
    return m;
  }
  void paper_preset(ImageTrainConfig& c, const Unset& unset) const override {
    if (unset("batch-size")) c.train.batch_size = 128;
    if (unset("lr")) c.train.lr = 1e-4;
    if (unset("ema")) c.train.ema = 0.999;
  }
  std::string default_sampler() const override { return "annealed-langevin"; }
  std::vector<std::string> offered() const override { return offered_by(Parameterisation::VeScore); }
  SamplerArgs sampler_args(const SamplingConfig& config, const LoadedImageModel& model,
                           const ClassifierGuide& guide) const override {
    SamplerArgs args = classifier_guided(ve_score_model(ncsn_score_fn(model.model, config.guidance_scale),
                                                        model.model.sigmas, "method ncsn"),
                                         guide)
                           .args(config.sampling);
    args.config.init_low = 0.0;  // NCSN's data scale [0, 1]
    args.config.init_high = 1.0;
    return args;
  }
  ImageDataTransform data_transform() const override { return {2.0, -1.0}; }  // NCSN samples on [0, 1]
  std::vector<std::string> likelihood_kinds() const override { return {"ode"}; }
  // The ODE on NCSN's [0, 1] scale z = (y + 1) / 2 of the dequantized images y; prior N(0, sigma_max^2 I)
  // (score_sde's VE convention); log p_y = log p_z - D log 2.
  ImageLikelihood image_likelihood(const std::string& kind, const LoadedModels& models, const at::Tensor& x,
                                   const LikelihoodConfig& config, at::Generator& gen) const override {
    if (kind != "ode") return Method::image_likelihood(kind, models, x, config, gen);
    const auto& sig = models.main.model.sigmas->sigmas();
    const double smax = sig.front(), smin = sig.back();
    const int64_t dims = x[0].numel();
    const at::Tensor z = (dequantize(x, gen) + 1) * 0.5;
    const LikelihoodResult r =
        ode_log_likelihood(ncsn_score_fn(models.main.model), smin, smax, gaussian_prior(smax * smax), z, config, gen);
    const at::Tensor nats = -(r.log_p - static_cast<double>(dims) * std::log(2.0));
    at::Tensor bpd = nats / (static_cast<double>(dims) * std::log(2.0)) + std::log2(127.5);
    return {bpd, "probability-flow ODE (" + config.solver + ", " + divergence_label(config, dims) + ", dequantized)", r.nfe,
            true};
  }
};

}  // namespace

std::shared_ptr<const Method> make_ncsn_method() { return std::make_shared<NcsnMethod>(); }

}  // namespace scorelab
