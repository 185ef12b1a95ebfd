// Parameter digests and the export that Python's torch.load reads.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/module.h>

namespace scorelab {

// SHA-256 (hex) over every named parameter and buffer, in registration order: name, dtype, shape and
// the raw CPU bytes. Two runs that ended with identical weights have identical digests.
std::string params_sha256(const torch::nn::Module& module);

// Writes {name: tensor} of all parameters and buffers (CPU, contiguous) with torch::pickle_save,
// atomically. Python reads it with `torch.load(path)` (a dict of tensors; e.g. to fill a PyTorch module
// with matching names: `module.load_state_dict(torch.load(path))`).
void export_state_dict(const torch::nn::Module& module, const std::string& path);

// Writes {name: tensor} (CPU, contiguous) with torch::pickle_save, atomically: what `torch.load(path)`
// reads as a dict of tensors. export_state_dict and `sample`'s batch files are written by it.
void save_tensor_dict(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors);
// The dict of tensors in such a file; DataError naming the file (and `what` it should be) otherwise.
std::vector<std::pair<std::string, at::Tensor>> load_tensor_dict(const std::string& path, const std::string& what);

// Reads such a file back (C++ side of the round trip) into the module; DataError on a mismatch. Also reads
// the authors' PixelCNN++ checkpoints: a list whose first item is the state dict, names with nn.DataParallel's
// "module." prefix, and entries whose shapes differ only by trailing 1s (nn.Linear [out, in] for a 1x1
// convolution's [out, in, 1, 1]) are reshaped.
void import_state_dict(torch::nn::Module& module, const std::string& path);

}  // namespace scorelab
