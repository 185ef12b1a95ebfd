#include "methods/method.h"

#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "data/image_data.h"
#include "eval/likelihood.h"

namespace scorelab {

// Each method is one file; a new one is one more line here (and its make_ function).
std::shared_ptr<const Method> make_ar_method();
std::shared_ptr<const Method> make_smoothed_ar_method();
std::shared_ptr<const Method> make_smoothed_ar_blur_method();
std::shared_ptr<const Method> make_smoothed_ar_blur_noise_method();
std::shared_ptr<const Method> make_ardm_method();
std::shared_ptr<const Method> make_ncsn_method();
std::shared_ptr<const Method> make_ddpm_method();

const std::vector<std::shared_ptr<const Method>>& methods() {
  static const std::vector<std::shared_ptr<const Method>> all = {
      make_ar_method(),  make_smoothed_ar_method(), make_ncsn_method(), make_ddpm_method(),
      make_smoothed_ar_blur_method(), make_smoothed_ar_blur_noise_method(), make_ardm_method()};
  return all;
}

std::vector<std::string> method_names() {
  std::vector<std::string> out;
  for (const auto& m : methods()) out.push_back(m->name());
  return out;
}

std::string methods_help(const std::string& separator) {
  std::string out;
  for (const auto& m : methods()) out += (out.empty() ? "" : separator) + m->name() + ": " + m->help();
  return out;
}

const Method& get_method(const std::string& name) {
  for (const auto& m : methods())
    if (m->name() == name) return *m;
  std::string known;
  for (const auto& n : method_names()) known += (known.empty() ? "" : ", ") + n;
  throw ConfigError(flag_error("--method", name, "one of " + known));
}

SamplerArgs Method::sampler_args(const SamplingConfig&, const LoadedImageModel&, const ClassifierGuide&) const {
  throw ConfigError("method " + name() + " has no score sampler; it draws pixel by pixel");
}

ImageLikelihood Method::image_likelihood(const std::string& kind, const LoadedModels&, const at::Tensor&,
                                        const LikelihoodConfig&, at::Generator&) const {
  std::string kinds;
  for (const auto& k : likelihood_kinds()) kinds += (kinds.empty() ? "" : ", ") + k;
  throw ConfigError(flag_error("--likelihood", kind, kinds.empty() ? "nothing: method " + name() + " has no likelihood"
                                                                    : "one of " + kinds + " for method " + name()));
}

nlohmann::json Method::test_likelihood(const std::string& kind, const LoadedModels& models, const ImageDataset& test,
                                       int64_t n, const LikelihoodConfig& config, at::Generator& gen) const {
  n = std::min<int64_t>(n, test.images.size(0));
  const c10::Device device = models.main.model.module->parameters().empty()
                                 ? c10::Device(c10::kCPU)
                                 : models.main.model.module->parameters().front().device();
  std::vector<at::Tensor> parts;
  double nfe = 0.0;
  std::string label;
  bool continuous = false;
  for (int64_t i = 0; i < n; i += config.batch_size) {
    const at::Tensor x = to_model_range(test.images.slice(0, i, std::min(n, i + config.batch_size))).to(device);
    const ImageLikelihood l = image_likelihood(kind, models, x, config, gen);
    parts.push_back(l.bits_per_dim.to(torch::kCPU, torch::kFloat64));
    nfe += l.nfe * static_cast<double>(x.size(0));
    label = l.label;
    continuous = l.continuous;
  }
  const at::Tensor bpd = torch::cat(parts);
  nlohmann::json e = nll_summary(bpd);
  if (continuous) {  // the same numbers as nats per image of the continuous density on [-1, 1]
    const double dims = static_cast<double>(test.images[0].numel());
    e["continuous_nll_nats"] = nll_summary((bpd - std::log2(127.5)) * (dims * std::log(2.0)))["nll"];
  }
  e["bits_per_dim"] = e["nll"];
  e.erase("nll");
  e["kind"] = label;
  e["nfe"] = nfe / static_cast<double>(n);
  return e;
}

// The toy lab's view of the same list: name -> the method's session on mixture data.
const ToyMethodRegistry& toy_method_registry() {
  static const ToyMethodRegistry reg = [] {
    ToyMethodRegistry r("method");
    for (const auto& m : methods()) {
      std::shared_ptr<const Method> method = m;
      r.add(m->name(), [method](const ToyMethodConfig& c) { return method->toy(c); }, m->help());
    }
    return r;
  }();
  return reg;
}

}  // namespace scorelab
