// A fake MNIST folder for fast tests: random 28x28 digits in the original IDX layout.
#pragma once
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/runtime.h"

namespace scorelab::test_support {

inline void write_be32(std::ofstream& f, uint32_t v) {
  const unsigned char b[4] = {static_cast<unsigned char>(v >> 24), static_cast<unsigned char>(v >> 16),
                              static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
  f.write(reinterpret_cast<const char*>(b), 4);
}

// <TempDir>/<name>-<pid>/mnist with n_train / n_test images (pixels from seed 3, labels i % 10); returns the
// --data-dir. One folder per process: ctest runs tests in parallel processes, and a file rewritten while
// another test reads it would change that test's data.
inline std::string fake_mnist(int n_train, int n_test, const std::string& name = "fake-data") {
  namespace fs = std::filesystem;
  const auto root = fs::path(::testing::TempDir()) / (name + "-" + std::to_string(::getpid()));
  const auto dir = root / "mnist";
  fs::create_directories(dir);
  auto gen = make_generator(3);
  for (auto [prefix, n] : {std::pair<const char*, int>{"train", n_train}, {"t10k", n_test}}) {
    std::ofstream img(dir / (std::string(prefix) + "-images-idx3-ubyte"), std::ios::binary);
    for (uint32_t v : {0x803u, static_cast<uint32_t>(n), 28u, 28u}) write_be32(img, v);
    auto pixels = at::randint(256, {n * 28 * 28}, gen, torch::kUInt8);
    img.write(reinterpret_cast<const char*>(pixels.data_ptr<uint8_t>()), pixels.numel());
    std::ofstream lab(dir / (std::string(prefix) + "-labels-idx1-ubyte"), std::ios::binary);
    write_be32(lab, 0x801);
    write_be32(lab, static_cast<uint32_t>(n));
    for (int i = 0; i < n; ++i) lab.put(static_cast<char>(i % 10));
  }
  return root.string();
}

}  // namespace scorelab::test_support
