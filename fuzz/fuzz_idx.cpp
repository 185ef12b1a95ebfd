// libFuzzer target: read_idx on arbitrary bytes, plain (gzip magic absent) or gzip. Expected outcome: a
// tensor whose shape matches the header, or a DataError; any other exception, crash or leak is a bug.
#include <torch/torch.h>

#include "core/error.h"
#include "data/idx.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = scorelab::fuzz::input_path(".idx");
  scorelab::fuzz::write_input(path, data, size);
  try {
    scorelab::IdxArray a = scorelab::read_idx(path);
    int64_t n = 1;
    for (int64_t d : a.dims) n *= d;
    if (a.data.numel() != n || a.data.scalar_type() != torch::kUInt8) __builtin_trap();
    if (a.dims.size() == 3) (void)scorelab::read_idx_images(path);
    if (a.dims.size() == 1) (void)scorelab::read_idx_labels(path);
  } catch (const scorelab::DataError&) {
  }
  return 0;
}
