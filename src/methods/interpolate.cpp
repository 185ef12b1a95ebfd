#include "methods/interpolate.h"

#include <torch/torch.h>

#include <boost/program_options.hpp>
#include <cmath>
#include <filesystem>

#include "core/cli.h"
#include "core/error.h"
#include "core/io.h"
#include "core/precision.h"
#include "eval/image_grid.h"
#include "methods/method.h"
#include "samplers/sampler.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace scorelab {

at::Tensor slerp(const at::Tensor& a, const at::Tensor& b, double alpha) {
  TORCH_CHECK(a.sizes() == b.sizes() && a.dim() >= 1, "slerp: a and b must have one shape [N, ...], got ", a.sizes(),
              " and ", b.sizes());
  if (alpha == 0.0) return a.clone();
  if (alpha == 1.0) return b.clone();
  const int64_t n = a.size(0);
  const at::Tensor fa = a.reshape({n, -1}).to(torch::kFloat64), fb = b.reshape({n, -1}).to(torch::kFloat64);
  const at::Tensor cos = ((fa * fb).sum(1) / (fa.norm(2, 1) * fb.norm(2, 1)).clamp_min(1e-300)).clamp(-1.0, 1.0);
  const at::Tensor theta = torch::acos(cos), sin = torch::sin(theta);
  // Nearly parallel rows: the spherical weights tend to the linear ones (1 - alpha, alpha).
  const at::Tensor near = sin.abs() < 1e-6;
  const at::Tensor safe = torch::where(near, torch::ones_like(sin), sin);
  const at::Tensor wa = torch::where(near, torch::full_like(sin, 1.0 - alpha), torch::sin((1.0 - alpha) * theta) / safe);
  const at::Tensor wb = torch::where(near, torch::full_like(sin, alpha), torch::sin(alpha * theta) / safe);
  return (wa.unsqueeze(1) * fa + wb.unsqueeze(1) * fb).reshape(a.sizes()).to(a.scalar_type());
}

at::Tensor interpolation_latents(const at::Tensor& a, const at::Tensor& b, int64_t points, const std::string& path) {
  TORCH_CHECK(points >= 2, "interpolation_latents: points must be >= 2, got ", points);
  std::vector<at::Tensor> frames;
  for (int64_t k = 0; k < points; ++k) {
    const double alpha = static_cast<double>(k) / static_cast<double>(points - 1);
    frames.push_back(path == "linear" ? (k == 0 ? a.clone() : k == points - 1 ? b.clone() : (1 - alpha) * a + alpha * b)
                                      : slerp(a, b, alpha));
  }
  return torch::stack(frames, 1).flatten(0, 1);  // [N, points, ...] -> pair-major rows
}

void InterpolateConfig::add_options(po::options_description& desc) {
  po::options_description o("Interpolate");
  o.add_options()
      ("model-dir", po::value(&model_dir), "a `train` output folder of ncsn or ddpm on images")
      ("pairs", po::value(&pairs)->default_value(pairs), "pairs of noises (rows of the grid)")
      ("points", po::value(&points)->default_value(points), "frames per pair, endpoints included (>= 2)")
      ("path", po::value(&path)->default_value(path), "slerp (spherical, for Gaussian noises) | linear");
  desc.add(o);
  po::options_description m("Sampling (a deterministic sampler: ddim with --eta 0, ode)");
  sampling.add_options(m);
  desc.add(m);
  po::options_description r("Run");
  runtime.add_options(r);
  desc.add(r);
}

void InterpolateConfig::validate() const {
  if (model_dir.empty()) throw ConfigError(flag_error("--model-dir", "", "a `train` output folder of ncsn or ddpm"));
  if (pairs < 1) throw ConfigError(flag_error("--pairs", std::to_string(pairs), "an integer >= 1"));
  if (points < 2) throw ConfigError(flag_error("--points", std::to_string(points), "an integer >= 2 (the two endpoints)"));
  require_one_of("--path", path, {"slerp", "linear"});
  sampling.validate();
  if (sampling.guidance_scale != 0)
    throw ConfigError(flag_error("--guidance-scale", flag_value(sampling.guidance_scale), "0 (interpolation draws no labels)"));
  if (sampling.classifier_scale != 0)
    throw ConfigError(
        flag_error("--classifier-scale", flag_value(sampling.classifier_scale), "0 (interpolation draws no labels)"));
  // Samplers that draw noise at every step are refused before any work (the decoded endpoints are checked too).
  for (const char* stochastic : {"ddpm", "langevin", "annealed-langevin", "pc", "mala", "mala-plain"})
    if (sampling.sampler == stochastic)
      throw ConfigError(flag_error("--sampler", sampling.sampler, "a deterministic sampler (ddim with --eta 0, or ode)"));
  if (sampling.sampler == "ddim" && sampling.sampling.eta != 0)
    throw ConfigError(flag_error("--sampler", sampling.sampler, "a deterministic sampler (ddim with --eta 0, or ode): got --eta " +
                                                                    flag_value(sampling.sampling.eta)));
  runtime.validate();
}

nlohmann::json InterpolateConfig::to_json() const {
  return {{"model_dir", model_dir}, {"pairs", pairs}, {"points", points}, {"path", path},
          {"sampling", sampling.to_json()}, {"seed", runtime.seed}, {"device", runtime.device},
          {"threads", runtime.threads}, {"precision", runtime.precision}};
}

