// ardm: order-agnostic autoregressive diffusion (Hoogeboom et al., ICLR 2022; issue 15). One network gives the
// conditionals of every unknown variable given any set of known ones (objectives/ardm.h); samples are drawn in a
// random order, one variable per step or in groups (samplers/ardm.h), and the likelihood is the ELBO.
//   mixtures: each coordinate discretised into --ardm-bins bins over the modes' means +- 5 std; the samples are
//             dequantized uniformly within their bins, so the model is a density with NLL = discrete NLL + D log h;
//   images:   the 8-bit pixels (256 categories) with the DDPM U-Net reading [x where known, mask] and the fraction
//             known as its time input; inpainting conditions on known pixels anywhere in the image.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "methods/method_parts.h"
#include "models/ardm_net.h"
#include "models/unet.h"
#include "objectives/ardm.h"
#include "samplers/ardm.h"

namespace scorelab {

namespace {

using namespace method_parts;
constexpr int64_t kPixelLevels = 256;

// The toy's discretisation: bins of width h over [lo, lo + K h] in every coordinate.
struct Bins {
  double lo = 0.0, h = 1.0;
  int64_t k = 256;
  at::Tensor index(const at::Tensor& x) const {  // [N, D] continuous -> int64 bins (clamped into range)
    return ((x - lo) / h).floor().clamp(0, static_cast<double>(k - 1)).to(torch::kLong);
  }
  at::Tensor outside(const at::Tensor& x) const {  // [N] rows with a coordinate beyond the bins
    return ((x < lo) | (x >= lo + static_cast<double>(k) * h)).any(1);
  }
  at::Tensor value(const at::Tensor& idx, at::Generator& gen) const {  // uniform within the bin
    const at::Tensor u = at::rand(idx.sizes(), gen, idx.options().dtype(torch::kFloat32));
    return (idx.to(torch::kFloat32) + u) * h + lo;
  }
};

Bins bins_for(const GaussianMixture& truth, int64_t k) {
  const at::Tensor means = truth.means_tensor();
  const double spread = 5.0 * truth.stds_tensor().max().item<double>();
  Bins b;
  b.k = k;
  b.lo = means.min().item<double>() - spread;
  b.h = (means.max().item<double>() + spread - b.lo) / static_cast<double>(k);
  return b;
}

class ArdmToy : public ToyMethod {
 public:
  explicit ArdmToy(ToyMethodConfig c) : c_(std::move(c)) {}
  std::string name() const override { return "ardm"; }
  double relative_cost() const override { return 1.0; }
  void train(const ToyData& data, at::Generator& gen, const std::string& dir) override {
    dim_ = data.truth.dim();
    bins_ = bins_for(data.truth, c_.ardm_bins);
    ModelArgs args = toy_model_args(c_, dim_, 0, data.scale);
    args.categories = c_.ardm_bins;
    model_ = ArdmMLP(build_model<ArdmMLPImpl>("ardm-mlp", args));
    ObjectiveArgs a;
    a.ardm_logits = net_fn();
    a.discretize = [b = bins_](const at::Tensor& x) { return b.index(x); };
    fit(*this, "ardm", model_.ptr(), *objective_registry().get("ardm")(a), data, c_, gen, dir);
  }
  std::vector<NamedSamples> sample(int64_t n, at::Generator& gen) override {
    torch::NoGradGuard ng;
    int64_t nfe = 0;
    auto s = timed_sample("", [&] {
      const ArdmSampleResult r = ardm_sample(net_fn(), n, dim_, bins_.k, c_.ardm_steps, gen, torch::TensorOptions());
      nfe = r.nfe;
      return bins_.value(r.x, gen);
    });
    s.note = c_.ardm_steps == 0 ? "any order, one coordinate per step"
                                : "any order, " + std::to_string(nfe) + " parallel decoding steps";
    s.stats["nfe"] = static_cast<double>(nfe);
    return {s};
  }
  nlohmann::json evaluate(const ToyData& data, at::Generator& gen) override {
    torch::NoGradGuard ng;
    const auto t0 = std::chrono::steady_clock::now();
    const at::Tensor idx = bins_.index(data.test);
    const at::Tensor ranks = ardm_random_ranks(idx.size(0), dim_, gen, data.test);
    // -log p_sigma(x) for one uniform ordering per point: unbiased for the ELBO's -E_t L_t (an upper bound on the
    // NLL); + D log h: the density of the uniformly dequantized bins.
    // A point beyond the bins has density 0 under the model: its NLL is infinite, and the mean says so.
    const at::Tensor outside = bins_.outside(data.test);
    const at::Tensor nll = (-ardm_log_prob_ordered(net_fn(), idx, ranks) + dim_ * std::log(bins_.h))
                               .masked_fill(outside, std::numeric_limits<double>::infinity());
    const std::string kind = "upper bound: -log p_sigma(x), one random ordering per example (dequantized bins)";
    nlohmann::json j = {{"test_nll", nll.mean().item<double>()}, {"test_nll_kind", kind},
                        {"bins", bins_.k}, {"bin_width", bins_.h},
                        {"test_outside_bins", outside.sum().item<int64_t>()}};
    j["likelihoods"] = {{"bound", likelihood_entry("ELBO: -log p_sigma(x), one random ordering (dequantized bins)",
                                                   nll, seconds_since(t0), static_cast<double>(dim_))}};
    return j;
  }

