// train: trains one image model (PixelCNN++ for ar / smoothed-ar stages 1 and 2, NCSNv2, DDPM U-Net) on
// MNIST, Fashion-MNIST or CIFAR-10 and writes metrics.json, config.json, loss logs, checkpoints and model.pt.
#include <boost/program_options.hpp>
#include <iostream>

#include "core/cli.h"
#include "core/io.h"
#include "core/runtime.h"
#include "core/wait_policy.h"
#include "dist/dist.h"
#include "methods/image_train.h"
#include "data/source.h"
#include "methods/toy_lab.h"
#include "methods/toy_train.h"

int main(int argc, char** argv) {
  scorelab::choose_openmp_wait_policy(argv);
  return scorelab::run_main("train", [&] {
    scorelab::ImageTrainConfig config;
    scorelab::DistConfig dist;
    boost::program_options::options_description desc;
    config.add_options(desc);
    dist.add_options(desc);
    boost::program_options::variables_map vm;
    if (!scorelab::parse_cli(argc, argv, desc, vm,
                             "Usage: train --method smoothed-ar|ar|ncsn|ddpm [--stage 1|2] --dataset mnist|fashion-mnist|cifar10|mog|...\n"
                             "             [--preset tiny|small|paper] [--iters N] [--out DIR] [--resume] [--describe]\n"
                             "Trains one image model; DIR gets metrics.json, timings.json (wall clock), config.json, train_loss.csv, test_loss.csv,\n"
                             "losses.png, checkpoint.ckpt and model.pt (Python: torch.load('model.pt') gives a dict of tensors)."))
      return 0;
    // Under torchrun / scripts/launch: join the process group; only rank 0 writes into --out.
    scorelab::dist::init(dist, scorelab::resolve_device(config.runtime.device).str());
    const std::string out = scorelab::dist::output_dir(config.runtime.out_or_default("train-" + config.method + "-" + config.dataset));
    auto summary = [&](const nlohmann::json& metrics) {
      if (scorelab::dist::rank() > 0) return 0;
      std::cout << "test loss " << metrics["test_loss_initial"].get<double>() << " -> "
              << metrics["test_loss_final"].get<double>() << " " << metrics["loss_unit"].get<std::string>()
              << "; results in " << out << "\n";
      return 0;
    };
    const scorelab::DataSource source = scorelab::data_source(config.dataset);
    if (source.mixture()) {
      if (source.from_file)
        throw scorelab::ConfigError("flag --dataset: train does not read --mixture files; train and compare a mixture from a "
                                    "file with `compare --dataset " + config.dataset + " --mixture FILE`");
      return summary(scorelab::run_toy_train(config, vm, out, scorelab::command_line(argc, argv)));
    }
    config.apply_preset(vm);
    config.validate();
    if (config.describe) {
      std::cout << scorelab::describe_image_model(config).dump() << "\n";
      return 0;
    }
    return summary(scorelab::run_image_train(config, out, scorelab::command_line(argc, argv)));
  });
}
