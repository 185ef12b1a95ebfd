// Writes the seed corpus of fuzz_checkpoint: real checkpoints of its model (Linear 3 -> 2 with EMA) after
// 0, 1 and 3 iterations, plus one from another fingerprint. Usage: make_checkpoint_corpus DIR
#include <torch/torch.h>

#include <filesystem>
#include <iostream>

#include "train/trainer.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_checkpoint_corpus DIR\n";
    return 2;
  }
  std::filesystem::create_directories(argv[1]);
  int k = 0;
  for (const auto& [iters, fp] : std::vector<std::pair<int64_t, std::string>>{
           {0, "fuzz-fingerprint"}, {1, "fuzz-fingerprint"}, {3, "fuzz-fingerprint"}, {1, "other"}}) {
    torch::manual_seed(0);
    auto model = std::make_shared<torch::nn::Linear>(torch::nn::LinearOptions(3, 2));
    scorelab::TrainConfig config;
    config.iters = iters;
    config.ema = 0.9;
    config.quiet = true;
    const std::string path = std::string(argv[1]) + "/seed-" + std::to_string(k++);
    scorelab::Trainer trainer("fuzz", model->ptr(), config, path, "", fp);
    at::Generator gen = at::detail::createCPUGenerator(0);
    trainer.fit([&](int64_t, at::Generator& g) { return (*model)(at::normal(0.0, 1.0, {4, 3}, g, torch::kFloat32)).pow(2).mean(); },
                gen);
  }
  return 0;
}
