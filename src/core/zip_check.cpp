#include "core/zip_check.h"

#include <zlib.h>

#include <cstdint>

namespace scorelab {
namespace {

constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kCentralSignature = 0x02014b50;
constexpr uint32_t kLocalSignature = 0x04034b50;
constexpr size_t kEndBytes = 22, kCentralBytes = 46, kLocalBytes = 30, kMaxComment = 65535;

uint16_t u16(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>(b[0] | (b[1] << 8));
}
uint32_t u32(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{b[0]} | (uint32_t{b[1]} << 8) | (uint32_t{b[2]} << 16) | (uint32_t{b[3]} << 24);
}

constexpr uint16_t kStored = 0, kDeflated = 8;

// Inflates a raw deflate stream in fixed chunks (no allocation proportional to the claimed size), giving the
// CRC-32 and the length of the output; false on a damaged stream or output longer than `expected`.
bool inflate_crc(const char* in, uint64_t in_size, uint64_t expected, uLong& crc, uint64_t& produced) {
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return false;
  unsigned char out[1 << 15];
  crc = crc32_z(0L, Z_NULL, 0);
  produced = 0;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
  zs.avail_in = static_cast<uInt>(in_size);  // records over 4 GiB use ZIP64 and are skipped before this
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = out;
    zs.avail_out = sizeof out;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    const size_t n = sizeof out - zs.avail_out;
    crc = crc32_z(crc, out, n);
    produced += n;
    if (produced > expected || (rc == Z_OK && n == 0 && zs.avail_in == 0)) break;
  }
  inflateEnd(&zs);
  return rc == Z_STREAM_END;
}

// A record name for messages: printable ASCII only, at most 60 characters.
std::string printable(const char* p, size_t n) {
  std::string out;
  for (size_t i = 0; i < n && out.size() < 60; ++i) out += (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : '?';
  return out;
}

}  // namespace

std::string zip_integrity_problem(const char* data, size_t size) {
  if (size < kEndBytes) return "too short for a ZIP archive";
  if (size >= (uint64_t{1} << 32)) return "";  // ZIP64 territory: not verified
  // Below 4 GiB no field may hold a ZIP64 marker: 0xFFFF / 0xFFFFFFFF fail the bounds checks below (a record
  // claiming 4 GiB made LibTorch allocate it; found by fuzz/fuzz_checkpoint).
  const size_t lowest = size > kEndBytes + kMaxComment ? size - kEndBytes - kMaxComment : 0;
  size_t end = size - kEndBytes + 1;
  bool found = false;
  while (end-- > lowest) {
    if (u32(data + end) == kEndSignature) {
      found = true;
      break;
    }
  }
  if (!found) return "no ZIP end record";
  const uint16_t entries = u16(data + end + 10);
  const uint32_t dir_size = u32(data + end + 12), dir_offset = u32(data + end + 16);
  if (uint64_t{dir_offset} + dir_size > end) return "the ZIP directory lies outside the file";
  if (entries == 0) return "the ZIP archive holds no records";
  const uint64_t dir_end = uint64_t{dir_offset} + dir_size;
  uint64_t p = dir_offset;
  for (uint16_t i = 0; i < entries; ++i) {
    if (p + kCentralBytes > dir_end || u32(data + p) != kCentralSignature) return "damaged ZIP directory entry";
    const char* e = data + p;
    const uint16_t method = u16(e + 10), name_len = u16(e + 28), extra_len = u16(e + 30), comment_len = u16(e + 32);
    const uint32_t crc = u32(e + 16), stored = u32(e + 20), length = u32(e + 24), local = u32(e + 42);
    if (p + kCentralBytes + name_len > dir_end) return "damaged ZIP directory entry";
    const std::string name = printable(e + kCentralBytes, name_len);
    p += uint64_t{kCentralBytes} + name_len + extra_len + comment_len;
    if (p > dir_end) return "damaged ZIP directory entry for '" + name + "'";
    if (method != kStored && method != kDeflated)
      return "record '" + name + "' has compression method " + std::to_string(method);
    if (method == kStored && stored != length) return "record '" + name + "' has inconsistent sizes";
    if (uint64_t{local} + kLocalBytes > size || u32(data + local) != kLocalSignature)
      return "record '" + name + "' has no local header";
    const uint64_t start = uint64_t{local} + kLocalBytes + u16(data + local + 26) + u16(data + local + 28);
    if (start + stored > size) return "record '" + name + "' extends past the end of the file";
    uint64_t produced = stored;
    uLong got = 0;
    if (method == kStored) {
      got = crc32_z(0L, reinterpret_cast<const Bytef*>(data + start), stored);
    } else if (!inflate_crc(data + start, stored, length, got, produced)) {
      return "record '" + name + "' is not valid deflate data";
    }
    if (produced != length) return "record '" + name + "' has the wrong length";
    if (got != crc) return "record '" + name + "' fails its CRC-32 check";
  }
  return "";
}

}  // namespace scorelab
