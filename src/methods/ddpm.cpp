// ddpm: denoising diffusion (Ho et al. 2020): an eps-prediction network on a beta schedule (an MLP on the
// standardised mixture, the U-Net on images; --hybrid adds learned variances), sampled ancestrally, by DDIM,
// or by any score sampler on its VE-coordinate score (pc, ode, edm) through its model wrapper.
#include <torch/torch.h>

#include <cmath>

#include "core/noise.h"
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
    net_ = EpsMLP(build_model<EpsMLPImpl>("eps-mlp", toy_model_args(c_, dim_, 0, 1.0)));
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
    auto to_score = wrapper().score;
    const double scale = scale_;
    const at::Tensor mean = mean_;
    return ScoreFn([to_score, scale, mean](const at::Tensor& x, double sigma) {
      return to_score((x - mean) / scale, sigma / scale) / scale;
    });
  }
  std::vector<NamedSamples> sample(int64_t n, at::Generator& gen) override {
    // Every sampler runs on the standardised data (score samplers in VE coordinates x_t / sqrt(abar_t)).
    auto sampler = make_sampler(sampler_, wrapper().args(c_.sampling));
    auto s = timed_sample("", [&] { return run_sampler(*sampler, n, {dim_}, gen) * scale_ + mean_; });
    s.stats = sampler->stats();
    s.note = sampler->describe() + (c_.score == "exact" ? ", exact eps" : "");
    return {s};
  }
  nlohmann::json evaluate(const ToyData&, at::Generator&) override {
    return {{"test_nll", nullptr}, {"sampler", sampler_}, {"beta_schedule", c_.beta_schedule}, {"score", c_.score}};
  }

 private:
  ModelWrapper wrapper() const { return vp_eps_model(eps_fn(), betas_, "method ddpm"); }
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
    auto net = build_model<UNetImpl>("unet", model_args(c, channels, size));
    m.name = "unet";
    m.module = net;
    m.loss_unit = c.hybrid ? "hybrid (mse + vlb bits/dim)" : "mse";
    ObjectiveArgs a;
    a.betas = std::make_shared<BetaSchedule>(BetaSchedule::by_name(c.beta_schedule, c.timesteps));
    m.betas = a.betas;
    a.antithetic = c.antithetic;
    a.eps = [net](const at::Tensor& x, const at::Tensor& t) { return net->forward(x, t); };
    m.objective = objective_registry().get(c.hybrid ? "ddpm-hybrid" : "ddpm")(a);
    return m;
  }
  void paper_preset(ImageTrainConfig& c, const Unset& unset) const override {
    if (unset("batch-size")) c.train.batch_size = 128;
    if (unset("lr")) c.train.lr = 2e-4;
    if (unset("ema")) c.train.ema = 0.9999;
    if (unset("grad-clip")) c.train.grad_clip = 1.0;
  }
  void small_preset(ImageTrainConfig& c, const Unset& unset) const override {
    if (unset("grad-clip")) c.train.grad_clip = 1.0;
  }
  std::string default_sampler() const override { return "ddpm"; }
  std::vector<std::string> offered() const override { return offered_by(Parameterisation::VpEps); }
  SamplerArgs sampler_args(const SamplingConfig& config, const LoadedImageModel& model) const override {
    return vp_eps_model(ddpm_eps_fn(model.model, model.channels), model.model.betas, "method ddpm").args(config.sampling);
  }
};

}  // namespace

std::shared_ptr<const Method> make_ddpm_method() { return std::make_shared<DdpmMethod>(); }

}  // namespace scorelab
