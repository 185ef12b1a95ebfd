// libFuzzer target: parse_cli with --config FILE holding arbitrary bytes, against options of every kind
// the apps declare (int64, double, string, bool switch, uint64, repeated string). Expected outcome: parsed
// values or a ConfigError; any other exception, crash or leak is a bug.
#include <boost/program_options.hpp>
#include <torch/torch.h>

#include "core/cli.h"
#include "core/error.h"
#include "fuzz_common.h"

namespace po = boost::program_options;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = scorelab::fuzz::input_path(".cfg");
  scorelab::fuzz::write_input(path, data, size);
  int64_t iters = 0;
  double sigma = 0;
  std::string method;
  bool quiet = false;
  uint64_t seed = 0;
  std::vector<std::string> methods;
  po::options_description desc;
  desc.add_options()("iters", po::value(&iters)->default_value(10), "")("sigma", po::value(&sigma), "")(
      "method", po::value(&method), "")("quiet", po::bool_switch(&quiet), "")("seed", po::value(&seed), "")(
      "extra", po::value(&methods)->multitoken(), "");
  const char* argv[] = {"fuzz", "--config", path.c_str(), "--iters", "3"};
  po::variables_map vm;
  try {
    if (!scorelab::parse_cli(5, argv, desc, vm, "usage")) __builtin_trap();
    if (iters != 3) __builtin_trap();  // the command line wins over the file
  } catch (const scorelab::ConfigError&) {
  }
  return 0;
}
