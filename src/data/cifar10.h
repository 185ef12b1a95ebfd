// Reader for the CIFAR-10 binary version (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html).
// A batch file is a sequence of 3073-byte records with no header: <1 byte label 0..9><3072 bytes pixels>,
// the pixels being three row-major 32x32 planes, red then green then blue.
#pragma once
#include <ATen/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace scorelab {

constexpr int64_t kCifarImageSize = 32;
constexpr int64_t kCifarChannels = 3;
constexpr int64_t kCifarClasses = 10;
constexpr int64_t kCifarRecordBytes = 1 + kCifarChannels * kCifarImageSize * kCifarImageSize;  // 3073

struct CifarBatch {
  at::Tensor images;  // uint8 [N, 3, 32, 32], CPU
  at::Tensor labels;  // int64 [N]
};

// Reads one batch file (data_batch_k.bin, test_batch.bin). Throws DataError naming `path` when the
// file is missing or unreadable, its size is not a positive multiple of 3073 bytes, or a label is
// above 9 (the message gives the record index and its byte offset). `fix_hint` ends every message.
CifarBatch read_cifar10_batch(const std::string& path, const std::string& fix_hint = "run scripts/get-data cifar10");

// Several batch files concatenated in the given order (e.g. data_batch_1..5 -> 50000 images), read
// straight into one preallocated result; same checks and errors as read_cifar10_batch.
CifarBatch read_cifar10_batches(const std::vector<std::string>& paths,
                                const std::string& fix_hint = "run scripts/get-data cifar10");

}  // namespace scorelab
