// Reader for the IDX format of MNIST and Fashion-MNIST (LeCun et al., http://yann.lecun.com/exdb/mnist/).
// Layout: magic {0x00, 0x00, type, ndims}, then ndims big-endian uint32 sizes, then the payload in
// row-major order with no padding. Only type 0x08 (unsigned byte) occurs in these datasets and is the
// only one accepted. Plain and gzip-compressed files are read transparently.
#pragma once
#include <ATen/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace scorelab {

struct IdxArray {
  std::vector<int64_t> dims;  // sizes from the header, outermost first
  at::Tensor data;            // uint8, shape `dims`, CPU, contiguous
};

// Reads an IDX ubyte file (plain or .gz). Throws DataError naming `path` when the file is missing,
// empty, has a wrong magic / type / ndims, a zero or absurd size, or a payload whose length differs
// from the product of the sizes (truncated or trailing bytes). `fix_hint` ends every message, e.g.
// "run scripts/get-data mnist".
IdxArray read_idx(const std::string& path, const std::string& fix_hint = "");

// A 3-d IDX file [N, H, W] as uint8 images [N, 1, H, W]; DataError if ndims != 3.
at::Tensor read_idx_images(const std::string& path, const std::string& fix_hint = "");

// A 1-d IDX file [N] as int64 labels [N]; DataError if ndims != 1.
at::Tensor read_idx_labels(const std::string& path, const std::string& fix_hint = "");

}  // namespace scorelab
