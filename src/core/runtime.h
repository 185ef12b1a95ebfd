// Run-wide settings shared by every app: device, seed, threads, output folder, config file.
#pragma once
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>
#include <cstdint>
#include <string>

#include <ATen/core/Generator.h>
#include <c10/core/Device.h>

namespace scorelab {

struct RuntimeConfig {
  std::string device = "auto";  // auto | cpu | cuda
  uint64_t seed = 0;
  int threads = 0;  // 0: the cores available
  std::string precision = "fp32";  // --precision fp32 | bf16 (core/precision.h)
  std::string out;  // output folder ("" : app-specific default)
  std::string config_file;

  void add_options(boost::program_options::options_description& desc);
  void validate() const;
  // --out, or a fresh reports/<prefix>-<timestamp> folder when it was not given.
  std::string out_or_default(const std::string& prefix) const;
};

// Resolves "auto" to CUDA when present. "cuda" without a GPU is a ConfigError.
c10::Device resolve_device(const std::string& name);

// Sets LibTorch's intra-op threads (0: hardware concurrency) and one inter-op thread.
void set_threads(int threads);

// A generator on `device` seeded with `seed`: every random draw takes one (STYLE 7).
at::Generator make_generator(uint64_t seed, c10::Device device = c10::Device(c10::kCPU));

// Seeds LibTorch's global generator, which module constructors use for weight initialisation.
void seed_module_init(uint64_t seed);

// Derives an independent seed for a named sub-stream, so that components do not share streams.
uint64_t derive_seed(uint64_t seed, const std::string& stream);

}  // namespace scorelab