nlohmann::json run_interpolate(const InterpolateConfig& c, const std::string& out, const std::string& command) {
  c.validate();
  set_threads(c.runtime.threads);
  const auto device = resolve_device(c.runtime.device);
  set_precision(c.runtime.precision, device);
  if (!fs::exists(fs::path(c.model_dir) / "config.json"))
    throw DataError("'" + (fs::path(c.model_dir) / "config.json").string() +
                    "' is missing; --model-dir takes a `train` output folder of ncsn or ddpm on images");
  LoadedModels models = load_models(c.model_dir, "", device);
  const std::string method = models.method();
  SamplingConfig sc = c.sampling;
  if (method != "ncsn" && method != "ddpm")
    throw ConfigError(flag_error("--model-dir", c.model_dir, "a model of ncsn or ddpm (got method " + method +
                                                                 ", which has no noise to interpolate)"));
  // A class-conditional model interpolates its marginal (the null label of --label-dropout); without one it cannot.
  if (models.main.model.labels && models.main.model.null_label < 0)
    throw ConfigError(flag_error("--model-dir", c.model_dir,
                                 "an unconditional model, or a class-conditional one trained with --label-dropout (this one has no null label)"));
  if (sc.sampler.empty()) sc.sampler = method == "ddpm" ? "ddim" : "ode";
  sc.validate_for(models);
  ensure_writable_dir(out);
  nlohmann::json config = c.to_json();
  config["command"] = command;
  config["method"] = method;
  config["sampler"] = sc.sampler;
  write_json((fs::path(out) / "config.json").string(), config);

  const LoadedImageModel& m = models.main;
  auto sampler = make_image_sampler(sc, m);
  const ImageDataTransform transform = sampler_data_transform(m);
  const std::vector<int64_t> shape{m.channels, m.size, m.size};
  auto gen = make_generator(derive_seed(c.runtime.seed, "interpolate/noise"), device);
  const at::Tensor ends = sampler->init(2 * c.pairs, shape, gen);
  const at::Tensor a = ends.slice(0, 0, c.pairs), b = ends.slice(0, c.pairs, 2 * c.pairs);
  const at::Tensor latents = interpolation_latents(a, b, c.points, c.path);
  torch::NoGradGuard no_grad;
  const auto t0 = std::chrono::steady_clock::now();
  auto decode_gen = make_generator(derive_seed(c.runtime.seed, "interpolate/decode"), device);
  const at::Tensor frames = transform.to_model(run_sampler_from(*sampler, latents, decode_gen));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // The endpoints decoded on their own, twice, with other generators: a deterministic sampler gives the same images
  // both times (else it is refused), and the frames' first and last columns again, up to the float rounding of
  // another batch size (an adaptive solver, ode's rk45, also picks its steps per batch: up to its tolerances).
  auto decode_alone = [&](const char* stream) {
    auto g = make_generator(derive_seed(c.runtime.seed, stream), device);
    return transform.to_model(run_sampler_from(*sampler, torch::cat({a, b}, 0), g));
  };
  const at::Tensor alone = decode_alone("interpolate/endpoints"), again = decode_alone("interpolate/endpoints-again");
  const double spread = (alone - again).abs().max().item<double>();
  if (!(spread < 1e-5))
    throw ConfigError(flag_error("--sampler", sc.sampler,
                                 "a deterministic sampler (ddim with --eta 0, or ode): the endpoints decoded twice differ by " +
                                     std::to_string(spread)));
  const at::Tensor grid = frames.reshape({c.pairs, c.points, m.channels, m.size, m.size});
  const at::Tensor firsts = grid.select(1, 0), lasts = grid.select(1, c.points - 1);
  const double mismatch =
      std::max((firsts - alone.slice(0, 0, c.pairs)).abs().max().item<double>(),
               (lasts - alone.slice(0, c.pairs, 2 * c.pairs)).abs().max().item<double>());
  write_png_grid((fs::path(out) / "interpolation.png").string(), frames.cpu(), c.points);
  // Path length along the decoded frames against the straight distance between the endpoints (model scale, per
  // pixel RMS): 1 for a straight decoded path, larger when the images change through intermediate shapes.
  const double pixels = static_cast<double>(m.channels * m.size * m.size);
  const at::Tensor steps = (grid.slice(1, 1) - grid.slice(1, 0, c.points - 1)).flatten(2).norm(2, 2) / std::sqrt(pixels);
  const at::Tensor path = steps.sum(1), chord = (lasts - firsts).flatten(1).norm(2, 1) / std::sqrt(pixels);
  const at::Tensor pc = path.cpu().to(torch::kFloat64), cc = chord.cpu().to(torch::kFloat64);
  nlohmann::json metrics = {
      {"model_dir", c.model_dir}, {"method", method}, {"sampler", sampler->describe()}, {"path", c.path},
      {"pairs", c.pairs}, {"points", c.points}, {"endpoint_max_abs_diff", mismatch},
      {"path_length_rms", std::vector<double>(pc.data_ptr<double>(), pc.data_ptr<double>() + pc.numel())},
      {"endpoint_distance_rms", std::vector<double>(cc.data_ptr<double>(), cc.data_ptr<double>() + cc.numel())},
      {"seconds", seconds}, {"seconds_per_frame", seconds / static_cast<double>(c.pairs * c.points)},
      {"grid_png", "interpolation.png"}};
  write_json((fs::path(out) / "metrics.json").string(), metrics);
  return metrics;
}

}  // namespace scorelab
