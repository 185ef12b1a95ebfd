// The four methods of the toy lab: ar, smoothed-ar, ncsn, ddpm.
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/noise.h"
#include "core/runtime.h"
#include "data/transforms.h"
#include "methods/toy_method.h"
#include "models/registry.h"
#include "models/toy_ar.h"
#include "models/toy_score.h"
#include "objectives/objective.h"

namespace scorelab {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int64_t count_params(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

std::string ckpt(const std::string& dir, const std::string& name, const std::string& ext) {
  return dir.empty() ? "" : (std::filesystem::path(dir) / (name + ext)).string();
}

// Trains `module` on `objective` with fresh data batches; records the result in `method`.
void fit(ToyMethod& method, const std::string& label, const std::shared_ptr<torch::nn::Module>& module,
         const Objective& objective, const ToyData& data, const ToyMethodConfig& method_config, at::Generator& gen,
         const std::string& dir, const std::function<at::Tensor(const at::Tensor&)>& transform = {}) {
  const TrainConfig& config = method_config.train;
  // Everything that shapes the model or its objective; the training length may change on --resume.
  nlohmann::json fp = method_config.to_json();
  fp["train"].erase("iters");
  fp["train"].erase("budget_minutes");
  fp.erase("sampling");
  fp.erase("sampler");
  fp["dataset"] = data.truth.describe();
  fp["objective"] = objective.name();
  const std::string fingerprint = fp.dump();
  Trainer trainer(label, module, config, ckpt(dir, label, ".ckpt"), ckpt(dir, label, "_loss.csv"), fingerprint);
  // Held-out objective with a fixed noise stream, before and after training (train --dataset <toy>).
  const at::Tensor test = transform ? transform(data.test) : data.test;
  auto test_loss = [&]() {
    auto g = make_generator(derive_seed(0, "toy-eval/" + label));
    return objective.loss(test, g).loss.item<double>();
  };
  module->eval();
  const double initial = test_loss();
  module->train();
  auto result = trainer.fit(
      [&](int64_t, at::Generator& g) {
        at::Tensor x = data.batch(config.batch_size, g);
        if (transform) x = transform(x);
        return objective.loss(x, g).loss;
      },
      gen);
  trainer.use_ema_weights();
  method.train_seconds += result.seconds;
  method.modules[label] = module;
  method.train_info[label] = {{"params", count_params(*module)}, {"iters", result.iters_done},
                              {"seconds", result.seconds}, {"final_loss", result.final_loss},
                              {"objective", objective.name()}, {"resumed", result.resumed},
                              {"test_loss_initial", initial}, {"test_loss_final", test_loss()},
                              {"batch_size", config.batch_size}};
  method.loss_curves.emplace_back(label, result.loss_curve);
}

std::unique_ptr<Sampler> make_sampler(const std::string& name, SamplerArgs args) {
  args.config.validate();
  return sampler_registry().get(name)(args);
}

// Uniform Langevin initialisation over the data's box.
SamplerConfig with_box(SamplerConfig c, const GaussianMixture& truth) {
  double lo = 1e300, hi = -1e300;
  for (auto [a, b] : truth.bounding_box(3.0)) lo = std::min(lo, a), hi = std::max(hi, b);
  c.init_low = lo;
  c.init_high = hi;
  return c;
}

ModelArgs model_args(const ToyMethodConfig& c, int64_t dim, int64_t cond_dim, double scale) {
  ModelArgs a;
  a.dim = dim;
  a.cond_dim = cond_dim;
  a.hidden = c.hidden;
  a.depth = c.depth;
  a.mixtures = c.mixtures;
  a.scale = scale;
  return a;
}

NamedSamples timed_sample(const std::string& name, const std::function<at::Tensor()>& fn) {
  auto t0 = Clock::now();
  at::Tensor x = fn();
  return {name, x, seconds_since(t0), "", {}};
}

at::Tensor draw_ar(ToyAR& model, int64_t n, int64_t dim, const at::Tensor& cond, at::Generator& gen) {
  SamplerArgs args;
  args.ar_positions = dim;
  args.ar_draw = [model, cond](const at::Tensor& x, int64_t pos, at::Generator& g) mutable {
    return model->draw(x, pos, cond, g);
  };
  auto sampler = make_sampler("autoregressive", args);
  return run_sampler(*sampler, n, {dim}, gen);
}

// Plain autoregressive maximum likelihood: p(x1) p(x2 | x1). Draws by ancestral sampling, or with a --sampler
// that runs on a log-density (mala); other samplers leave it on its own.
class ArMethod : public ToyMethod {
 public:
  explicit ArMethod(ToyMethodConfig c) : c_(std::move(c)) {
    if (!c_.sampler.empty() && sampler_fits(c_.sampler, offered())) sampler_ = c_.sampler;
  }
  std::string name() const override { return "ar"; }
  void train(const ToyData& data, at::Generator& gen, const std::string& dir) override {
    dim_ = data.truth.dim();
    truth_ = std::make_shared<GaussianMixture>(data.truth);
    model_ = ToyAR(build_model<ToyARImpl>("toy-ar", model_args(c_, dim_, 0, data.scale)));
    ObjectiveArgs a;
    a.log_prob = [m = model_](const at::Tensor& x, const at::Tensor& cond) mutable { return m->log_prob(x, cond); };
    fit(*this, "ar", model_.ptr(), *objective_registry().get("nll")(a), data, c_, gen, dir);
  }
  std::vector<NamedSamples> sample(int64_t n, at::Generator& gen) override {
    if (sampler_.empty()) return {timed_sample("", [&] { return draw_ar(model_, n, dim_, {}, gen); })};
    SamplerArgs args;
    args.config = with_box(c_.sampling, *truth_);
    args.model = "method ar";
    args.log_density = [m = model_](const at::Tensor& x, double) mutable { return m->log_prob(x); };
    args.ar_draw = [m = model_](const at::Tensor& x, int64_t pos, at::Generator& g) mutable {
      return m->draw(x, pos, {}, g);
    };
    args.ar_positions = dim_;
    auto sampler = make_sampler(sampler_, args);
    auto s = timed_sample("", [&] { return run_sampler(*sampler, n, {dim_}, gen); });
    s.note = sampler_ + " on the model's log-density";
    s.stats = sampler->stats();
    return {s};
  }
  nlohmann::json evaluate(const ToyData& data, at::Generator&) override {
    torch::NoGradGuard ng;
    nlohmann::json j = {{"test_nll", -model_->log_prob(data.test).mean().item<double>()}};
    if (!sampler_.empty()) j["sampler"] = sampler_;
    return j;
  }

 private:
  static std::vector<std::string> offered() { return {"ar_draw", "log_density"}; }
  ToyMethodConfig c_;
  std::string sampler_;  // "" : ancestral sampling
  int64_t dim_ = 0;
  std::shared_ptr<GaussianMixture> truth_;
  ToyAR model_{nullptr};
};

// Distribution smoothing (Meng et al. 2021): stage 1 learns p(x~), stage 2 reverses the smoothing.
class SmoothedArMethod : public ToyMethod {
 public:
  explicit SmoothedArMethod(ToyMethodConfig c) : c_(std::move(c)) {}
  std::string name() const override { return "smoothed-ar"; }
  void train(const ToyData& data, at::Generator& gen, const std::string& dir) override {
    dim_ = data.truth.dim();
    const double scale1 = std::sqrt(data.scale * data.scale + c_.sigma * c_.sigma);
    stage1_ = ToyAR(build_model<ToyARImpl>("toy-ar", model_args(c_, dim_, 0, scale1)));
    ObjectiveArgs a;
    a.sigma = c_.sigma;
    a.log_prob = [m = stage1_](const at::Tensor& x, const at::Tensor& cond) mutable { return m->log_prob(x, cond); };
    fit(*this, "smoothed-ar-stage1", stage1_.ptr(), *objective_registry().get("smoothed-nll")(a), data, c_, gen, dir);
    if (c_.denoise == "conditional-ar") {
      stage2_ = ToyAR(build_model<ToyARImpl>("toy-ar", model_args(c_, dim_, dim_, data.scale)));
      ObjectiveArgs b;
      b.sigma = c_.sigma;
      b.log_prob = [m = stage2_](const at::Tensor& x, const at::Tensor& cond) mutable { return m->log_prob(x, cond); };
      fit(*this, "smoothed-ar-stage2", stage2_.ptr(), *objective_registry().get("reverse-smoothing")(b), data, c_, gen,
          dir);
    }
  }
  std::optional<double> score_level() const override { return c_.sigma; }
  std::optional<ScoreFn> score_fn() override {
    // The stage-1 model's score is that of the data smoothed at the model's sigma only.
    // Captures the model (a shared handle), not the method: the function may outlive this object.
    const bool detached = c_.grad == "detached";
    return ScoreFn([m = stage1_, detached](const at::Tensor& x, double) mutable { return m->score(x, {}, detached); });
  }
  std::vector<NamedSamples> sample(int64_t n, at::Generator& gen) override {
    auto noisy = timed_sample("stage1", [&] { return draw_ar(stage1_, n, dim_, {}, gen); });
    noisy.note = "stage-1 samples x~ (before reverse smoothing)";
    SamplerArgs args;
    args.sigmas = std::make_shared<SigmaSchedule>(std::vector<double>{c_.sigma});
    args.score = *score_fn();
    auto denoiser = make_sampler("single-step", args);
    auto single = timed_sample("single-step", [&] { return run_sampler_from(*denoiser, noisy.samples, gen); });
    single.seconds += noisy.seconds;
    single.note = std::string("x~ + sigma^2 grad log p(x~), ") + c_.grad + " gradient";
    std::vector<NamedSamples> out;
    if (c_.denoise == "conditional-ar") {
      auto cond = timed_sample("", [&] { return draw_ar(stage2_, n, dim_, noisy.samples, gen); });
      cond.seconds += noisy.seconds;
      cond.note = "stage 2: conditional AR p(x | x~)";
      out.push_back(cond);
      single.name = "single-step";
    } else {
      single.name = "";
    }
    out.push_back(single);
    out.push_back(noisy);
    return out;
  }
  nlohmann::json evaluate(const ToyData& data, at::Generator& gen) override {
    torch::NoGradGuard ng;
    auto x_tilde = smooth(data.test, c_.sigma, gen);
    auto lp1 = stage1_->log_prob(x_tilde);
    nlohmann::json j = {{"stage1_nll", -lp1.mean().item<double>()},
                        {"stage1_nll_exact", -data.truth.smoothed(c_.sigma).log_prob(x_tilde).mean().item<double>()},
                        {"sigma", c_.sigma}};
    if (stage2_) {
      // log p(x) >= E_q[log p(x~) + log p(x | x~) - log q(x~ | x)], one draw of x~ per test point.
      auto bound = smoothing_log_bound(lp1, stage2_->log_prob(data.test, x_tilde), data.test, x_tilde, c_.sigma);
      j["test_nll"] = -bound.mean().item<double>();
      j["test_nll_kind"] = "upper bound: -E_q[log p(x~) + log p(x|x~) - log q(x~|x)]";
    } else {
      j["test_nll"] = nullptr;
    }
    return j;
  }

 private:
  ToyMethodConfig c_;
  int64_t dim_ = 0;
  ToyAR stage1_{nullptr}, stage2_{nullptr};
};

// NCSN: noise-conditional score network + (annealed) Langevin dynamics.
class NcsnMethod : public ToyMethod {
 public:
  explicit NcsnMethod(ToyMethodConfig c) : c_(std::move(c)) {
    sampler_ = c_.sampler.empty() ? "annealed-langevin" : c_.sampler;
    check_sampler(sampler_, offered(), "method ncsn");
  }
  std::string name() const override { return "ncsn"; }
  void train(const ToyData& data, at::Generator& gen, const std::string& dir) override {
    truth_ = std::make_shared<GaussianMixture>(data.truth);
    dim_ = data.truth.dim();
    sigmas_ = std::make_shared<SigmaSchedule>(toy_sigmas(c_, data.truth));
    if (c_.score == "exact") return;
    net_ = ScoreMLP(build_model<ScoreMLPImpl>("score-mlp", model_args(c_, dim_, 0, data.scale)));
    ObjectiveArgs a;
    a.sigmas = sigmas_;
    a.score = [m = net_](const at::Tensor& x, const at::Tensor& s) mutable { return m->forward(x, s); };
    fit(*this, "ncsn", net_.ptr(), *objective_registry().get(c_.objective)(a), data, c_, gen, dir);
  }
  std::optional<ScoreFn> score_fn() override {
    if (c_.score == "exact") {
      auto truth = truth_;
      return ScoreFn([truth](const at::Tensor& x, double sigma) { return truth->smoothed(sigma).score(x); });
    }
    return ScoreFn([m = net_](const at::Tensor& x, double sigma) mutable {
      return m->forward(x, torch::full({x.size(0)}, sigma, x.options()));
    });
  }
  std::vector<NamedSamples> sample(int64_t n, at::Generator& gen) override {
    SamplerArgs args;
    args.config = with_box(c_.sampling, *truth_);
    // Plain Langevin (and single-level mala) run at the smallest trained level, or on the data itself.
    args.config.langevin_sigma = c_.score == "exact" ? 0.0 : sigmas_->sigmas().back();
    args.model = "method ncsn";
    args.sigmas = sigmas_;
    args.process = std::make_shared<VarianceExploding>(*sigmas_);
    args.score = *score_fn();
    if (c_.score == "exact") {
      auto truth = truth_;
      args.log_density = [truth](const at::Tensor& x, double sigma) { return truth->smoothed(sigma).log_prob(x); };
    }
    auto sampler = make_sampler(sampler_, args);
    auto s = timed_sample("", [&] { return run_sampler(*sampler, n, {dim_}, gen); });
    s.note = sampler_ + (c_.score == "exact" ? " with the exact score" : "");
    s.stats = sampler->stats();
    return {s};
  }
  nlohmann::json evaluate(const ToyData&, at::Generator&) override {
    return {{"test_nll", nullptr}, {"sampler", sampler_}, {"score", c_.score},
            {"sigma_max", sigmas_->sigmas().front()}, {"sigma_min", sigmas_->sigmas().back()}};
  }

 private:
  std::vector<std::string> offered() const {
    std::vector<std::string> o{"score", "sigmas", "process"};
    if (c_.score == "exact") o.push_back("log_density");
    return o;
  }
  ToyMethodConfig c_;
  std::string sampler_;
  int64_t dim_ = 0;
  std::shared_ptr<GaussianMixture> truth_;
  std::shared_ptr<SigmaSchedule> sigmas_;
  ScoreMLP net_{nullptr};
};

// DDPM: eps-prediction MLP on standardised data, ancestral or DDIM sampling.
class DdpmMethod : public ToyMethod {
 public:
  explicit DdpmMethod(ToyMethodConfig c) : c_(std::move(c)) {
    sampler_ = c_.sampler.empty() ? "ddpm" : c_.sampler;
    check_sampler(sampler_, {"eps", "betas", "score", "process"}, "method ddpm");
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
    net_ = EpsMLP(build_model<EpsMLPImpl>("eps-mlp", model_args(c_, dim_, 0, 1.0)));
    ObjectiveArgs a;
    a.betas = betas_;
    a.antithetic = c_.antithetic;
    a.eps = [m = net_](const at::Tensor& x, const at::Tensor& t) mutable { return m->forward(x, t); };
    const double scale = scale_;
    const at::Tensor mean = mean_;
    fit(*this, "ddpm", net_.ptr(), *objective_registry().get("ddpm")(a), data, c_, gen, dir,
        [scale, mean](const at::Tensor& x) { return (x - mean) / scale; });
  }
  std::optional<ScoreFn> score_fn() override {
    // Score of the data smoothed at sigma, from eps of the standardised model: s(x) = s_std(x / scale) / scale.
    auto eps = eps_fn();
    auto to_score = score_from_eps(eps, *betas_);
    const double scale = scale_;
    const at::Tensor mean = mean_;
    return ScoreFn([to_score, scale, mean](const at::Tensor& x, double sigma) {
      return to_score((x - mean) / scale, sigma / scale) / scale;
    });
  }
  std::vector<NamedSamples> sample(int64_t n, at::Generator& gen) override {
    SamplerArgs args;
    args.config = c_.sampling;
    args.model = "method ddpm";
    args.betas = betas_;
    args.eps = eps_fn();
    // Score samplers run on the standardised data in VE coordinates x_t / sqrt(abar_t).
    args.score = score_from_eps(args.eps, *betas_);
    args.process = std::make_shared<VariancePreserving>(*betas_);
    auto sampler = make_sampler(sampler_, args);
    auto s = timed_sample("", [&] { return run_sampler(*sampler, n, {dim_}, gen) * scale_ + mean_; });
    s.stats = sampler->stats();
    std::ostringstream note;
    if (sampler_ == "ddim") note << "ddim, " << c_.sampling.ddim_steps << " steps, eta " << c_.sampling.eta;
    else if (sampler_ == "ddpm") note << "ancestral, " << c_.timesteps << " steps";
    else note << sampler_ << ", " << c_.sampling.ddim_steps << " steps";
    if (c_.score == "exact") note << ", exact eps";
    s.note = note.str();
    return {s};
  }
  nlohmann::json evaluate(const ToyData&, at::Generator&) override {
    return {{"test_nll", nullptr}, {"sampler", sampler_}, {"beta_schedule", c_.beta_schedule}, {"score", c_.score}};
  }

 private:
  EpsFn eps_fn() {
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
};

}  // namespace

const ToyMethodRegistry& toy_method_registry() {
  static const ToyMethodRegistry reg = [] {
    ToyMethodRegistry r("method");
    r.add("ar", [](const ToyMethodConfig& c) { return std::make_unique<ArMethod>(c); },
          "autoregressive mixture-of-logistics model, maximum likelihood on clean data");
    r.add("smoothed-ar", [](const ToyMethodConfig& c) { return std::make_unique<SmoothedArMethod>(c); },
          "distribution smoothing: AR model of x + sigma z, then reverse smoothing");
    r.add("ncsn", [](const ToyMethodConfig& c) { return std::make_unique<NcsnMethod>(c); },
          "noise-conditional score network + annealed Langevin dynamics");
    r.add("ddpm", [](const ToyMethodConfig& c) { return std::make_unique<DdpmMethod>(c); },
          "denoising diffusion (eps prediction), ancestral or DDIM sampling");
    return r;
  }();
  return reg;
}

}  // namespace scorelab
