#include "core/precision.h"

#include <ATen/autocast_mode.h>
#include <atomic>
#include <iostream>
#include <torch/version.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "core/cli.h"
#include "core/error.h"

namespace scorelab {

namespace {

std::atomic<int> g_precision{static_cast<int>(Precision::kFloat32)};

// LibTorch 2.4 replaced the per-device autocast setters with device-type arguments (the old ones are deprecated).
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool autocast_enabled(c10::DeviceType d) { return at::autocast::is_autocast_enabled(d); }
void set_autocast(c10::DeviceType d, bool on) { at::autocast::set_autocast_enabled(d, on); }
at::ScalarType autocast_dtype(c10::DeviceType d) { return at::autocast::get_autocast_dtype(d); }
void set_autocast_dtype(c10::DeviceType d, at::ScalarType t) { at::autocast::set_autocast_dtype(d, t); }
#else
bool autocast_enabled(c10::DeviceType d) {
  return d == c10::kCPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
}
void set_autocast(c10::DeviceType d, bool on) {
  d == c10::kCPU ? at::autocast::set_cpu_enabled(on) : at::autocast::set_enabled(on);
}
at::ScalarType autocast_dtype(c10::DeviceType d) {
  return d == c10::kCPU ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
}
void set_autocast_dtype(c10::DeviceType d, at::ScalarType t) {
  d == c10::kCPU ? at::autocast::set_autocast_cpu_dtype(t) : at::autocast::set_autocast_gpu_dtype(t);
}
#endif

}  // namespace

std::string precision_name(Precision p) { return p == Precision::kBFloat16 ? "bf16" : "fp32"; }

std::string cpu_bf16_support() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return "";  // OSXSAVE: xgetbv is usable
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  const bool zmm_state = (lo & 0xE6u) == 0xE6u;  // the OS saves SSE, AVX and the AVX-512 opmask / ZMM state
  if (!zmm_state || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return "";
  const bool amx_bf16 = (d >> 22) & 1u, amx_tile = (d >> 24) & 1u, avx512f = (b >> 16) & 1u;
  if (amx_bf16 && amx_tile) return "amx_bf16";
  if (!avx512f) return "";
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d) && ((a >> 5) & 1u)) return "avx512_bf16";
#endif
  return "";
}

Precision set_precision(const std::string& flag, c10::Device device, bool quiet) {
  require_one_of("--precision", flag, {"fp32", "bf16"});
  static std::atomic<bool> said{false};  // one start-up line per process, however many stages set it
  quiet = quiet || said.exchange(true);
  Precision p = Precision::kFloat32;
  if (flag == "bf16") {
    if (device.is_cuda()) {
      p = Precision::kBFloat16;
      if (!quiet) std::cerr << "precision: bf16 autocast on CUDA (master weights, optimiser state and losses fp32)\n";
    } else {
      const std::string isa = cpu_bf16_support();
      if (isa.empty()) {
        if (!quiet)
          std::cerr << "precision: this CPU has neither AVX512-BF16 nor AMX-BF16 (bf16 would be emulated, slower "
                     "than fp32): running in fp32\n";
      } else {
        p = Precision::kBFloat16;
        if (!quiet)
          std::cerr << "precision: bf16 autocast on the CPU (" << isa
                    << "; master weights, optimiser state and losses fp32)\n";
      }
    }
  }
  set_compute_precision(p);
  return p;
}

Precision compute_precision() { return static_cast<Precision>(g_precision.load(std::memory_order_relaxed)); }

void set_compute_precision(Precision p) { g_precision.store(static_cast<int>(p), std::memory_order_relaxed); }

MixedPrecisionScope::MixedPrecisionScope() {
  if (compute_precision() != Precision::kBFloat16) return;
  active_ = true;
  prev_cpu_ = autocast_enabled(c10::kCPU);
  prev_cuda_ = autocast_enabled(c10::kCUDA);
  prev_cpu_dtype_ = static_cast<int>(autocast_dtype(c10::kCPU));
  prev_cuda_dtype_ = static_cast<int>(autocast_dtype(c10::kCUDA));
  set_autocast_dtype(c10::kCPU, at::kBFloat16);
  set_autocast_dtype(c10::kCUDA, at::kBFloat16);
  set_autocast(c10::kCPU, true);
  set_autocast(c10::kCUDA, true);
  at::autocast::increment_nesting();
}

MixedPrecisionScope::~MixedPrecisionScope() {
  if (!active_) return;
  // Casts of leaf weights are cached while a scope is open; the outermost scope drops them, as torch.autocast does.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast(c10::kCPU, prev_cpu_);
  set_autocast(c10::kCUDA, prev_cuda_);
  set_autocast_dtype(c10::kCPU, static_cast<at::ScalarType>(prev_cpu_dtype_));
  set_autocast_dtype(c10::kCUDA, static_cast<at::ScalarType>(prev_cuda_dtype_));
}

at::Tensor to_float32(const at::Tensor& t) {
  return t.defined() && (t.scalar_type() == at::kBFloat16 || t.scalar_type() == at::kHalf) ? t.to(at::kFloat) : t;
}

}  // namespace scorelab
