// Shared pieces of the trainer tests: a seeded linear model, a regression loss with fresh inputs every
// step, a quiet small config, the flattened parameters, and fresh paths under the gtest temp folder.
#pragma once
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "train/trainer.h"

namespace scorelab::test_support {

// nn::Linear(in, 1) with weights from LibTorch's global generator seeded with 0.
inline std::shared_ptr<torch::nn::Linear> seeded_linear(int64_t in = 3) {
  torch::manual_seed(0);
  return std::make_shared<torch::nn::Linear>(torch::nn::LinearOptions(in, 1));
}

// MSE regression on y = x . (1, -2, 0.5) + offset with `batch` fresh N(0, I) inputs every step.
inline std::function<at::Tensor(int64_t, at::Generator&)> regression_loss(torch::nn::Linear& model, int64_t batch,
                                                                          double offset) {
  return [&model, batch, offset](int64_t, at::Generator& g) {
    auto x = at::normal(0.0, 1.0, {batch, 3}, g, torch::kFloat32);
    auto y = x.matmul(torch::tensor({1.0f, -2.0f, 0.5f})).unsqueeze(1) + offset;
    return (model->forward(x) - y).pow(2).mean();
  };
}

// iters iterations, lr 0.05, EMA 0.9, no progress line.
inline TrainConfig quiet_config(int64_t iters) {
  TrainConfig c;
  c.iters = iters;
  c.lr = 0.05;
  c.ema = 0.9;
  c.quiet = true;
  return c;
}

inline at::Tensor flat_params(torch::nn::Module& m) {
  std::vector<at::Tensor> ps;
  for (auto& p : m.parameters()) ps.push_back(p.detach().flatten());
  return torch::cat(ps);
}

// <gtest temp>/<name>, removed (file or folder) so the test starts from nothing.
inline std::string fresh_path(const std::string& name) {
  auto p = std::filesystem::path(::testing::TempDir()) / name;
  std::filesystem::remove_all(p);
  return p.string();
}

}  // namespace scorelab::test_support
