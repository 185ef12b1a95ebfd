// Mixed precision (`--precision fp32|bf16`) in the autocast style: parameters, gradients, Adam state, EMA and
// checkpoints stay float32; only the networks' forward passes run under LibTorch's autocast, which computes
// convolutions and matrix products in bfloat16 (on CPU: oneDNN's AVX512-BF16 / AMX kernels), and every network
// returns float32, so losses, likelihood terms (logistic CDFs, log-sum-exp, bits/dim) and sampler updates stay
// float32. The precision is a process-wide setting of the run (like the thread count), chosen once by the app
// from the flag and the hardware; each network's forward opens a MixedPrecisionScope.
#pragma once
#include <string>

#include <ATen/Tensor.h>
#include <c10/core/Device.h>

namespace scorelab {

enum class Precision { kFloat32, kBFloat16 };

// "fp32" | "bf16".
std::string precision_name(Precision p);

// What this CPU offers for bf16 matrix products: "amx_bf16" (AMX tiles), "avx512_bf16", or "" (neither: oneDNN
// would emulate bf16, slower than fp32). Read with cpuid (x86-64); "" elsewhere.
std::string cpu_bf16_support();

// Resolves the --precision flag ("fp32" | "bf16"; anything else is a ConfigError naming the flag) for `device`
// and makes it the run's precision. bf16 on a CPU without AVX512-BF16 / AMX falls back to fp32 with one line on
// stderr saying so; on CUDA bf16 autocast runs as is (Ampere or newer computes it natively; fp16 with a loss
// scaler is not offered). One line per process at most (the first call's); `quiet`: none. Returns the precision
// in effect.
Precision set_precision(const std::string& flag, c10::Device device, bool quiet = false);

// The run's precision (fp32 until set_precision / set_compute_precision says otherwise).
Precision compute_precision();
// Sets it directly (tests, benches): no hardware check.
void set_compute_precision(Precision p);

// While alive, and when the run's precision is bf16: autocast to bfloat16 on the CPU and on CUDA (nested scopes
// are free; the outermost one clears autocast's weight-cast cache when it closes, so that weights updated by an
// optimiser step are cast afresh). With fp32 it does nothing.
class MixedPrecisionScope {
 public:
  MixedPrecisionScope();
  ~MixedPrecisionScope();
  MixedPrecisionScope(const MixedPrecisionScope&) = delete;
  MixedPrecisionScope& operator=(const MixedPrecisionScope&) = delete;
  bool active() const { return active_; }

 private:
  bool active_ = false;
  bool prev_cpu_ = false, prev_cuda_ = false;
  int prev_cpu_dtype_ = 0, prev_cuda_dtype_ = 0;
};

// A network output widened to float32 when autocast left it in bf16 / fp16 (float32 and float64 pass through).
at::Tensor to_float32(const at::Tensor& t);

}  // namespace scorelab
