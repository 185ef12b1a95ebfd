// `interpolate` (issue 15, seed 003): latent interpolation of a trained diffusion or score model. Two noises x_T
// (the sampler's own init) are joined by a spherical (or linear) path, and every point of it is decoded by a
// deterministic sampler: DDIM with eta 0 (the ddpm default here) or the probability-flow ODE (`ode`, the ncsn
// default; also for ddpm). Writes OUT/interpolation.png (one row per pair, --points frames from one endpoint to
// the other), metrics.json (the endpoint check, path lengths) and config.json. A class-conditional model trained with
// --label-dropout decodes with its null label (its marginal model).
#pragma once
#include <boost/program_options/options_description.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/runtime.h"
#include "methods/image_sampling.h"

namespace scorelab {

class Sampler;

// Spherical interpolation of each row of a and b (any shape [N, ...]) at alpha in [0, 1]:
//   slerp = sin((1 - alpha) theta) / sin theta a + sin(alpha theta) / sin theta b, cos theta = <a, b> / (|a| |b|),
// falling back to the linear path where theta is ~0. slerp(a, b, 0) = a and slerp(a, b, 1) = b exactly.
at::Tensor slerp(const at::Tensor& a, const at::Tensor& b, double alpha);

// The latents of `points` frames per pair: [N * points, ...], pair-major ("slerp" or "linear" path).
at::Tensor interpolation_latents(const at::Tensor& a, const at::Tensor& b, int64_t points, const std::string& path);

struct InterpolateConfig {
  std::string model_dir;          // --model-dir: a `train` output folder of ncsn or ddpm on images
  int64_t pairs = 4;              // --pairs: rows of the grid
  int64_t points = 9;             // --points: frames per row, endpoints included
  std::string path = "slerp";     // --path slerp | linear
  SamplingConfig sampling;        // --sampler (default: ddim for ddpm, ode for ncsn), --steps, --eta ...
  RuntimeConfig runtime;

  void add_options(boost::program_options::options_description& desc);
  void validate() const;  // ConfigError naming the flag
  nlohmann::json to_json() const;
};

// Decodes the frames; a stochastic sampler is refused with a ConfigError naming --sampler: by name (ddpm, the
// Langevin family, pc; ddim with --eta != 0) before any work, and otherwise when the endpoints, decoded twice more on
// their own with two other generators, differ. How far the frames' end columns are from those decodings is reported
// (endpoint_max_abs_diff). All frames are decoded as one batch. Returns metrics.json.
nlohmann::json run_interpolate(const InterpolateConfig& config, const std::string& out_dir, const std::string& command);

}  // namespace scorelab
