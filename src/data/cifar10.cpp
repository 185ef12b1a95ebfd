#include "data/cifar10.h"

#include <torch/torch.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace scorelab {
namespace {

constexpr int64_t kPixelBytes = kCifarRecordBytes - 1;
constexpr int64_t kChunkRecords = 1000;  // ~3 MB read buffer

[[noreturn]] void fail(const std::string& path, const std::string& what, const std::string& fix_hint) {
  throw DataError("CIFAR-10 file '" + path + "': " + what + (fix_hint.empty() ? "" : "; " + fix_hint));
}

// Number of records of a batch file, after checking that it exists and has a valid size.
int64_t count_records(const std::string& path, const std::string& fix_hint) {
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
  return static_cast<int64_t>(bytes / kCifarRecordBytes);
}

// Reads `n` records of `path` into images / labels (pointers to the first destination record),
// checking every label.
void read_records(const std::string& path, int64_t n, uint8_t* images, int64_t* labels, std::vector<char>& buffer,
                  const std::string& fix_hint) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open for reading", fix_hint);
  for (int64_t first = 0; first < n; first += kChunkRecords) {
    const int64_t count = std::min(kChunkRecords, n - first);
    const auto want = static_cast<std::streamsize>(count * kCifarRecordBytes);
    in.read(buffer.data(), want);
    if (in.gcount() != want) {
      fail(path, "read failed at record " + std::to_string(first) + " (file changed while reading?)", fix_hint);
    }
    for (int64_t r = 0; r < count; ++r) {
      const char* rec = buffer.data() + r * kCifarRecordBytes;
      const int label = static_cast<unsigned char>(rec[0]);
      const int64_t index = first + r;
      if (label >= kCifarClasses) {
        fail(path,
             "record " + std::to_string(index) + " (byte " + std::to_string(index * kCifarRecordBytes) +
                 ") has label " + std::to_string(label) + ", expected 0.." + std::to_string(kCifarClasses - 1),
             fix_hint);
      }
      labels[index] = label;
      std::memcpy(images + index * kPixelBytes, rec + 1, kPixelBytes);
    }
  }
}

}  // namespace

CifarBatch read_cifar10_batch(const std::string& path, const std::string& fix_hint) {
  return read_cifar10_batches({path}, fix_hint);
}

CifarBatch read_cifar10_batches(const std::vector<std::string>& paths, const std::string& fix_hint) {
  TORCH_CHECK(!paths.empty(), "read_cifar10_batches: no files given");
  std::vector<int64_t> counts;
  int64_t total = 0;
  for (const auto& p : paths) {
    counts.push_back(count_records(p, fix_hint));
    total += counts.back();
  }
  CifarBatch out;
  out.images = torch::empty({total, kCifarChannels, kCifarImageSize, kCifarImageSize}, torch::kUInt8);
  out.labels = torch::empty({total}, torch::kInt64);
  // One chunk, or less for small files (a fresh 3 MB buffer per call dominated reading a small batch).
  const int64_t buffer_records = std::min(kChunkRecords, *std::max_element(counts.begin(), counts.end()));
  std::vector<char> buffer(static_cast<size_t>(buffer_records * kCifarRecordBytes));
  int64_t offset = 0;
  for (size_t i = 0; i < paths.size(); ++i) {
    read_records(paths[i], counts[i], out.images.data_ptr<uint8_t>() + offset * kPixelBytes,
                 out.labels.data_ptr<int64_t>() + offset, buffer, fix_hint);
    offset += counts[i];
  }
  return out;
}

}  // namespace scorelab
