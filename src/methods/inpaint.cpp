#include "methods/inpaint.h"

#include <stb_image.h>
#include <torch/torch.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include "core/cli.h"
#include "core/error.h"
#include "core/io.h"
#include "core/precision.h"
#include "data/image_data.h"
#include "eval/image_grid.h"
#include "methods/method.h"
#include "models/pixelcnnpp.h"
#include "core/noise.h"
#include "samplers/pixelcnn_sampling.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace scorelab {

namespace {

using Clock = std::chrono::steady_clock;

int64_t as_int(double v) { return static_cast<int64_t>(std::llround(v)); }

}  // namespace

// ---- masks -------------------------------------------------------------------------------------------------

std::vector<std::string> mask_names() {
  return {"left-half", "right-half", "bottom-half", "centre-square", "random", "file"};
}

void MaskConfig::add_options(po::options_description& desc) {
  desc.add_options()
      ("mask", po::value(&mask)->default_value(mask),
       "region to complete: left-half | right-half | bottom-half | centre-square | random | file")
      ("mask-fraction", po::value(&fraction)->default_value(fraction),
       "--mask random: fraction of the pixels to complete (exact count per image)")
      ("mask-file", po::value(&file), "--mask file: a PNG of the image size, white = known, black = to complete");
}

void MaskConfig::validate() const {
  require_one_of("--mask", mask, mask_names());
  require_range("--mask-fraction", fraction, 0.0, 1.0);
  if (mask == "file" && file.empty())
    throw ConfigError(flag_error("--mask-file", "", "a PNG file (white = known) with --mask file"));
  if (mask != "file" && !file.empty())
    throw ConfigError(flag_error("--mask-file", file, "only with --mask file (got --mask " + mask + ")"));
}

nlohmann::json MaskConfig::to_json() const {
  nlohmann::json j = {{"mask", mask}};
  if (mask == "random") j["fraction"] = fraction;
  if (mask == "file") j["file"] = file;
  return j;
}

at::Tensor read_mask_png(const std::string& path, int64_t height, int64_t width) {
  if (!fs::is_regular_file(path))
    throw DataError("mask file '" + path + "' does not exist; draw a " + std::to_string(height) + "x" +
                    std::to_string(width) + " PNG, white = known");
  int w = 0, h = 0, channels = 0;
  unsigned char* data = stbi_load(path.c_str(), &w, &h, &channels, 1);
  if (!data)
    throw DataError("mask file '" + path + "' cannot be read as an image (" + std::string(stbi_failure_reason()) +
                    "); give a PNG, white = known");
  at::Tensor pixels = torch::from_blob(data, {h, w}, torch::kUInt8).clone();
  stbi_image_free(data);
  if (h != height || w != width)
    throw DataError("mask file '" + path + "' is " + std::to_string(w) + "x" + std::to_string(h) +
                    " pixels; the model's images are " + std::to_string(width) + "x" + std::to_string(height));
  return pixels.ge(128).to(torch::kFloat32).view({1, 1, height, width});
}

void write_mask_png(const std::string& path, const at::Tensor& mask) {
  TORCH_CHECK(mask.dim() >= 2 && mask.numel() == mask.size(-1) * mask.size(-2),
              "write_mask_png: expected one mask [H, W], [1, H, W] or [1, 1, H, W], got ", mask.sizes());
  at::Tensor img = mask.reshape({1, 1, mask.size(-2), mask.size(-1)}).gt(0.5).to(torch::kUInt8) * 255;
  write_png_grid(path, img, 1, 0);
}

at::Tensor make_mask(const MaskConfig& config, int64_t n, int64_t height, int64_t width, at::Generator& gen) {
  config.validate();
  TORCH_CHECK(n > 0 && height > 0 && width > 0, "make_mask: expected positive sizes, got ", n, " x ", height, " x ",
              width);
  using torch::indexing::Slice;
  if (config.mask == "random") {
    const int64_t pixels = height * width, unknown = as_int(config.fraction * static_cast<double>(pixels));
    at::Tensor m = torch::ones({n, pixels}, torch::kFloat32);
    for (int64_t i = 0; i < n; ++i) m[i].index_fill_(0, torch::randperm(pixels, gen).slice(0, 0, unknown), 0.0);
    return m.view({n, 1, height, width});
  }
  at::Tensor m = config.mask == "file" ? read_mask_png(config.file, height, width)
                                       : torch::ones({1, 1, height, width}, torch::kFloat32);
  if (config.mask == "left-half") {
    m.index_put_({Slice(), Slice(), Slice(), Slice(0, width / 2)}, 0.0);
  } else if (config.mask == "right-half") {
    m.index_put_({Slice(), Slice(), Slice(), Slice(width / 2, width)}, 0.0);
  } else if (config.mask == "bottom-half") {
    m.index_put_({Slice(), Slice(), Slice(height / 2, height), Slice()}, 0.0);
  } else if (config.mask == "centre-square") {
    const int64_t side = std::min(height, width) / 2, top = (height - side) / 2, left = (width - side) / 2;
    m.index_put_({Slice(), Slice(), Slice(top, top + side), Slice(left, left + side)}, 0.0);
  }
  return m.expand({n, 1, height, width}).contiguous();
}