 private:
  ArdmNet net_fn() const {
    return [m = model_](const at::Tensor& x, const at::Tensor& known) mutable { return m->forward(x, known); };
  }
  ToyMethodConfig c_;
  int64_t dim_ = 0;
  Bins bins_;
  ArdmMLP model_{nullptr};
};

// The U-Net as an ArdmNet over the flattened pixels: x [N, D] int64 (D = C H W), known [N, D] -> [N, D, 256].
ArdmNet image_net(const std::shared_ptr<UNetImpl>& net, int64_t channels, int64_t size) {
  return [net, channels, size](const at::Tensor& x, const at::Tensor& known) {
    const int64_t n = x.size(0);
    const auto [input, t] = ardm_image_inputs(x.reshape({n, channels, size, size}), known.reshape({n, channels, size, size}));
    return ardm_image_logits(net->forward(input, t), channels, kPixelLevels);  // [N, C * 256, H, W] -> [N, D, 256]
  };
}

ArdmNet loaded_net(const LoadedImageModel& m) {
  auto net = std::dynamic_pointer_cast<UNetImpl>(m.model.module);
  if (!net) throw std::logic_error("ardm: model '" + m.model.name + "' is not the ARDM U-Net");
  return image_net(net, m.channels, m.size);
}

// [-1, 1] pixels of 8-bit data -> 0..255 and back.
at::Tensor to_levels(const at::Tensor& x) { return ((x + 1.0) * 127.5).round().clamp(0, 255).to(torch::kLong); }
at::Tensor from_levels(const at::Tensor& v) { return v.to(torch::kFloat32) / 127.5 - 1.0; }

class ArdmMethod : public Method {
 public:
  std::string name() const override { return "ardm"; }
  std::string help() const override {
    return "order-agnostic autoregressive diffusion (Hoogeboom et al. 2022): one network for every conditional given "
           "any known set, any-order sampling (--ardm-steps: parallel decoding), ELBO likelihood; MLP on the "
           "discretised mixtures, U-Net on 8-bit images";
  }
  std::vector<std::string> networks(const DataSource& source) const override {
    return {source.images() ? "unet" : "ardm-mlp"};
  }
  bool likelihood() const override { return true; }
  std::unique_ptr<ToyMethod> toy(const ToyMethodConfig& c) const override { return std::make_unique<ArdmToy>(c); }
  ImageModel build(const ImageTrainConfig& c, int64_t channels, int64_t size) const override {
    ModelArgs args = model_args(c, channels, size);
    args.input_channels = 2 * channels;
    args.output_channels = kPixelLevels * channels;
    auto net = build_model<UNetImpl>("unet", args);
    ImageModel m;
    m.name = "unet-ardm";
    m.module = net;
    ObjectiveArgs a;
    a.ardm_logits = image_net(net, channels, size);
    a.discretize = [](const at::Tensor& x) { return to_levels(x).flatten(1); };
    m.objective = objective_registry().get("ardm")(a);
    m.loss_unit = "bits/dim";
    m.display_scale = 1.0 / std::log(2.0);
    return m;
  }
  void paper_preset(ImageTrainConfig& c, const Unset& unset) const override {  // the DDPM U-Net's settings
    unet_paper_preset(c, unset);
  }
  void small_preset(ImageTrainConfig& c, const Unset& unset) const override { unet_small_preset(c, unset); }
  void validate_for(const SamplingConfig&, const LoadedModels&) const override {}
  ImageSamples draw(const SamplingConfig& config, const LoadedModels& models, int64_t n, at::Generator& gen,
                    SamplingMonitor* monitor) const override {
    torch::NoGradGuard ng;
    const auto& m = models.main;
    const int64_t d = m.channels * m.size * m.size;
    const ArdmSampleResult r = ardm_sample(loaded_net(m), n, d, kPixelLevels, config.ardm_steps, gen, device_options(m),
                                           {}, {}, progress(monitor, m));
    ImageSamples out;
    out.samples = from_levels(r.x).reshape({n, m.channels, m.size, m.size});
    out.stats["nfe"] = static_cast<double>(r.nfe);
    return out;
  }
  // Any order: the known pixels may be anywhere (left half, a centre square, random pixels).
  at::Tensor inpaint(const SamplingConfig& config, const LoadedModels& models, const at::Tensor& x0,
                     const at::Tensor& known, at::Generator& gen, SamplingMonitor* monitor) const override {
    torch::NoGradGuard ng;
    const auto& m = models.main;
    const int64_t n = x0.size(0), d = m.channels * m.size * m.size;
    const ArdmSampleResult r = ardm_sample(loaded_net(m), n, d, kPixelLevels, config.ardm_steps, gen, device_options(m),
                                           to_levels(x0).flatten(1), known.flatten(1), progress(monitor, m));
    return torch::where(known, x0, from_levels(r.x).reshape(x0.sizes()));
  }
  nlohmann::json sampling_summary(const SamplingConfig& config) const override {
    return {{"sampler", "ardm any-order"},
            {"ardm_steps", config.ardm_steps},
            {"note", config.ardm_steps == 0 ? "one pixel per step in a random order (C*H*W network evaluations)"
                                            : "parallel decoding: the pixels in --ardm-steps groups in a random order"}};
  }
  std::vector<std::string> likelihood_kinds() const override { return {"bound"}; }
  // The ELBO in bits/dim of the 8-bit data: with --vlb-strata S, S stratified steps t (each its own ordering);
  // otherwise the whole chain of one random ordering (C*H*W evaluations).
  ImageLikelihood image_likelihood(const std::string& kind, const LoadedModels& models, const at::Tensor& x,
                                   const LikelihoodConfig& config, at::Generator& gen) const override {
    if (kind != "bound") return Method::image_likelihood(kind, models, x, config, gen);
    torch::NoGradGuard ng;
    const auto& m = models.main;
    const at::Tensor v = to_levels(x).flatten(1);
    const int64_t d = v.size(1);
    const ArdmNet net = loaded_net(m);
    const bool strata = config.vlb_strata > 0;
    const at::Tensor log_p = strata ? ardm_elbo_estimate(net, v, config.vlb_strata, gen)
                                    : ardm_log_prob_ordered(net, v, ardm_random_ranks(v.size(0), d, gen, x));
    const std::string how = strata ? std::to_string(config.vlb_strata) + " stratified steps" : "one random ordering";
    return {-log_p / (static_cast<double>(d) * std::log(2.0)), "upper bound: ARDM ELBO (" + how + ")",
            static_cast<double>(strata ? config.vlb_strata : d)};
  }

 private:
  static at::TensorOptions device_options(const LoadedImageModel& m) {
    const auto params = m.model.module->parameters();
    return at::TensorOptions().device(params.empty() ? c10::Device(c10::kCPU) : params.front().device());
  }
  static StepCallback progress(SamplingMonitor* monitor, const LoadedImageModel& m) {
    const StepCallback cb = stage_callback(monitor, "ardm");
    if (!cb) return {};
    const int64_t c = m.channels, s = m.size;
    return [cb, c, s](int64_t i, int64_t n, const at::Tensor& x) {
      cb(i, n, x.reshape({x.size(0), c, s, s}) / 127.5 - 1.0);
    };
  }
};

}  // namespace

std::shared_ptr<const Method> make_ardm_method() { return std::make_shared<ArdmMethod>(); }

}  // namespace scorelab
