// Atomic writes: a failed write (here a file-size limit, which fails like a full disk) leaves the previous
// file intact and no temporary file behind.
#include "core/io.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace fs = std::filesystem;

namespace scorelab {
namespace {

fs::path fresh_dir(const std::string& name) {
  auto d = fs::path(::testing::TempDir()) / ("io_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

TEST(AtomicWrite, ReplacesTheFileAndLeavesNoTemporary) {
  const auto dir = fresh_dir("replace");
  const auto path = (dir / "a.json").string();
  atomic_write_text(path, "one");
  atomic_write_text(path, "two");
  EXPECT_EQ(read_file(path), "two");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST(AtomicWrite, DiskFullKeepsThePreviousFile) {
  const auto dir = fresh_dir("full");
  const auto path = (dir / "metrics.json").string();
  atomic_write_text(path, "previous");
  struct rlimit old {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string msg;
  try {
    atomic_write_text(path, std::string(100000, 'x'));
  } catch (const DataError& e) {
    msg = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(msg.find("cannot write '" + path + "': write failed (disk full?)"), std::string::npos) << msg;
  EXPECT_EQ(read_file(path), "previous");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST(AtomicWrite, MissingFolderAndUnwritableOutAreNamed) {
  try {
    atomic_write_text("/nonexistent/dir/x.json", "x");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/x.json"), std::string::npos);
  }
  try {
    ensure_writable_dir("/proc/scorelab-test", "--out");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("flag --out: cannot create folder '/proc/scorelab-test'"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(read_json("/nonexistent.json"), DataError);
}

// metrics.json holds what a seed fixes, timings.json the wall-clock keys at the same place; reading both
// gives back the object written, at any depth, in objects and in arrays.
TEST(RunMetrics, WallClockKeysGoToTimingsAndComeBack) {
  const auto dir = fresh_dir("run_metrics");
  const nlohmann::json all = {
      {"dataset", "mog"},
      {"train_s", 1.5},
      {"methods", {{"ar", {{"mmd2", 0.1}, {"sample_s", 0.2}, {"train_s", 3.0}}}, {"ncsn", {{"seconds", 4.0}}}}},
      {"rows", {{{"fd", 1.0}, {"sample_s_per_image", 0.5}}, {{"fd", 2.0}}, 7}},
      {"empty", nlohmann::json::object()}};
  write_run_metrics(dir.string(), all);
  const nlohmann::json metrics = read_json((dir / "metrics.json").string());
  const nlohmann::json timings = read_json((dir / "timings.json").string());
  EXPECT_EQ(metrics, (nlohmann::json{{"dataset", "mog"},
                                     {"methods", {{"ar", {{"mmd2", 0.1}}}, {"ncsn", nlohmann::json::object()}}},
                                     {"rows", {{{"fd", 1.0}}, {{"fd", 2.0}}, 7}},
                                     {"empty", nlohmann::json::object()}}));
  EXPECT_EQ(timings, (nlohmann::json{{"train_s", 1.5},
                                     {"methods", {{"ar", {{"sample_s", 0.2}, {"train_s", 3.0}}}, {"ncsn", {{"seconds", 4.0}}}}},
                                     {"rows", {{{"sample_s_per_image", 0.5}}, nlohmann::json::object(), nlohmann::json::object()}}}));
  EXPECT_EQ(read_run_metrics(dir.string()), all);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 2);
}

// A folder written before the split (timings inside metrics.json, no timings.json) still reads whole.
TEST(RunMetrics, ReadsAnOldFolderWithoutTimings) {
  const auto dir = fresh_dir("run_metrics_old");
  const nlohmann::json old = {{"train_s", 2.0}, {"params", 10}};
  write_json((dir / "metrics.json").string(), old);
  EXPECT_EQ(read_run_metrics(dir.string()), old);
  EXPECT_TRUE(is_wall_clock_key("images_per_s"));
  EXPECT_FALSE(is_wall_clock_key("params"));
}

}  // namespace
}  // namespace scorelab