at::Tensor impose_known(const at::Tensor& x, const at::Tensor& known, const at::Tensor& known_bool) {
  return torch::where(known_bool, known, x);
}

// ---- completion --------------------------------------------------------------------------------------------

at::Tensor inpaint(const SamplingConfig& config, const LoadedModels& models, const at::Tensor& images,
                   const at::Tensor& mask, at::Generator& gen, SamplingMonitor* monitor) {
  config.validate();
  config.validate_for(models);
  const auto& m = models.main;
  TORCH_CHECK(images.dim() == 4 && images.size(1) == m.channels && images.size(2) == m.size && images.size(3) == m.size,
              "inpaint: expected images [N, ", m.channels, ", ", m.size, ", ", m.size, "], got ", images.sizes());
  TORCH_CHECK(mask.dim() == 4 && mask.size(1) == 1 && mask.size(2) == m.size && mask.size(3) == m.size &&
                  (mask.size(0) == 1 || mask.size(0) == images.size(0)),
              "inpaint: expected a mask [N or 1, 1, ", m.size, ", ", m.size, "], got ", mask.sizes());
  torch::NoGradGuard no_grad;
  const at::Tensor x0 = images.to(torch::kFloat32);
  const at::Tensor known = mask.to(x0.device()).gt(0.5).expand_as(x0);
  const at::Tensor x = get_method(models.method()).inpaint(config, models, x0, known, gen, monitor);
  return impose_known(x.clamp(-1.0, 1.0), x0, known);
}

InpaintErrors inpaint_errors(const at::Tensor& completions, const at::Tensor& originals, const at::Tensor& mask,
                             int64_t samples) {
  TORCH_CHECK(samples >= 1 && completions.size(0) % samples == 0, "inpaint_errors: ", completions.size(0),
              " completions are not a multiple of ", samples, " per image");
  TORCH_CHECK(completions.sizes() == originals.sizes(), "inpaint_errors: shapes ", completions.sizes(), " and ",
              originals.sizes(), " differ");
  const at::Tensor known = mask.to(completions.device()).gt(0.5).expand_as(completions);
  const at::Tensor sq = (completions.to(torch::kFloat64) - originals.to(torch::kFloat64)).square();
  const auto n_known = known.sum().item<int64_t>(), n_all = known.numel();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  InpaintErrors e;
  e.known_fraction = static_cast<double>(n_known) / static_cast<double>(n_all);
  e.mse_known = n_known > 0 ? sq.masked_select(known).mean().item<double>() : nan;
  e.mse_unknown = n_known < n_all ? sq.masked_select(known.logical_not()).mean().item<double>() : nan;
  const at::Tensor unknown = known.logical_not().to(torch::kFloat64).flatten(1);
  const at::Tensor counts = unknown.sum(1);
  const at::Tensor has = counts > 0;
  // Per image: the mean over its completions (those with unknown pixels) of each completion's MSE.
  const at::Tensor per_row = (sq.flatten(1) * unknown).sum(1) / counts.clamp_min(1);
  const at::Tensor w = has.to(torch::kFloat64).reshape({-1, samples});
  const at::Tensor n_rows = w.sum(1);
  const at::Tensor per = ((per_row.reshape({-1, samples}) * w).sum(1) / n_rows.clamp_min(1)).masked_select(n_rows > 0);
  e.mse_unknown_se = per.numel() > 1 ? per.std().item<double>() / std::sqrt(static_cast<double>(per.numel())) : nan;
  return e;
}

// ---- the inpaint run ---------------------------------------------------------------------------------------

void InpaintConfig::add_options(po::options_description& desc) {
  po::options_description io("Inpainting");
  io.add_options()
      ("model-dir", po::value(&model_dir), "a `train` output folder (config.json + model.pt)")
      ("stage2-dir", po::value(&stage2_dir), "smoothed-ar: the stage-2 folder, for --denoise conditional-ar")
      ("images", po::value(&images)->default_value(images), "number of images to complete (the first of the split)")
      ("samples", po::value(&samples)->default_value(samples), "completions per image")
      ("split", po::value(&split)->default_value(split), "test | train")
      ("data-dir", po::value(&data_dir), "data folder (default: $SCORELAB_DATA or <repo>/data)")
      ("quiet", po::bool_switch(&quiet), "no progress lines");
  mask.add_options(io);
  desc.add(io);
  po::options_description s("Sampling");
  sampling.add_options(s);
  desc.add(s);
  po::options_description r("Run");
  runtime.add_options(r);
  desc.add(r);
}

