#include "data/cifar10.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace scorelab {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what, const std::string& fix_hint) {
  throw DataError("CIFAR-10 file '" + path + "': " + what + (fix_hint.empty() ? "" : "; " + fix_hint));
}

}  // namespace

CifarBatch read_cifar10_batch(const std::string& path, const std::string& fix_hint) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path, "not found", fix_hint);
  if (!fs::is_regular_file(path, ec)) fail(path, "not a regular file", fix_hint);
  const uint64_t bytes = fs::file_size(path, ec);
  if (ec) fail(path, "cannot read its size (" + ec.message() + ")", fix_hint);
  if (bytes == 0 || bytes % kCifarRecordBytes != 0) {
    fail(path,
         "size " + std::to_string(bytes) + " bytes is not a positive multiple of the " +
             std::to_string(kCifarRecordBytes) + "-byte record (truncated or not a CIFAR-10 binary batch)",
         fix_hint);
  }
  const int64_t n = static_cast<int64_t>(bytes / kCifarRecordBytes);

  at::Tensor raw = torch::empty({n, kCifarRecordBytes}, torch::kUInt8);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open for reading", fix_hint);
  in.read(reinterpret_cast<char*>(raw.data_ptr<uint8_t>()), static_cast<std::streamsize>(bytes));
  if (in.gcount() != static_cast<std::streamsize>(bytes)) {
    fail(path, "read only " + std::to_string(in.gcount()) + " of " + std::to_string(bytes) + " bytes", fix_hint);
  }

  at::Tensor labels = raw.select(1, 0).to(torch::kInt64);
  at::Tensor bad = (labels >= kCifarClasses).nonzero();
  if (bad.numel() > 0) {
    const int64_t record = bad[0][0].item<int64_t>();
    fail(path,
         "record " + std::to_string(record) + " (byte " + std::to_string(record * kCifarRecordBytes) +
             ") has label " + std::to_string(labels[record].item<int64_t>()) + ", expected 0.." +
             std::to_string(kCifarClasses - 1),
         fix_hint);
  }
  CifarBatch out;
  out.labels = labels;
  out.images = raw.slice(1, 1).reshape({n, kCifarChannels, kCifarImageSize, kCifarImageSize}).contiguous();
  return out;
}

}  // namespace scorelab
