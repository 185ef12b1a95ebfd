// Shared helpers of the fuzz targets: the readers under test take paths, so each input is written to a
// per-process file on tmpfs (/dev/shm when present) first.
#pragma once
#include <unistd.h>

#include <ATen/Parallel.h>

#include <cstdint>
#include <cstdio>
#include <string>

// One intra-op thread: the inputs are tiny, and OpenMP barriers on a busy machine cost more than the work.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  at::set_num_threads(1);
  return 0;
}

namespace scorelab::fuzz {

inline std::string input_path(const char* suffix) {
  const char* dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  return std::string(dir) + "/scorelab-fuzz-" + std::to_string(::getpid()) + suffix;
}

inline void write_input(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) __builtin_trap();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) __builtin_trap();
  std::fclose(f);
}

}  // namespace scorelab::fuzz
