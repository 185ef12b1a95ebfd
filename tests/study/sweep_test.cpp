// The sweep runner's pieces (issue 14): grid expansion, seeds, base-flag checks, resume records, metric lookup,
// the seed aggregate and the summary of a fake sweep folder.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "core/error.h"
#include "core/io.h"
#include "study/sweep.h"

namespace fs = std::filesystem;

namespace scorelab {
namespace {

TEST(Sweep, AxesExpandToTheCartesianProductLastAxisFastest) {
  const auto axes = parse_axes({"lr=1e-3,2e-3", "--hidden=64,128,256"});
  ASSERT_EQ(axes.size(), 2u);
  EXPECT_EQ(axes[1].flag, "hidden");
  const auto cells = expand_grid(axes);
  ASSERT_EQ(cells.size(), 6u);
  EXPECT_EQ(cells[0].name, "lr=1e-3_hidden=64");
  EXPECT_EQ(cells[1].name, "lr=1e-3_hidden=128");
  EXPECT_EQ(cells[5].name, "lr=2e-3_hidden=256");
  EXPECT_EQ(cells[4].settings[0].second, "2e-3");
  EXPECT_EQ(cells[4].settings[1].second, "128");
  EXPECT_EQ(expand_grid({}).size(), 1u);
  EXPECT_EQ(expand_grid({})[0].name, "base");
  // Values that differ only in characters unsafe for a folder get distinct names.
  const auto odd = expand_grid(parse_axes({"mixture=a/b,a:b"}));
  EXPECT_EQ(odd[0].name, "mixture=a~b");
  EXPECT_NE(odd[0].name, odd[1].name);
}

TEST(Sweep, BadAxesAreRefused) {
  for (const char* bad : {"lr", "lr=", "lr=1,,2", "lr=1,1", "LR=1,2", "seed=1,2", "out=a,b", "=1,2"})
    EXPECT_THROW(parse_axes({bad}), ConfigError) << bad;
  EXPECT_THROW(parse_axes({"lr=1,2", "lr=3"}), ConfigError);
}

TEST(Sweep, SeedsAreAListOrARange) {
  EXPECT_EQ(parse_seeds("0,1,2"), (std::vector<uint64_t>{0, 1, 2}));
  EXPECT_EQ(parse_seeds("3-5"), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(parse_seeds("7"), (std::vector<uint64_t>{7}));
  for (const char* bad : {"", "a", "1,1", "5-3", "-1", "1,", "1.5"}) EXPECT_THROW(parse_seeds(bad), ConfigError) << bad;
}

TEST(Sweep, BaseFlagsMayNotSetWhatTheSweepSets) {
  const auto axes = parse_axes({"lr=1,2"});
  EXPECT_NO_THROW(check_base_flags({"--method", "ar", "--dataset=mog"}, axes));
  EXPECT_THROW(check_base_flags({"--out", "x"}, axes), ConfigError);
  EXPECT_THROW(check_base_flags({"--seed=3"}, axes), ConfigError);
  EXPECT_THROW(check_base_flags({"--lr", "0.1"}, axes), ConfigError);
  EXPECT_THROW(check_base_flags({"--seeds", "2"}, axes), ConfigError);
  const auto cell = expand_grid(axes)[1];
  EXPECT_EQ(run_args({"--method", "ar"}, cell, 4, "D"),
            (std::vector<std::string>{"--method", "ar", "--lr", "2", "--seed", "4", "--out", "D"}));
}

TEST(Sweep, ARunIsFinishedOnlyWithItsArgumentsAndMetricsWrittenAfterTheRecord) {
  const fs::path dir = fs::temp_directory_path() / ("scorelab-sweep-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::vector<std::string> args{"--lr", "1"};
  EXPECT_FALSE(run_finished(dir.string(), args));
  write_run_record(dir.string(), args);
  EXPECT_FALSE(run_finished(dir.string(), args));  // started, never finished
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  write_json((dir / "metrics.json").string(), {{"methods", nlohmann::json::object()}});
  EXPECT_TRUE(run_finished(dir.string(), args));
  EXPECT_FALSE(run_finished(dir.string(), {"--lr", "2"}));  // other settings: run again
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  write_run_record(dir.string(), args);  // a rerun started after the old metrics
  EXPECT_FALSE(run_finished(dir.string(), args));
  fs::remove_all(dir);
}

TEST(Sweep, RowMetricsAreFoundAtAnyDepth) {
  const nlohmann::json row = {{"mmd2", 0.5}, {"quality", {{"fd_classifier", 12.0}, {"kid_classifier", {{"all", 0.25}, {"mean", 0.3}}}}},
                              {"other", {{"x", {{"y", {{"deep", 7}}}}}}}, {"nan", nullptr}, {"kid", {{"mean", 2.0}}}};
  EXPECT_EQ(*row_metric(row, "mmd2"), 0.5);
  EXPECT_EQ(*row_metric(row, "fd_classifier"), 12.0);
  EXPECT_EQ(*row_metric(row, "kid_classifier"), 0.25);  // KID: the all-rows value
  EXPECT_EQ(*row_metric(row, "kid"), 2.0);
  EXPECT_EQ(*row_metric(row, "deep"), 7.0);
  EXPECT_FALSE(row_metric(row, "nan").has_value());
  EXPECT_FALSE(row_metric(row, "absent").has_value());
}

TEST(Sweep, MeanStdAndTheTInterval) {
  const MeanStd r = mean_std({1.0, 2.0, 3.0});
  EXPECT_DOUBLE_EQ(r.mean, 2.0);
  EXPECT_DOUBLE_EQ(r.std, 1.0);
  EXPECT_NEAR(r.ci95, 4.303 / std::sqrt(3.0), 1e-12);  // t_{0.975, 2}
  EXPECT_TRUE(std::isnan(mean_std({4.0}).std));
  EXPECT_EQ(mean_std({}).n, 0);
}

// A fake sweep folder: 2 values x 2 seeds, one run unfinished; the summary aggregates the finished ones.
TEST(Sweep, SummaryAggregatesTheFinishedRunsOverSeeds) {
  const fs::path dir = fs::temp_directory_path() / ("scorelab-sweep-sum-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const auto axes = parse_axes({"lr=1,2"});
  const auto cells = expand_grid(axes);
  const std::vector<uint64_t> seeds{0, 1};
  auto put = [&](const std::string& cell, uint64_t s, double mmd, bool finish) {
    const std::string run = (dir / "cells" / cell / ("seed-" + std::to_string(s))).string();
    write_run_record(run, {"x"});
    std::this_thread::sleep_for(std::chrono::milliseconds(15));
    if (finish) write_json(run + "/metrics.json", {{"methods", {{"ar", {{"mmd2", mmd}, {"mode_tv", 0.1}}}}}});
  };
  put("lr=1", 0, 1.0, true);
  put("lr=1", 1, 3.0, true);
  put("lr=2", 0, 5.0, true);
  put("lr=2", 1, 99.0, false);  // still running: left out
  const nlohmann::json m = summarize_sweep(dir.string(), axes, cells, seeds, {"mmd2"}, "study test");
  EXPECT_EQ(m["runs_finished"], 3);
  EXPECT_EQ(m["runs_total"], 4);
  const auto& a = m["cells"][0]["rows"]["ar"]["mmd2"];
  EXPECT_DOUBLE_EQ(a["mean"].get<double>(), 2.0);
  EXPECT_NEAR(a["std"].get<double>(), std::sqrt(2.0), 1e-12);
  EXPECT_EQ(a["n"], 2);
  const auto& b = m["cells"][1]["rows"]["ar"]["mmd2"];
  EXPECT_DOUBLE_EQ(b["mean"].get<double>(), 5.0);
  EXPECT_EQ(b["n"], 1);
  EXPECT_TRUE(fs::exists(dir / "report.md"));
  EXPECT_TRUE(fs::exists(dir / "metrics.json"));
  EXPECT_THROW(summarize_sweep(dir.string(), axes, cells, seeds, {"no_such_metric"}, "study test"), DataError);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace scorelab
