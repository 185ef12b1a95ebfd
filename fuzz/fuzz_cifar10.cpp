// libFuzzer target: read_cifar10_batch on arbitrary bytes. Expected outcome: N = size / 3073 records with
// labels 0..9, or a DataError; any other exception, crash or leak is a bug.
#include <torch/torch.h>

#include "core/error.h"
#include "data/cifar10.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = scorelab::fuzz::input_path(".bin");
  scorelab::fuzz::write_input(path, data, size);
  try {
    scorelab::CifarBatch b = scorelab::read_cifar10_batch(path);
    const auto n = static_cast<int64_t>(size) / scorelab::kCifarRecordBytes;
    if (b.images.size(0) != n || b.labels.size(0) != n) __builtin_trap();
    if (b.labels.max().item<int64_t>() > 9 || b.labels.min().item<int64_t>() < 0) __builtin_trap();
  } catch (const scorelab::DataError&) {
  }
  return 0;
}
