#include "core/runtime.h"
#include "core/wait_policy.h"

#include "dist/dist.h"

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <boost/program_options.hpp>
#include <thread>
#include <torch/cuda.h>
#include <torch/utils.h>

#include "core/cli.h"
#include "core/error.h"
#include "core/io.h"

namespace po = boost::program_options;

namespace scorelab {

void RuntimeConfig::add_options(po::options_description& desc) {
  desc.add_options()
      ("device", po::value(&device)->default_value(device), "auto | cpu | cuda (auto picks CUDA when present)")
      ("seed", po::value(&seed)->default_value(seed), "random seed; a CPU run is fully determined by it")
      ("threads", po::value(&threads)->default_value(threads), "LibTorch intra-op threads (0: all cores)")
      ("precision", po::value(&precision)->default_value(precision),
       "fp32 | bf16: bf16 runs the networks' convolutions and matrix products in bfloat16 under autocast (weights, "
       "optimiser state, checkpoints and losses stay fp32); on a CPU without AVX512-BF16 / AMX it falls back to fp32")
      ("out", po::value(&out), "output folder (default: a fresh folder under reports/)");
}

void RuntimeConfig::validate() const {
  require_one_of("--device", device, {"auto", "cpu", "cuda"});
  require_one_of("--precision", precision, {"fp32", "bf16"});
  if (threads < 0) throw ConfigError(flag_error("--threads", std::to_string(threads), "0 (all cores) or a positive count"));
}

std::string RuntimeConfig::out_or_default(const std::string& prefix) const {
  return out.empty() ? default_report_dir(prefix) : out;
}

c10::Device resolve_device(const std::string& name) {
  require_one_of("--device", name, {"auto", "cpu", "cuda"});
  const bool has_cuda = torch::cuda::is_available();
  if (name == "cuda" && !has_cuda)
    throw ConfigError("flag --device: got 'cuda' but no CUDA device is available to this LibTorch; use --device cpu or auto");
  // Data parallel: one GPU per process on this machine (LOCAL_RANK), as torchrun jobs expect.
  if (name == "cuda" || (name == "auto" && has_cuda))
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(dist::active() ? dist::local_rank() : 0));
  return c10::Device(c10::kCPU);
}

void set_threads(int threads) {
  // Default: the cores, shared by the data-parallel processes on this machine (dist/dist.h).
  int n = threads > 0 ? threads
                      : std::max(1, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) /
                                        dist::local_world_size());
  at::set_num_threads(n);
  static bool interop_set = false;  // may be set once per process, before any inter-op work
  if (!interop_set) {
    interop_set = true;
    // Keep freed blocks in the heap instead of returning them to the OS after every step: otherwise glibc
    // unmaps every tensor >= 128 KiB and the next step page-faults it back in (bench: Langevin step
    // 969 -> 465 ms, toy MLP step 7.7 -> 1.1 ms on this machine). Values: glibc's maximum mmap threshold.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    try {
      at::set_num_interop_threads(1);
    } catch (const std::exception&) {
    }
  }
}

double busy_cores(int ms) {
  auto read = [](double& busy, double& total) {
    std::ifstream in("/proc/stat");
    std::string cpu;
    in >> cpu;
    if (cpu != "cpu") return false;
    double v[8] = {};  // user nice system idle iowait irq softirq steal
    for (double& x : v) in >> x;
    if (!in) return false;
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    total = busy + v[3] + v[4];
    return true;
  };
  double b0 = 0, t0 = 0, b1 = 0, t1 = 0;
  if (!read(b0, t0)) return -1.0;
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  if (!read(b1, t1) || t1 <= t0) return -1.0;
  return (b1 - b0) / (t1 - t0) * static_cast<double>(std::max(1u, std::thread::hardware_concurrency()));
}

double choose_openmp_wait_policy(char** argv) {
  if (argv == nullptr || argv[0] == nullptr || std::getenv("OMP_WAIT_POLICY") != nullptr ||
      std::getenv("GOMP_SPINCOUNT") != nullptr)
    return -1.0;
  const double busy = busy_cores(100);
  if (busy < 0.5) return busy;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  // The program's own path (not /proc/self/exe, which would rename the process "exe" in ps and top).
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    execv(self, argv);
  }
  execvp(argv[0], argv);
  return busy;  // both failed: run on with libgomp's default policy (child processes still get the variable)
}

at::Generator make_generator(uint64_t seed, c10::Device device) {
  if (device.is_cuda()) {
    at::Generator gen = at::detail::getCUDAHooks().getDefaultCUDAGenerator(device.index()).clone();
    gen.set_current_seed(seed);
    return gen;
  }
  at::Generator gen = at::detail::createCPUGenerator(seed);
  return gen;
}

void seed_module_init(uint64_t seed) { torch::manual_seed(seed); }

uint64_t derive_seed(uint64_t seed, const std::string& stream) {
  // FNV-1a over the stream name, mixed with the seed by splitmix64: stable across platforms.
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : stream) h = (h ^ c) * 1099511628211ULL;
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL + h;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) & 0x7FFFFFFFFFFFFFFFULL;
}

}  // namespace scorelab
