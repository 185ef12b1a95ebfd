#include "methods/method_parts.h"

#include "data/image_data.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/noise.h"
#include "core/runtime.h"
#include "methods/guidance.h"
#include "methods/inpaint.h"
#include "train/trainer.h"

namespace scorelab::method_parts {

namespace {

using Clock = std::chrono::steady_clock;

int64_t count_params(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

std::string ckpt(const std::string& dir, const std::string& name, const std::string& ext) {
  return dir.empty() ? "" : (std::filesystem::path(dir) / (name + ext)).string();
}

}  // namespace

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

nlohmann::json likelihood_entry(const std::string& kind, const at::Tensor& nll, double seconds, double nfe,
                                const nlohmann::json& extra) {
  nlohmann::json j = nll_summary(nll);
  j["kind"] = kind;
  j["seconds"] = seconds;
  j["nfe"] = nfe;
  if (extra.is_object()) j.update(extra);
  return j;
}

at::Tensor batched(const at::Tensor& x, int64_t batch, const std::function<at::Tensor(const at::Tensor&, double&)>& fn,
                   double* nfe_mean) {
  std::vector<at::Tensor> parts;
  double weighted = 0.0;
  for (int64_t i = 0; i < x.size(0); i += batch) {
    const at::Tensor chunk = x.slice(0, i, std::min(x.size(0), i + batch));
    double nfe = 0.0;
    parts.push_back(fn(chunk, nfe));
    weighted += nfe * static_cast<double>(chunk.size(0));
  }
  if (nfe_mean) *nfe_mean = weighted / static_cast<double>(std::max<int64_t>(1, x.size(0)));
  return torch::cat(parts);
}

// ---- mixture data ------------------------------------------------------------------------------------------

void fit(ToyMethod& method, const std::string& label, const std::shared_ptr<torch::nn::Module>& module,
         const Objective& objective, const ToyData& data, const ToyMethodConfig& method_config, at::Generator& gen,
         const std::string& dir, const std::function<at::Tensor(const at::Tensor&)>& transform) {
  const TrainConfig& config = method_config.train;
  // Everything that shapes the model or its objective; the training length may change on --resume.
  nlohmann::json fp = method_config.to_json();
  fp["train"].erase("iters");
  fp["train"].erase("budget_minutes");
  fp.erase("sampling");
  fp.erase("sampler");
  fp.erase("likelihood");
  if (method_config.precond == "none") fp.erase("precond");  // checkpoints from before --precond still resume
  if (method_config.dsm_noise == "gaussian") {                // ... and from before --dsm-noise
    fp.erase("dsm_noise");
    fp.erase("student_nu");
  }
  if (method_config.level_sampling == "random") fp.erase("level_sampling");
  // ... and from before the issue-14 options, at their defaults.
  if (method_config.score_weight == "sigma2") fp.erase("score_weight");
  if (method_config.projections == 1) fp.erase("projections");
  if (method_config.projection == "gaussian") fp.erase("projection");
  if (method_config.ssm_form == "vr") fp.erase("ssm_form");
  if (method_config.sigma_spacing == "geometric") fp.erase("sigma_spacing");
  if (method_config.condition == "none") fp.erase("condition");
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
  if (result.world_size > 1) {  // data parallel (a single process's metrics stay as they were)
    method.train_info[label]["world_size"] = result.world_size;
    method.train_info[label]["allreduce_s"] = result.allreduce_seconds;
  }
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

ModelArgs toy_model_args(const ToyMethodConfig& c, int64_t dim, int64_t cond_dim, double scale) {
  ModelArgs a;
  a.dim = dim;
  a.cond_dim = cond_dim;
  a.hidden = c.hidden;
  a.depth = c.depth;
  a.mixtures = c.mixtures;
  a.scale = scale;
  a.precond = c.precond;
  return a;
}

void unet_paper_preset(ImageTrainConfig& c, const Method::Unset& unset) {
  if (unset("batch-size")) c.train.batch_size = 128;
  if (unset("lr")) c.train.lr = 2e-4;
  if (unset("ema")) c.train.ema = 0.9999;
  if (unset("grad-clip")) c.train.grad_clip = 1.0;
}

void unet_small_preset(ImageTrainConfig& c, const Method::Unset& unset) {
  if (unset("grad-clip")) c.train.grad_clip = 1.0;
}

std::shared_ptr<ToyClassifierImpl> fit_toy_classifier(ToyMethod& method, const ToyData& data, const ToyMethodConfig& c,
                                                      const std::function<at::Tensor(const at::Tensor&)>& to_coords,
                                                      double coord_scale, double sigma_lo, double sigma_hi,
                                                      at::Generator& gen, const std::string& dir) {
  const int64_t d = data.truth.dim();
  ModelArgs args = toy_model_args(c, d, 0, coord_scale);
  args.classes = data.truth.components();
  auto net = build_model<ToyClassifierImpl>("classifier-mlp", args);
  // Batches carry the component as one extra column (as ncsn --condition component's), so the trainer's batches and
  // held-out set stay tensors.
  auto with_labels = [](const at::Tensor& x, const at::Tensor& y) {
    return torch::cat({x, y.to(x.scalar_type()).unsqueeze(1)}, 1);
  };
  ToyData labelled = data;
  labelled.batch = [truth = data.truth, with_labels](int64_t n, at::Generator& g) {
    const auto xy = truth.sample_labelled(n, g);
    return with_labels(xy.first, xy.second);
  };
  labelled.test = with_labels(data.test, data.test_labels);
  const double log_lo = std::log(sigma_lo), log_hi = std::log(sigma_hi);
  auto objective = make_objective("classifier", [net, d, to_coords, log_lo, log_hi](const at::Tensor& batch_global,
                                                                                     at::Generator& g) {
    const int64_t n = batch_global.size(0);
    const at::Tensor u = at::rand({n}, g, batch_global.options());
    const at::Tensor z = at::randn({n, d}, g, batch_global.options());
    const at::Tensor batch = local_rows(batch_global);
    const at::Tensor sigma = local_rows((u * (log_hi - log_lo) + log_lo).exp());
    at::Tensor x = batch.slice(1, 0, d);
    if (to_coords) x = to_coords(x);
    x = x + sigma.unsqueeze(1) * local_rows(z);
    const at::Tensor y = batch.select(1, d).to(torch::kLong);
    const at::Tensor per = torch::nn::functional::cross_entropy(
        net->forward(x, sigma), y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    return LossOutput{per.mean(), per.detach()};
  });
  fit(method, "classifier", net, *objective, labelled, c, gen, dir);
  return net;
}

ScoreFn toy_classifier_grad(std::shared_ptr<ToyClassifierImpl> classifier, at::Tensor y) {
  return [classifier, y](const at::Tensor& x, double sigma) {
    torch::AutoGradMode on(true);
    const at::Tensor xx = x.detach().to(torch::kFloat32).requires_grad_(true);
    const at::Tensor logits = classifier->forward(xx, torch::full({x.size(0)}, sigma, xx.options()));
    const at::Tensor lp = torch::log_softmax(logits, 1).gather(1, y.to(x.device()).unsqueeze(1)).sum();
    return torch::autograd::grad({lp}, {xx})[0].detach().to(x.scalar_type());
  };
}

ScoreFn exact_classifier_grad(std::shared_ptr<const GaussianMixture> mixture, at::Tensor y) {
  const at::Tensor mu = mixture->means_tensor().index_select(0, y.cpu());
  const at::Tensor var = mixture->stds_tensor().index_select(0, y.cpu()).pow(2).unsqueeze(1);
  return [mixture, mu, var](const at::Tensor& x, double sigma) {
    const at::Tensor xd = x.to(torch::kFloat64).cpu();
    const at::Tensor component = -(xd - mu) / (var + sigma * sigma);
    return (component - mixture->smoothed(sigma).score(xd).to(torch::kFloat64)).to(x.options());
  };
}

at::Tensor draw_labels(const GaussianMixture& truth, int64_t n, at::Generator& gen) {
  return torch::multinomial(truth.weights_tensor(), n, /*replacement=*/true, gen);
}

double label_agreement(const GaussianMixture& truth, const at::Tensor& x, const at::Tensor& y) {
  const at::Tensor nearest = truth.responsibilities(x.to(torch::kFloat64)).argmax(1).cpu();
  return nearest.eq(y.cpu()).to(torch::kFloat64).mean().item<double>();
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

// ---- image data --------------------------------------------------------------------------------------------

const char* const kRasterNote = "raster-order conditioning: known pixels after an unknown pixel cannot inform it";

StepCallback stage_callback(SamplingMonitor* monitor, const std::string& name, double scale, double shift) {
  return monitor ? monitor->stage(name, scale, shift) : StepCallback{};
}

void PixelCnnMethod::paper_preset(ImageTrainConfig& c, const Unset& unset) const {
  // The authors' PixelCNN++ settings (Meng et al. configs).
  if (unset("batch-size")) c.train.batch_size = c.stage == 2 ? 50 : 80;
  if (unset("lr")) c.train.lr = 2e-4;
  if (unset("lr-schedule")) c.train.lr_schedule = "exp";
  if (unset("lr-decay")) c.train.lr_decay = 0.999995;
}

ImageModel PixelCnnMethod::pixelcnn_model(const ImageTrainConfig& c, int64_t channels,
                                          std::shared_ptr<PixelCNNppImpl>& net) {
  ImageModel m;
  net = std::make_shared<PixelCNNppImpl>(pixelcnn_config(c, channels));
  m.module = net;
  m.generators.emplace_back("dropout", net->dropout_generator());
  m.loss_unit = "bits/dim";
  m.display_scale = 1.0 / std::log(2.0);
  m.reference_sums_loss = true;
  return m;
}

void ScoreMethod::validate_for(const SamplingConfig& config, const LoadedModels& models) const {
  const std::string s = config.sampler_for(name());
  check_sampler(s, offered(), "method " + name());
  // Building the sampler checks its settings against the model (e.g. --steps above the model's T).
  sampler_registry().get(s)(sampler_args(config, models.main, {}));
}

ImageSamples ScoreMethod::draw(const SamplingConfig& config, const LoadedModels& models, int64_t n, at::Generator& gen,
                             SamplingMonitor* monitor) const {
  const LoadedImageModel& m = models.main;
  // A class-conditional model samples each row for a label drawn uniformly from the classes (on the sampling
  // stream, before the sampler's draws), bound while it samples and returned in ImageSamples::labels.
  at::Tensor y;
  struct Restore {
    std::shared_ptr<at::Tensor> slot;
    at::Tensor saved;
    ~Restore() {
      if (slot) *slot = saved;
    }
  } restore{m.model.labels, m.model.labels ? *m.model.labels : at::Tensor()};
  // Classifier guidance (an unconditional model too): the rows' labels drawn the same way, for the classifier.
  if (m.model.labels || config.classifier_scale > 0)
    y = torch::randint(kImageClasses, {n}, gen, torch::TensorOptions().dtype(torch::kLong).device(gen.device()));
  if (m.model.labels) *m.model.labels = y;
  ClassifierGuide guide;
  if (config.classifier_scale > 0) guide = {guide_classifier_grad(models.guide, y), config.classifier_scale};
  auto sampler = make_image_sampler(config, m, guide);
  const ImageDataTransform transform = data_transform();
  at::Tensor x = run_sampler(*sampler, n, {m.channels, m.size, m.size}, gen,
                             stage_callback(monitor, sampler->name(), transform.scale, transform.shift));
  ImageSamples out;
  out.samples = transform.to_model(x);
  out.stats = sampler->stats();
  out.labels = y;
  return out;
}

// Inpainting as the sampler loop's projection hook, for every sampler: after init (where its level is
// known) and after every step, the known pixels are replaced by a draw of q(x | x0_known) at the state's
// level (the noise process's perturb), drawn once per level and reused while the level stays (NCSN
// Algorithm 2: y = x_known + sigma_i z per level; DDPM / DDIM replacement: a fresh draw at every timestep),
// and by x0_known itself once the state is clean.
at::Tensor ScoreMethod::inpaint(const SamplingConfig& config, const LoadedModels& models, const at::Tensor& x0,
                              const at::Tensor& known, at::Generator& gen, SamplingMonitor* monitor) const {
  auto sampler = make_image_sampler(config, models.main);
  const ImageDataTransform transform = data_transform();
  const at::Tensor y0 = transform.to_sampler(x0);
  struct Held {
    bool set = false;
    NoiseLevel level;
    at::Tensor y;
  };
  auto held = std::make_shared<Held>();
  SamplerHooks hooks(stage_callback(monitor, sampler->name(), transform.scale, transform.shift));
  hooks.project = [held, y0, known](const at::Tensor& x, const NoiseLevel& level, at::Generator& g) {
    if (level.clean()) return impose_known(x, y0, known);
    if (!held->set || held->level.index != level.index || held->level.sigma != level.sigma) {
      held->y = perturb(y0, level, g);
      held->level = level;
      held->set = true;
    }
    return impose_known(x, held->y, known);
  };
  const at::Tensor x = run_sampler(*sampler, x0.size(0), x0.sizes().slice(1), gen, hooks);
  return transform.to_model(x);
}

nlohmann::json ScoreMethod::sampling_summary(const SamplingConfig& config) const {
  return {{"sampler", config.sampler_for(name())}};
}

}  // namespace scorelab::method_parts
