// Integrity check of the ZIP container LibTorch writes for checkpoints (torch::serialize archives: records
// stored uncompressed, each with a CRC-32). LibTorch's loader parses the archive's TorchScript type
// definitions without such a check and can crash on a corrupt byte (found by fuzz/fuzz_checkpoint), so
// checkpoints are verified with this first.
#pragma once
#include <cstddef>
#include <string>

namespace scorelab {

// "" when every record of the archive lies within `size` bytes, is stored uncompressed and matches its
// CRC-32; else a one-line description of the first problem (no end record, a record past the end, a CRC
// mismatch, a size no file under 4 GiB can hold...). Archives of 4 GiB or more (ZIP64) are not verified.
std::string zip_integrity_problem(const char* data, size_t size);

}  // namespace scorelab
