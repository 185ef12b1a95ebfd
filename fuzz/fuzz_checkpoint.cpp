// libFuzzer target: Trainer::load_checkpoint_data (what --resume does with checkpoint.ckpt) on arbitrary
// bytes, for a small model with EMA. Expected outcome: a restored iteration or a DataError; any other
// exception, crash or leak is a bug. The seed corpus holds real checkpoints of this model
// (scripts/fuzz regenerates them with --make-corpus).
#include <torch/torch.h>

#include "core/error.h"
#include "fuzz_common.h"
#include "train/trainer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  torch::manual_seed(0);
  auto model = std::make_shared<torch::nn::Linear>(torch::nn::LinearOptions(3, 2));
  scorelab::TrainConfig config;
  config.iters = 2;
  config.ema = 0.9;
  config.quiet = true;
  scorelab::Trainer trainer("fuzz", model->ptr(), config, "", "", "fuzz-fingerprint");
  at::Generator gen = at::detail::createCPUGenerator(0);
  try {
    const int64_t iter = trainer.load_checkpoint_data(reinterpret_cast<const char*>(data), size, "fuzz input", gen);
    if (iter < 0) __builtin_trap();
  } catch (const scorelab::DataError&) {
  }
  return 0;
}
