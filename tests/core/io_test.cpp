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

}  // namespace
}  // namespace scorelab
