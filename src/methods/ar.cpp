// ar: plain autoregressive maximum likelihood. On a mixture an MLP of mixture-of-logistics conditionals
// p(x1) p(x2 | x1); on images PixelCNN++ with the discretized logistic mixture.
#include <torch/torch.h>

#include "methods/method_parts.h"
#include "models/discretized_logistic.h"
#include "models/pixelcnnpp.h"
#include "samplers/pixelcnn_sampling.h"

namespace scorelab {

namespace {

using namespace method_parts;

// Draws by ancestral sampling, or with a --sampler that runs on a log-density (mala); other samplers leave
// it on its own.
class ArToy : public ToyMethod {
 public:
  double relative_cost() const override { return 1.0; }  // one MLP trained, ancestral draws
  explicit ArToy(ToyMethodConfig c) : c_(std::move(c)) {
    if (!c_.sampler.empty() && sampler_fits(c_.sampler, offered())) sampler_ = c_.sampler;
  }
  std::string name() const override { return "ar"; }
  void train(const ToyData& data, at::Generator& gen, const std::string& dir) override {
    dim_ = data.truth.dim();
    truth_ = std::make_shared<GaussianMixture>(data.truth);
    model_ = ToyAR(build_model<ToyARImpl>("toy-ar", toy_model_args(c_, dim_, 0, data.scale)));
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
    s.note = sampler->describe() + " on the model's log-density";
    s.stats = sampler->stats();
    return {s};
  }
  nlohmann::json evaluate(const ToyData& data, at::Generator&) override {
    torch::NoGradGuard ng;
    const auto t0 = std::chrono::steady_clock::now();
    const at::Tensor log_p = model_->log_prob(data.test);
    nlohmann::json j = {{"test_nll", -log_p.mean().item<double>()}, {"test_nll_kind", "exact"}};
    j["likelihoods"] = {{"exact", likelihood_entry("exact", -log_p, seconds_since(t0), 1)}};
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

class ArMethod : public PixelCnnMethod {
 public:
  std::string name() const override { return "ar"; }
  std::string help() const override {
    return "autoregressive maximum likelihood on clean data: mixture-of-logistics MLP (mixtures), PixelCNN++ with "
           "the discretized logistic mixture (images)";
  }
  std::unique_ptr<ToyMethod> toy(const ToyMethodConfig& c) const override { return std::make_unique<ArToy>(c); }

  ImageModel build(const ImageTrainConfig& c, int64_t channels, int64_t) const override {
    std::shared_ptr<PixelCNNppImpl> net;
    ImageModel m = pixelcnn_model(c, channels, net);
    m.name = "pixelcnnpp";
    ObjectiveArgs a;
    a.log_prob = [net](const at::Tensor& x, const at::Tensor&) {
      return discretized_mix_logistic_log_prob(x, net->forward(x));
    };
    m.objective = objective_registry().get("nll")(a);
    return m;
  }
  void validate_for(const SamplingConfig&, const LoadedModels&) const override {}
  ImageSamples draw(const SamplingConfig& config, const LoadedModels& models, int64_t n, at::Generator& gen,
                    SamplingMonitor* monitor) const override {
    const LoadedImageModel& m = models.main;
    const int64_t c = m.channels, s = m.size;
    ImageSamples out;
    out.samples = sample_pixelcnnpp(pixelcnn_of(m.model), n, c, s, s, gen, pixelcnn_options(config, m.config.dataset, false),
                                    {}, {}, {}, stage_callback(monitor, "ar"));
    return out;
  }
  at::Tensor inpaint(const SamplingConfig& config, const LoadedModels& models, const at::Tensor& x0,
                     const at::Tensor& known, at::Generator& gen, SamplingMonitor* monitor) const override {
    const auto& m = models.main;
    const int64_t n = x0.size(0), c = m.channels, s = m.size;
    return sample_pixelcnnpp(pixelcnn_of(m.model), n, c, s, s, gen, pixelcnn_options(config, m.config.dataset, false), {},
                             x0, known.to(torch::kFloat32), stage_callback(monitor, "ar"));
  }
  nlohmann::json sampling_summary(const SamplingConfig&) const override {
    return {{"sampler", ""}, {"note", kRasterNote}};
  }
  std::vector<std::string> likelihood_kinds() const override { return {"exact"}; }
  ImageLikelihood image_likelihood(const std::string& kind, const LoadedModels& models, const at::Tensor& x,
                                   const LikelihoodConfig& config, at::Generator& gen) const override {
    if (kind != "exact") return Method::image_likelihood(kind, models, x, config, gen);
    torch::NoGradGuard ng;
    auto& net = pixelcnn_of(models.main.model);
    return {bits_per_dim(discretized_mix_logistic_log_prob(x, net.forward(x)), x[0].numel()),
            "exact (discretized logistic mixture)", 1};
  }
};

}  // namespace

std::shared_ptr<const Method> make_ar_method() { return std::make_shared<ArMethod>(); }

}  // namespace scorelab
