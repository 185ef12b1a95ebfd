#include "data/idx.h"

#include <torch/torch.h>
#include <zlib.h>

#include <filesystem>
#include <limits>
#include <sstream>

#include "core/error.h"

namespace scorelab {
namespace {

constexpr unsigned char kUbyteType = 0x08;
constexpr int kMaxDims = 8;
// No dataset of this toolkit comes near 4 GiB of pixels; a larger header is corrupt.
constexpr uint64_t kMaxPayloadBytes = uint64_t{1} << 32;
// Deflate cannot expand more than ~1032:1, which bounds the payload of a .gz before allocating.
constexpr uint64_t kMaxDeflateRatio = 1032;

[[noreturn]] void fail(const std::string& path, const std::string& what, const std::string& fix_hint) {
  std::string msg = "IDX file '" + path + "': " + what;
  msg +=
      fix_hint.empty() ? "; re-fetch it (scripts/get-data mnist or scripts/get-data fashion-mnist)" : "; " + fix_hint;
  throw DataError(msg);
}

// RAII wrapper of a zlib file handle (gzread reads plain files too).
class GzFile {
 public:
  explicit GzFile(const std::string& path) : f_(gzopen(path.c_str(), "rb")) {}
  ~GzFile() {
    if (f_ != nullptr) gzclose(f_);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;
  gzFile get() const { return f_; }

 private:
  gzFile f_;
};

// Reads up to `n` bytes; returns the count read (short only at end of file).
uint64_t read_bytes(gzFile f, void* dst, uint64_t n, const std::string& path, const std::string& fix_hint) {
  auto* out = static_cast<unsigned char*>(dst);
  uint64_t done = 0;
  while (done < n) {
    const uint64_t want = std::min<uint64_t>(n - done, uint64_t{1} << 30);
    const int got = gzread(f, out + done, static_cast<unsigned>(want));
    if (got < 0) {
      int errnum = 0;
      const char* msg = gzerror(f, &errnum);
      fail(path, std::string("read error (") + (msg != nullptr ? msg : "unknown") + ", corrupt gzip stream?)",
           fix_hint);
    }
    if (got == 0) break;
    done += static_cast<uint64_t>(got);
  }
  return done;
}

std::string dims_string(const std::vector<int64_t>& dims) {
  std::ostringstream s;
  for (size_t i = 0; i < dims.size(); ++i) s << (i ? "x" : "") << dims[i];
  return s.str();
}

}  // namespace

IdxArray read_idx(const std::string& path, const std::string& fix_hint) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path, "not found", fix_hint);
  if (!fs::is_regular_file(path, ec)) fail(path, "not a regular file", fix_hint);
  const uint64_t file_bytes = fs::file_size(path, ec);
  if (ec) fail(path, "cannot read its size (" + ec.message() + ")", fix_hint);
  if (file_bytes == 0) fail(path, "empty file", fix_hint);

  GzFile file(path);
  if (file.get() == nullptr) fail(path, "cannot open for reading", fix_hint);

  unsigned char magic[4] = {0, 0, 0, 0};
  if (read_bytes(file.get(), magic, 4, path, fix_hint) != 4) fail(path, "too short for an IDX header", fix_hint);
  if (magic[0] != 0 || magic[1] != 0) {
    std::ostringstream s;
    s << "not an IDX file (magic bytes 0x" << std::hex << int(magic[0]) << " 0x" << int(magic[1])
      << ", expected 0x0 0x0)";
    fail(path, s.str(), fix_hint);
  }
  if (magic[2] != kUbyteType) {
    std::ostringstream s;
    s << "unsupported IDX element type 0x" << std::hex << int(magic[2]) << " (only 0x8, unsigned byte)";
    fail(path, s.str(), fix_hint);
  }
  const int ndims = magic[3];
  if (ndims < 1 || ndims > kMaxDims) {
    fail(path, "IDX header has " + std::to_string(ndims) + " dimensions (expected 1.." + std::to_string(kMaxDims) + ")",
         fix_hint);
  }

  std::vector<unsigned char> raw(4 * static_cast<size_t>(ndims));
  if (read_bytes(file.get(), raw.data(), raw.size(), path, fix_hint) != raw.size()) {
    fail(path, "truncated IDX header (" + std::to_string(ndims) + " sizes announced)", fix_hint);
  }
  IdxArray out;
  uint64_t payload = 1;
  for (int d = 0; d < ndims; ++d) {
    const unsigned char* b = raw.data() + 4 * d;
    const uint64_t size = (uint64_t{b[0]} << 24) | (uint64_t{b[1]} << 16) | (uint64_t{b[2]} << 8) | uint64_t{b[3]};
    if (size == 0) fail(path, "IDX size " + std::to_string(d) + " is zero", fix_hint);
    payload *= size;  // cannot overflow: checked against the cap after every factor (cap * 2^32 < 2^64)
    if (payload > kMaxPayloadBytes) fail(path, "IDX sizes announce more than 4 GiB of data (corrupt header)", fix_hint);
    out.dims.push_back(static_cast<int64_t>(size));
  }
  const uint64_t header = 4 + raw.size();
  const std::string shape = dims_string(out.dims);

  const bool plain = gzdirect(file.get()) == 1;
  if (plain && file_bytes != header + payload) {
    const std::string kind = file_bytes < header + payload ? "truncated" : "trailing bytes";
    fail(path,
         kind + ": header says " + shape + " = " + std::to_string(payload) + " payload bytes, file holds " +
             std::to_string(file_bytes - header),
         fix_hint);
  }
  if (!plain && payload > kMaxDeflateRatio * file_bytes + 1024) {
    fail(
        path,
        "truncated: header says " + shape + " but the compressed file is only " + std::to_string(file_bytes) + " bytes",
        fix_hint);
  }

  out.data = torch::empty(out.dims, torch::kUInt8);
  const uint64_t got = read_bytes(file.get(), out.data.data_ptr<uint8_t>(), payload, path, fix_hint);
  if (got != payload) {
    fail(path,
         "truncated: header says " + shape + " = " + std::to_string(payload) + " payload bytes, file holds " +
             std::to_string(got),
         fix_hint);
  }
  unsigned char extra[64];
  const uint64_t more = read_bytes(file.get(), extra, sizeof(extra), path, fix_hint);
  if (more != 0) {
    fail(path, "trailing bytes after the " + std::to_string(payload) + " payload bytes of " + shape, fix_hint);
  }
  return out;
}

at::Tensor read_idx_images(const std::string& path, const std::string& fix_hint) {
  IdxArray a = read_idx(path, fix_hint);
  if (a.dims.size() != 3) {
    fail(path,
         "expected an image file with 3 dimensions [N, H, W], got " + std::to_string(a.dims.size()) + " (" +
             dims_string(a.dims) + ")",
         fix_hint);
  }
  return a.data.unsqueeze(1);
}

at::Tensor read_idx_labels(const std::string& path, const std::string& fix_hint) {
  IdxArray a = read_idx(path, fix_hint);
  if (a.dims.size() != 1) {
    fail(path,
         "expected a label file with 1 dimension [N], got " + std::to_string(a.dims.size()) + " (" +
             dims_string(a.dims) + ")",
         fix_hint);
  }
  return a.data.to(torch::kInt64);
}

}  // namespace scorelab
