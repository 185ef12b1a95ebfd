// Sweeps (`study`, issue 14): a grid of `compare` runs, any flag with several values, the seed as one axis.
// Each cell (one setting of every axis) runs once per seed in DIR/cells/<cell>/seed-S; a finished run is
// reused, so an interrupted sweep resumes. The summary (report.md, metrics.json and plots) aggregates every
// row of every cell's metrics.json over the seeds.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace scorelab {

struct SweepAxis {
  std::string flag;                 // without the leading "--"
  std::vector<std::string> values;  // as given
};

// "lr=1e-3,2e-3" (or "--lr=1e-3,2e-3") -> {lr, {1e-3, 2e-3}}. ConfigError naming --axis for a missing '=',
// an empty or repeated value, a flag that is not [a-z0-9-]+, and for the flags the sweep sets itself
// (seed, out) or a flag on two axes.
std::vector<SweepAxis> parse_axes(const std::vector<std::string>& specs);

struct SweepCell {
  std::vector<std::pair<std::string, std::string>> settings;  // (flag, value), one per axis, in axis order
  std::string name;  // "lr=1e-3_hidden=64": unique within the grid, a safe folder name
};

// The Cartesian product, the last axis varying fastest; a grid without axes is one cell named "base".
std::vector<SweepCell> expand_grid(const std::vector<SweepAxis>& axes);

// The seeds of --seeds: "0,1,2" or a range "0-4". ConfigError for anything else or a repeated seed.
std::vector<uint64_t> parse_seeds(const std::string& spec);

// The base flags (everything after `--`) checked against the axes: ConfigError when they set --out, --seed,
// or a flag that an axis sweeps (given twice, the run would be refused by compare).
void check_base_flags(const std::vector<std::string>& base, const std::vector<SweepAxis>& axes);

// The arguments of one run: base, then "--flag value" per setting, then --seed S --out dir.
std::vector<std::string> run_args(const std::vector<std::string>& base, const SweepCell& cell, uint64_t seed,
                                  const std::string& dir);

// The run's record (study-run.json, written before it starts) and whether it finished with these arguments:
// metrics.json exists and was written after the record, and the record's arguments are `args`.
void write_run_record(const std::string& dir, const std::vector<std::string>& args);
bool run_finished(const std::string& dir, const std::vector<std::string>& args);

// A metric of a report row: the first key called `name` in a breadth-first walk of the row; an object in
// its place gives its "all", else "mean" (KID's shapes). nullopt when absent or not a finite number.
std::optional<double> row_metric(const nlohmann::json& row, const std::string& name);

// Metrics reported when --metric is not given, in this order, where a row has them (toy and image rows).
const std::vector<std::string>& default_sweep_metrics();

struct MeanStd {
  double mean = 0.0, std = 0.0, ci95 = 0.0;  // sample std; ci95: half-width of the 95% t-interval of the mean
  int64_t n = 0;
};
// NaN std and ci95 for one value; n = 0 for none.
MeanStd mean_std(const std::vector<double>& values);

// Reads every finished run of every cell (metrics.json of DIR/cells/<cell>/seed-S) and writes DIR/metrics.json,
// DIR/report.md and the plots: with one axis, one line per row against the axis value with +-std error
// bars; with two, one heat map of the mean per row and metric; with more, the table only. Returns metrics.json.
nlohmann::json summarize_sweep(const std::string& dir, const std::vector<SweepAxis>& axes,
                               const std::vector<SweepCell>& cells, const std::vector<uint64_t>& seeds,
                               const std::vector<std::string>& metrics, const std::string& command);

}  // namespace scorelab
