// Image inpainting with the trained image models (issue 4): masks, the completion of masked images by
// every method, error metrics, and the run behind `apps/inpaint`.
//
// Methods (all on the model scale [-1, 1]; the result always carries the known pixels exactly):
//   ncsn         NCSN Algorithm 2 (Song & Ermon 2019): at level i draw y = x_known + sigma_i z (once per
//                level, on NCSN's [0, 1] scale) and after every Langevin step reset the known pixels to y.
//   ddpm / ddim  replacement: after every step (and at x_T) the known pixels are replaced by a fresh draw of
//                q(x_t | x0_known) = N(sqrt(abar_t) x0, (1 - abar_t) I) at the state's timestep t (the exact
//                known pixels at the end).
//   ar           PixelCNN++ raster-order sampling that copies known pixels instead of drawing them
//                (sample_pixelcnnpp's known / known_mask). Only known pixels *before* an unknown pixel in
//                raster order condition it: a known pixel below or to the right of a hole cannot inform it
//                (the model has no way to look ahead), so e.g. --mask bottom-half is a true completion and
//                --mask left-half / centre-square ignore the known pixels that follow each hole.
//   smoothed-ar  stage 1 inpaints x~ given the smoothed known pixels x_known + sigma z (same raster-order
//                limit), then the smoothing is reversed: --denoise single-step (x~ + sigma^2 grad log p(x~),
//                then the known pixels are re-imposed) or --denoise conditional-ar (the stage-2 PixelCNN++
//                p(x | x~) with known / known_mask = the clean known pixels).
#pragma once
#include <boost/program_options/options_description.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>

#include "core/runtime.h"
#include "methods/image_sampling.h"

namespace scorelab {

// ---- masks -------------------------------------------------------------------------------------------------

// Mask names say which region is *unknown* (to be completed): left-half (columns < W/2), right-half
// (columns >= W/2), bottom-half (rows >= H/2), centre-square (the central square of side H/2, offset
// (H - H/2) / 2), random (exactly round(fraction H W) unknown pixels per image, drawn with the generator),
// file (a PNG of H x W pixels, white = known).
struct MaskConfig {
  std::string mask = "left-half";  // --mask
  double fraction = 0.5;           // --mask-fraction: random: fraction of the pixels to complete, in [0, 1]
  std::string file;                // --mask-file: the PNG for --mask file

  void add_options(boost::program_options::options_description& desc);
  void validate() const;  // ConfigError naming the flag
  nlohmann::json to_json() const;
};

// The names --mask accepts.
std::vector<std::string> mask_names();

// Masks [n, 1, height, width], float32 {0, 1} on CPU, 1 = known (the same for every channel). The
// generator is used by "random" only. Unknown name: ConfigError naming --mask; unreadable or wrongly
// sized file: DataError naming the file.
at::Tensor make_mask(const MaskConfig& config, int64_t n, int64_t height, int64_t width, at::Generator& gen);

// Reads a PNG (grey, grey+alpha, RGB or RGBA; converted to grey) as a [1, 1, H, W] mask: pixels >= 128
// are known. DataError naming the file if it cannot be read or is not height x width.
at::Tensor read_mask_png(const std::string& path, int64_t height, int64_t width);

// Writes a mask ([H, W], [1, H, W] or [1, 1, H, W], 1 = known) as a grey PNG: known white, unknown black.
void write_mask_png(const std::string& path, const at::Tensor& mask);

// Known pixels from `known` where known_bool is true, the rest from `x` (exact: no arithmetic on the
// known values). The inpainting projection of every method.
at::Tensor impose_known(const at::Tensor& x, const at::Tensor& known, const at::Tensor& known_bool);

// ---- completion --------------------------------------------------------------------------------------------

// Completes `images` [N, C, H, W] (model scale [-1, 1], on the models' device) where `mask`
// ([N or 1, 1, H, W], 1 = known) is 0, with the method of models.main (see the table above); the
// sampler knobs come from `config`. Returns [N, C, H, W]: the known pixels exactly as in `images`, the
// completed ones clamped to [-1, 1]. `monitor` (may be null) sees every step of every stage.
at::Tensor inpaint(const SamplingConfig& config, const LoadedModels& models, const at::Tensor& images,
                   const at::Tensor& mask, at::Generator& gen, SamplingMonitor* monitor = nullptr);

struct InpaintErrors {
  double mse_known = 0.0;    // mean squared error over the known pixels (x channels); 0 after re-imposing
  double mse_unknown = 0.0;  // over the completed pixels; NaN when there are none
  // Standard error of mse_unknown over the images: each original's mean over its completions of the per-completion
  // MSE of the unknown pixels (completions of one image are not independent); NaN with fewer than two images.
  double mse_unknown_se = 0.0;
  double known_fraction = 0.0;
};
// Errors of `completions` [N, C, H, W] against `originals` (same shape) in the regions of `mask`
// ([N or 1, 1, H, W]), on the model scale. `samples`: the completions per original, image-major (rows i * samples ..
// i * samples + samples - 1 complete image i).
InpaintErrors inpaint_errors(const at::Tensor& completions, const at::Tensor& originals, const at::Tensor& mask,
                             int64_t samples = 1);

// ---- the inpaint run ---------------------------------------------------------------------------------------

struct InpaintConfig {
  std::string model_dir;   // --model-dir: a `train` output folder
  std::string stage2_dir;  // --stage2-dir: smoothed-ar stage-2 folder (for --denoise conditional-ar)
  int64_t images = 8;      // --images: the first N images of the split
  int64_t samples = 2;     // --samples: completions per image
  std::string split = "test";  // --split test | train
  std::string data_dir;    // --data-dir
  bool quiet = false;      // --quiet: no progress lines
  MaskConfig mask;
  SamplingConfig sampling;
  RuntimeConfig runtime;

  void add_options(boost::program_options::options_description& desc);
  void validate() const;
  nlohmann::json to_json() const;
};

// Loads the models and the first --images images of the split, draws the masks, completes every image
// --samples times and writes to out_dir: inpaint.png (rows: masked input with the unknown pixels grey,
// then one row per completion, then the original; one column per image), mask.png (the first image's
// mask), metrics.json (mse_known, mse_unknown, known_fraction, ...), timings.json (seconds), config.json and,
// with --snapshots, snapshots/*.png. Returns both JSON files merged (read_run_metrics).
nlohmann::json run_inpaint(const InpaintConfig& config, const std::string& out_dir, const std::string& command);

}  // namespace scorelab