void InpaintConfig::validate() const {
  if (model_dir.empty()) throw ConfigError(flag_error("--model-dir", "", "a `train` output folder"));
  if (images < 1) throw ConfigError(flag_error("--images", std::to_string(images), "an integer >= 1"));
  if (samples < 1) throw ConfigError(flag_error("--samples", std::to_string(samples), "an integer >= 1"));
  require_one_of("--split", split, {"test", "train"});
  mask.validate();
  sampling.validate();
  if (sampling.guidance_scale != 0)  // inpainting draws no labels: the null label would be guided against itself
    throw ConfigError(flag_error("--guidance-scale", flag_value(sampling.guidance_scale),
                                 "0 for inpainting (it completes images without labels)"));
  if (sampling.classifier_scale != 0)
    throw ConfigError(flag_error("--classifier-scale", flag_value(sampling.classifier_scale),
                                 "0 for inpainting (it completes images without labels)"));
  runtime.validate();
}

nlohmann::json InpaintConfig::to_json() const {
  return {{"model_dir", model_dir}, {"stage2_dir", stage2_dir}, {"images", images}, {"samples", samples},
          {"split", split},         {"mask", mask.to_json()},   {"sampling", sampling.to_json()},
          {"seed", runtime.seed},   {"device", runtime.device}, {"threads", runtime.threads}, {"precision", runtime.precision}};
}

nlohmann::json run_inpaint(const InpaintConfig& c, const std::string& out, const std::string& command) {
  c.validate();
  set_threads(c.runtime.threads);
  const auto device = resolve_device(c.runtime.device);
  set_precision(c.runtime.precision, device);
  ensure_writable_dir(out);
  LoadedModels models = load_models(c.model_dir, c.stage2_dir, device);
  c.sampling.validate_for(models);
  const auto& m = models.main;
  auto data = load_image_dataset(m.config.dataset, c.split, c.data_dir);
  const int64_t n_img = std::min<int64_t>(c.images, data.images.size(0));
  const at::Tensor originals = to_model_range(data.images.slice(0, 0, n_img)).to(device);

  nlohmann::json config = c.to_json();
  config["command"] = command;
  config["method"] = m.config.method;
  config["dataset"] = m.config.dataset;
  write_json((fs::path(out) / "config.json").string(), config);

  auto mask_gen = make_generator(derive_seed(c.runtime.seed, "mask"));
  const at::Tensor mask = make_mask(c.mask, n_img, m.size, m.size, mask_gen).to(device);
  write_mask_png((fs::path(out) / "mask.png").string(), mask[0]);
  // Image-major repetition: completions of image i are rows i * samples .. i * samples + samples - 1.
  const at::Tensor x0 = originals.repeat_interleave(c.samples, 0);
  const at::Tensor masks = mask.repeat_interleave(c.samples, 0);

  auto gen = make_generator(derive_seed(c.runtime.seed, "inpaint"), device);
  SamplingMonitor monitor(c.sampling.snapshots > 0 ? (fs::path(out) / "snapshots").string() : "", c.sampling.snapshots,
                          !c.quiet);
  const auto t0 = Clock::now();
  const at::Tensor completions = inpaint(c.sampling, models, x0, masks, gen, &monitor);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const InpaintErrors err = inpaint_errors(completions, x0, masks, c.samples);

  // Rows: masked input (unknown pixels grey), the completions (one row per sample), the originals.
  const int64_t h = m.size;
  const at::Tensor masked = torch::where(mask.gt(0.5), originals, torch::zeros_like(originals));
  const at::Tensor rows = completions.view({n_img, c.samples, m.channels, h, h}).transpose(0, 1).reshape({-1, m.channels, h, h});
  write_png_grid((fs::path(out) / "inpaint.png").string(), torch::cat({masked, rows, originals}, 0), n_img);

  auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json metrics = {{"method", m.config.method}, {"dataset", m.config.dataset}, {"mask", c.mask.to_json()},
                            {"images", n_img}, {"samples", c.samples}, {"known_fraction", err.known_fraction},
                            {"mse_known", number(err.mse_known)}, {"mse_unknown", number(err.mse_unknown)},
                            {"mse_unknown_se", number(err.mse_unknown_se)},
                            {"mse_scale", "model range [-1, 1], completions clamped"}, {"seconds", seconds},
                            {"device", device.str()}, {"snapshots", monitor.snapshot_files().size()}};
  metrics.update(get_method(m.config.method).sampling_summary(c.sampling));
  write_run_metrics(out, metrics);
  return metrics;
}

}  // namespace scorelab
