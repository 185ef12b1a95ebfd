// parse_cli's config-file errors and run_main's exit statuses (the one line every app prints).
#include "core/cli.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace po = boost::program_options;

namespace scorelab {
namespace {

std::string write_config(const std::string& name, const std::string& text) {
  const auto p = (std::filesystem::path(::testing::TempDir()) / name).string();
  std::ofstream(p) << text;
  return p;
}

struct Flags {
  int64_t iters = 5;
  double sigma = 0.5;
  bool quiet = false;
  po::options_description desc;
  po::variables_map vm;
  Flags() {
    desc.add_options()("iters", po::value(&iters)->default_value(iters), "")("sigma", po::value(&sigma), "")(
        "quiet", po::bool_switch(&quiet), "");
  }
  void parse(std::vector<const char*> argv) {
    argv.insert(argv.begin(), "app");
    parse_cli(static_cast<int>(argv.size()), argv.data(), desc, vm, "usage");
  }
};

std::string config_error(const std::vector<const char*>& argv) {
  Flags f;
  try {
    f.parse(argv);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError";
  return "";
}

TEST(ParseCli, ConfigFileValuesAndCommandLinePrecedence) {
  const auto path = write_config("good.cfg", "# comment\niters = 7\nsigma = 0.25\nquiet = true\n");
  Flags f;
  f.parse({"--config", path.c_str(), "--iters", "9"});
  EXPECT_EQ(f.iters, 9);
  EXPECT_DOUBLE_EQ(f.sigma, 0.25);
  EXPECT_TRUE(f.quiet);
}

TEST(ParseCli, ConfigFileWithUnknownKeyOrBadTypeNamesFileAndKey) {
  const auto unknown = write_config("unknown.cfg", "iters = 7\nsigmaa = 1\n");
  std::string msg = config_error({"--config", unknown.c_str()});
  EXPECT_NE(msg.find("config file '" + unknown + "'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sigmaa"), std::string::npos) << msg;
  EXPECT_NE(msg.find("fix that line"), std::string::npos) << msg;
  const auto bad_type = write_config("badtype.cfg", "iters = many\n");
  msg = config_error({"--config", bad_type.c_str()});
  EXPECT_NE(msg.find("config file '" + bad_type + "'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("many"), std::string::npos) << msg;
  EXPECT_NE(msg.find("iters"), std::string::npos) << msg;
  const auto no_value = write_config("novalue.cfg", "[section\n");
  msg = config_error({"--config", no_value.c_str()});
  EXPECT_NE(msg.find("config file '" + no_value + "'"), std::string::npos) << msg;
  msg = config_error({"--config", "/nonexistent/x.cfg"});
  EXPECT_NE(msg.find("flag --config: cannot open '/nonexistent/x.cfg'"), std::string::npos) << msg;
  msg = config_error({"--iters", "1.5"});
  EXPECT_NE(msg.find("1.5"), std::string::npos) << msg;
}

// Regressions (fuzz/fuzz_config, fuzz/corpus/config/regression-placeholder-hang*): Boost's message builder
// looped forever on text holding one of its own placeholders.
TEST(ParseCli, BoostPlaceholdersAreRefusedInsteadOfHanging) {
  const auto hang = write_config("hang.cfg", "iters %original_token% = mqny\nsigma =e999\n");
  std::string msg = config_error({"--config", hang.c_str()});
  EXPECT_NE(msg.find("config file '" + hang + "' contains '%original_token%'"), std::string::npos) << msg;
  const auto hang2 = write_config("hang2.cfg", " %0orig%invalid_line%n");
  msg = config_error({"--config", hang2.c_str()});
  EXPECT_NE(msg.find("contains '%invalid_line%'"), std::string::npos) << msg;
  Flags ok;  // a lone % or %1% is fine
  const auto percent = write_config("percent.cfg", "iters = 3\n# 50% of %1%\n");
  ok.parse({"--config", percent.c_str()});
  EXPECT_EQ(ok.iters, 3);
  msg = config_error({"--iters=%value%"});
  EXPECT_NE(msg.find("command-line argument 1 contains '%value%'"), std::string::npos) << msg;
  msg = config_error({"--config", ::testing::TempDir().c_str()});
  EXPECT_NE(msg.find("flag --config: cannot open"), std::string::npos) << msg;
}

TEST(RunMain, MapsErrorClassesToStatusesAndOneLine) {
  auto run = [](const std::function<int()>& body, std::string& err) {
    testing::internal::CaptureStderr();
    const int status = run_main("app", body);
    err = testing::internal::GetCapturedStderr();
    return status;
  };
  std::string err;
  EXPECT_EQ(run([] { return 0; }, err), 0);
  EXPECT_EQ(err, "");
  EXPECT_EQ(run([]() -> int { throw ConfigError("flag --x: got '1'; expected 2"); }, err), 2);
  EXPECT_EQ(err, "app: error: flag --x: got '1'; expected 2\n");
  EXPECT_EQ(run([]() -> int { throw DataError("file 'f': truncated"); }, err), 3);
  EXPECT_EQ(err, "app: error: file 'f': truncated\n");
  EXPECT_EQ(run([]() -> int { throw TrainingInterrupted("m: SIGTERM at iteration 3", SIGTERM); }, err), 143);
  EXPECT_EQ(err, "app: stopped: m: SIGTERM at iteration 3\n");
  EXPECT_EQ(run([]() -> int { throw TrainingInterrupted("m: SIGINT", SIGINT); }, err), 130);
  EXPECT_EQ(run([]() -> int { throw NumericalError("m: non-finite loss at iteration 4"); }, err), 1);
  EXPECT_EQ(err, "app: error: m: non-finite loss at iteration 4\n");
  EXPECT_EQ(run([]() -> int { TORCH_CHECK(false, "shape mismatch"); }, err), 1);
  EXPECT_NE(err.find("shape mismatch"), std::string::npos);
}

}  // namespace
}  // namespace scorelab
