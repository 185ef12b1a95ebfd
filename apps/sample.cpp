// sample: draws N samples from any trained model folder (`train --out DIR`), image or toy, with any sampler
// the model can run, in batches.
//   sample --model-dir DIR --n N [--sampler NAME ...] [--batch-size B] --out OUT
#include <boost/program_options.hpp>
#include <iostream>

#include "core/cli.h"
#include "core/runtime.h"
#include "core/wait_policy.h"
#include "methods/sample.h"
#include "methods/toy_lab.h"

int main(int argc, char** argv) {
  scorelab::choose_openmp_wait_policy(argv);
  return scorelab::run_main("sample", [&] {
    scorelab::SampleConfig config;
    boost::program_options::options_description desc;
    config.add_options(desc);
    boost::program_options::variables_map vm;
    if (!scorelab::parse_cli(
            argc, argv, desc, vm,
            "Usage: sample --model-dir DIR [--stage2-dir DIR2] --n N [--sampler NAME] [--batch-size B] [--resume] [--out OUT]\n"
            "Draws N samples from the model trained in DIR with its default sampler or --sampler (any registered\n"
            "sampler the model offers the inputs for; a wrong one names what is missing and what fits). Image models:\n"
            "OUT/grid.png, OUT/images/NNNNNN.png (one PNG per sample); toy models: OUT/samples.png, OUT/samples.csv;\n"
            "both: OUT/tensors/batch-NNNNN.pt (Python: torch.load(f)['samples']), metrics.json (nfe, acceptance_rate\n"
            "where counted), timings.json (seconds per sample) and config.json. Memory is that of one batch."))
      return 0;
    config.validate();
    const std::string out = config.runtime.out_or_default("sample");
    auto metrics = scorelab::run_sample(config, out, scorelab::command_line(argc, argv));
    std::cout << metrics["n"].get<int64_t>() << " samples (" << metrics.value("seconds_per_sample", 0.0)
              << " s each); results in " << out << "\n";
    return 0;
  });
}
