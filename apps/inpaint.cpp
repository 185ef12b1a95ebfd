// inpaint: completes masked test images with a trained image model (ncsn, ddpm, ar, smoothed-ar).
//   inpaint --model-dir DIR [--stage2-dir DIR2] --mask left-half --images 8 --samples 2 --out OUT
#include <boost/program_options.hpp>
#include <iostream>

#include "core/cli.h"
#include "core/runtime.h"
#include "core/wait_policy.h"
#include "core/io.h"
#include "methods/inpaint.h"
#include "methods/toy_lab.h"

int main(int argc, char** argv) {
  scorelab::choose_openmp_wait_policy(argv);
  return scorelab::run_main("inpaint", [&] {
    scorelab::InpaintConfig config;
    boost::program_options::options_description desc;
    config.add_options(desc);
    boost::program_options::variables_map vm;
    if (!scorelab::parse_cli(
            argc, argv, desc, vm,
            "Usage: inpaint --model-dir DIR [--stage2-dir DIR2] [--mask left-half|right-half|bottom-half|centre-square|\n"
            "               random|file] [--mask-file PNG] [--images N] [--samples K] [--out OUT]\n"
            "Completes the unknown region of the first N test images K times with the model trained in DIR\n"
            "(`train --out DIR`): ncsn by NCSN Algorithm 2, ddpm/ddim by replacing the known pixels with\n"
            "q(x_t | x0) at every step, ar / smoothed-ar by raster-order sampling that copies the known pixels\n"
            "(only known pixels before a hole in raster order can inform it: pixels below or to the right of\n"
            "an unknown pixel cannot), smoothed-ar then reverses the smoothing (--denoise single-step, or\n"
            "conditional-ar with the stage-2 model in DIR2). OUT gets inpaint.png (rows: masked input,\n"
            "completions, original), mask.png, metrics.json (mean squared error on the known and the unknown\n"
            "region), timings.json (wall clock) and config.json."))
      return 0;
    config.validate();
    const std::string out = config.runtime.out_or_default("inpaint");
    auto metrics = scorelab::run_inpaint(config, out, scorelab::command_line(argc, argv));
    std::cout << "mse known " << metrics["mse_known"].dump() << ", unknown " << metrics["mse_unknown"].dump()
              << "; results in " << out << "\n";
    return 0;
  });
}
