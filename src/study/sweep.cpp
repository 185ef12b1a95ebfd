#include "study/sweep.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <deque>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/io.h"
#include "eval/markdown.h"
#include "eval/plot.h"

namespace fs = std::filesystem;

namespace scorelab {

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string part;
  std::stringstream ss(s);
  while (std::getline(ss, part, sep)) out.push_back(part);
  if (!s.empty() && s.back() == sep) out.emplace_back();
  return out;
}

bool valid_flag(const std::string& f) {
  if (f.empty() || f.front() == '-') return false;
  return std::all_of(f.begin(), f.end(), [](char c) { return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-'; });
}

// A value as a folder-name part: [A-Za-z0-9.+-] kept, anything else '~'.
std::string safe(const std::string& v) {
  std::string out;
  for (char c : v) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '+' || c == '-') ? c : '~';
  return out.empty() ? std::string("~") : out;
}

// The flag a base argument sets ("--lr" or "--lr=1e-3" -> "lr"), or "" for a value.
std::string flag_of(const std::string& arg) {
  if (arg.rfind("--", 0) != 0 || arg.size() == 2) return "";
  const auto eq = arg.find('=');
  return arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
}

double t975(int64_t df) {
  static const double t[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                             2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                             2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  return df >= 1 && df <= 30 ? t[df - 1] : 1.960;
}

bool parse_number(const std::string& s, double& v) {
  try {
    size_t used = 0;
    v = std::stod(s, &used);
    return used == s.size() && std::isfinite(v);
  } catch (const std::exception&) {
    return false;
  }
}

bool run_done(const std::string& dir) {
  const fs::path m = fs::path(dir) / "metrics.json", r = fs::path(dir) / "study-run.json";
  std::error_code ec;
  return fs::exists(m, ec) && fs::exists(r, ec) && fs::last_write_time(m) >= fs::last_write_time(r);
}

std::string slug(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') out += c;
    else if (!out.empty() && out.back() != '-') out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? std::string("row") : out;
}

}  // namespace

std::vector<SweepAxis> parse_axes(const std::vector<std::string>& specs) {
  const std::string want = "FLAG=V1,V2,... (a compare flag without spaces and its values)";
  std::vector<SweepAxis> axes;
  std::set<std::string> seen;
  for (std::string spec : specs) {
    const std::string given = spec;
    if (spec.rfind("--", 0) == 0) spec = spec.substr(2);
    const auto eq = spec.find('=');
    if (eq == std::string::npos) throw ConfigError(flag_error("--axis", given, want));
    SweepAxis a{spec.substr(0, eq), split(spec.substr(eq + 1), ',')};
    if (!valid_flag(a.flag)) throw ConfigError(flag_error("--axis", given, "a flag name of lower-case letters, digits and '-' before '='"));
    if (a.flag == "seed" || a.flag == "seeds" || a.flag == "out")
      throw ConfigError(flag_error("--axis", given, "an axis other than --" + a.flag + " (the sweep sets it: use --seeds for the seed axis)"));
    if (!seen.insert(a.flag).second) throw ConfigError(flag_error("--axis", given, "each flag on one axis only"));
    std::set<std::string> vs;
    for (const auto& v : a.values) {
      if (v.empty()) throw ConfigError(flag_error("--axis", given, "no empty value (" + want + ")"));
      if (!vs.insert(v).second) throw ConfigError(flag_error("--axis", given, "each value once (repeated: '" + v + "')"));
    }
    if (a.values.empty()) throw ConfigError(flag_error("--axis", given, want));
    axes.push_back(std::move(a));
  }
  return axes;
}

std::vector<SweepCell> expand_grid(const std::vector<SweepAxis>& axes) {
  std::vector<SweepCell> cells{SweepCell{}};
  for (const auto& a : axes) {
    std::vector<SweepCell> next;
    for (const auto& c : cells)
      for (const auto& v : a.values) {
        SweepCell n = c;
        n.settings.emplace_back(a.flag, v);
        next.push_back(std::move(n));
      }
    cells = std::move(next);
  }
  std::set<std::string> names;
  for (auto& c : cells) {
    std::string name;
    for (const auto& [f, v] : c.settings) name += (name.empty() ? "" : "_") + f + "=" + safe(v);
    if (name.empty()) name = "base";
    const std::string stem = name;
    for (int k = 2; !names.insert(name).second; ++k) name = stem + "~" + std::to_string(k);  // values equal once made safe
    c.name = name;
  }
  return cells;
}

std::vector<uint64_t> parse_seeds(const std::string& spec) {
  const std::string want = "a list of seeds (0,1,2) or a range (0-4)";
  std::vector<uint64_t> out;
  auto number = [&](const std::string& s) {
    if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
      throw ConfigError(flag_error("--seeds", spec, want));
    try {
      return static_cast<uint64_t>(std::stoull(s));
    } catch (const std::exception&) {
      throw ConfigError(flag_error("--seeds", spec, want));
    }
  };
  const auto dash = spec.find('-');
  if (dash != std::string::npos && spec.find(',') == std::string::npos) {
    const uint64_t a = number(spec.substr(0, dash)), b = number(spec.substr(dash + 1));
    if (b < a || b - a > 10000) throw ConfigError(flag_error("--seeds", spec, want + " with first <= last"));
    for (uint64_t s = a; s <= b; ++s) out.push_back(s);
    return out;
  }
  std::set<uint64_t> seen;
  for (const auto& part : split(spec, ',')) {
    const uint64_t s = number(part);
    if (!seen.insert(s).second) throw ConfigError(flag_error("--seeds", spec, "each seed once"));
    out.push_back(s);
  }
  if (out.empty()) throw ConfigError(flag_error("--seeds", spec, want));
  return out;
}

void check_base_flags(const std::vector<std::string>& base, const std::vector<SweepAxis>& axes) {
  for (const auto& arg : base) {
    const std::string f = flag_of(arg);
    if (f.empty()) continue;
    if (f == "out" || f == "seed")
      throw ConfigError("the flags after `--` set --" + f + ", which the sweep sets for every run (" +
                        (f == "out" ? "give study --out DIR" : "give study --seeds LIST") + ")");
    if (f == "seeds" || f == "budget-iters")
      throw ConfigError("the flags after `--` set --" + f + "; a sweep runs one comparison per cell and seed "
                        "(use study --seeds, and sweep the budget as an axis: --axis iters=...)");
    for (const auto& a : axes)
      if (a.flag == f)
        throw ConfigError("--" + f + " is both an --axis and a flag after `--`; drop one of them");
  }
}

std::vector<std::string> run_args(const std::vector<std::string>& base, const SweepCell& cell, uint64_t seed,
                                  const std::string& dir) {
  std::vector<std::string> args = base;
  for (const auto& [f, v] : cell.settings) {
    args.push_back("--" + f);
    args.push_back(v);
  }
  args.insert(args.end(), {"--seed", std::to_string(seed), "--out", dir});
  return args;
}

void write_run_record(const std::string& dir, const std::vector<std::string>& args) {
  fs::create_directories(dir);
  write_json((fs::path(dir) / "study-run.json").string(), {{"args", args}});
}

bool run_finished(const std::string& dir, const std::vector<std::string>& args) {
  if (!run_done(dir)) return false;
  try {
    const nlohmann::json r = read_json((fs::path(dir) / "study-run.json").string());
    return r.contains("args") && r["args"] == nlohmann::json(args);
  } catch (const std::exception&) {
    return false;  // an unreadable record: run again
  }
}

std::optional<double> row_metric(const nlohmann::json& row, const std::string& name) {
  std::deque<const nlohmann::json*> queue{&row};
  while (!queue.empty()) {
    const nlohmann::json* j = queue.front();
    queue.pop_front();
    if (!j->is_object()) continue;
    auto it = j->find(name);
    if (it != j->end()) {
      const nlohmann::json* v = &*it;
      if (v->is_object()) v = v->contains("all") ? &(*v)["all"] : v->contains("mean") ? &(*v)["mean"] : nullptr;
      if (v && v->is_number() && std::isfinite(v->get<double>())) return v->get<double>();
      return std::nullopt;
    }
    for (const auto& [k, child] : j->items())
      if (child.is_object()) queue.push_back(&child);
  }
  return std::nullopt;
}

const std::vector<std::string>& default_sweep_metrics() {
  static const std::vector<std::string> m{"mmd2", "mode_tv", "off_mode", "test_nll", "fd_classifier",
                                          "kid_classifier", "bits_per_dim", "two_stage_bound_bits_per_dim"};
  return m;
}

MeanStd mean_std(const std::vector<double>& v) {
  MeanStd r;
  r.n = static_cast<int64_t>(v.size());
  if (v.empty()) {
    r.mean = r.std = r.ci95 = std::nan("");
    return r;
  }
  double s = 0.0;
  for (double x : v) s += x;
  r.mean = s / static_cast<double>(v.size());
  if (v.size() < 2) {
    r.std = r.ci95 = std::nan("");
    return r;
  }
  double ss = 0.0;
  for (double x : v) ss += (x - r.mean) * (x - r.mean);
  r.std = std::sqrt(ss / static_cast<double>(v.size() - 1));
  r.ci95 = t975(r.n - 1) * r.std / std::sqrt(static_cast<double>(v.size()));
  return r;
}

nlohmann::json summarize_sweep(const std::string& dir, const std::vector<SweepAxis>& axes,
                               const std::vector<SweepCell>& cells, const std::vector<uint64_t>& seeds,
                               const std::vector<std::string>& metric_list, const std::string& command) {
  const std::vector<std::string>& wanted = metric_list.empty() ? default_sweep_metrics() : metric_list;
  std::vector<std::string> rows;                 // report rows in order of appearance
  std::set<std::string> found;                   // metrics some row has
  // values[cell][row][metric] over the finished seeds
  std::vector<std::map<std::string, std::map<std::string, std::vector<double>>>> values(cells.size());
  std::vector<int64_t> finished(cells.size(), 0);
  for (size_t c = 0; c < cells.size(); ++c)
    for (uint64_t s : seeds) {
      const std::string run = (fs::path(dir) / "cells" / cells[c].name / ("seed-" + std::to_string(s))).string();
      if (!run_done(run)) continue;
      const nlohmann::json m = read_json((fs::path(run) / "metrics.json").string());
      if (!m.contains("methods") || !m["methods"].is_object())
        throw DataError("'" + run + "/metrics.json' has no \"methods\" object; is it a compare report?");
      ++finished[c];
      for (const auto& [name, row] : m["methods"].items()) {
        if (std::find(rows.begin(), rows.end(), name) == rows.end()) rows.push_back(name);
        for (const auto& metric : wanted)
          if (auto v = row_metric(row, metric)) {
            values[c][name][metric].push_back(*v);
            found.insert(metric);
          }
      }
    }
  std::vector<std::string> metrics;
  for (const auto& m : wanted)
    if (found.count(m)) metrics.push_back(m);
  if (!metric_list.empty())
    for (const auto& m : metric_list)
      if (!found.count(m) && std::any_of(finished.begin(), finished.end(), [](int64_t n) { return n > 0; }))
        throw DataError("no row of the finished runs has the metric '" + m + "' (--metric); rows have e.g. " +
                        [&] {
                          std::string s;
                          for (const auto& d : default_sweep_metrics()) s += (s.empty() ? "" : ", ") + d;
                          return s;
                        }());

  auto ms_json = [](const MeanStd& r, const std::vector<double>& v) {
    auto num = [](double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); };
    return nlohmann::json{{"mean", num(r.mean)}, {"std", num(r.std)}, {"ci95", num(r.ci95)}, {"n", r.n}, {"values", v}};
  };
  nlohmann::json out_cells = nlohmann::json::array();
  std::vector<std::vector<std::string>> table;
  int64_t done = 0;
  for (size_t c = 0; c < cells.size(); ++c) {
    done += finished[c];
    nlohmann::json cj = {{"name", cells[c].name}, {"settings", nlohmann::json::object()}, {"finished_seeds", finished[c]},
                         {"rows", nlohmann::json::object()}};
    for (const auto& [f, v] : cells[c].settings) cj["settings"][f] = v;
    for (const auto& row : rows) {
      if (!values[c].count(row)) continue;
      std::vector<std::string> line;
      for (const auto& [f, v] : cells[c].settings) line.push_back(v);
      line.push_back(row);
      for (const auto& m : metrics) {
        const auto& v = values[c][row][m];
        const MeanStd r = mean_std(v);
        if (!v.empty()) cj["rows"][row][m] = ms_json(r, v);
        line.push_back(v.empty() ? "-"
                                 : fmt_number(r.mean) + (r.n > 1 ? " +- " + fmt_number(r.std, 2) : std::string()) +
                                       " (" + std::to_string(r.n) + ")");
      }
      table.push_back(std::move(line));
    }
    out_cells.push_back(std::move(cj));
  }
  nlohmann::json axes_json = nlohmann::json::array();
  for (const auto& a : axes) axes_json.push_back({{"flag", a.flag}, {"values", a.values}});
  nlohmann::json metrics_json = {{"command", command}, {"axes", axes_json}, {"seeds", seeds}, {"metrics", metrics},
                                 {"rows", rows}, {"runs_finished", done},
                                 {"runs_total", static_cast<int64_t>(cells.size() * seeds.size())}, {"cells", out_cells}};
  write_json((fs::path(dir) / "metrics.json").string(), metrics_json);

  // Figures.
  std::vector<std::string> figures;
  std::string figure_note;
  if (!gnuplot_available()) {
    figure_note = "No figures: gnuplot with the pngcairo terminal is not installed (scripts/setup installs it).\n\n";
  } else if (axes.size() == 1) {
    const SweepAxis& a = axes[0];
    std::vector<double> xs(a.values.size());
    bool numeric = true;
    for (size_t i = 0; i < a.values.size(); ++i) numeric = numeric && parse_number(a.values[i], xs[i]);
    const bool logx = numeric && std::all_of(xs.begin(), xs.end(), [](double x) { return x > 0; }) &&
                      *std::max_element(xs.begin(), xs.end()) >= 20 * *std::min_element(xs.begin(), xs.end());
    for (const auto& m : metrics) {
      std::vector<std::pair<std::string, std::vector<ErrorPoint>>> series;
      for (const auto& row : rows) {
        std::vector<ErrorPoint> pts;
        for (size_t c = 0; c < cells.size(); ++c) {
          if (!values[c].count(row) || !values[c][row].count(m)) continue;
          const MeanStd r = mean_std(values[c][row][m]);
          pts.push_back({numeric ? xs[c] : static_cast<double>(c), r.mean, r.std});
        }
        series.emplace_back(row, pts);
      }
      const std::string png = slug(m) + ".png";
      plot_errorbars((fs::path(dir) / png).string(), series, numeric ? std::vector<std::string>{} : a.values, "--" + a.flag,
                     m + " (mean +- std over seeds)", m + " against --" + a.flag, logx);
      figures.push_back(png);
    }
  } else if (axes.size() == 2) {
    const size_t nx = axes[1].values.size();
    for (const auto& row : rows)
      for (const auto& m : metrics) {
        std::vector<std::vector<double>> grid(axes[0].values.size(), std::vector<double>(nx, std::nan("")));
        bool any = false;
        for (size_t c = 0; c < cells.size(); ++c)
          if (values[c].count(row) && values[c][row].count(m)) {
            grid[c / nx][c % nx] = mean_std(values[c][row][m]).mean;
            any = true;
          }
        if (!any) continue;
        const std::string png = slug(m) + "-" + slug(row) + ".png";
        plot_heatmap((fs::path(dir) / png).string(), axes[1].values, axes[0].values, grid, "--" + axes[1].flag,
                     "--" + axes[0].flag, row + ": " + m + " (mean over seeds)");
        figures.push_back(png);
      }
  } else if (axes.size() > 2) {
    figure_note = "No figures for a grid of " + std::to_string(axes.size()) + " axes: the table holds every cell.\n\n";
  }

  std::vector<std::string> header;
  for (const auto& a : axes) header.push_back("--" + a.flag);
  header.push_back("row");
  for (const auto& m : metrics) header.push_back(m);
  std::ostringstream md;
  md << "# Sweep\n\nCommand: `" << command << "`\n\n"
     << "Axes: ";
  for (size_t i = 0; i < axes.size(); ++i) {
    md << (i ? "; " : "") << "--" << axes[i].flag << " in {";
    for (size_t k = 0; k < axes[i].values.size(); ++k) md << (k ? ", " : "") << axes[i].values[k];
    md << "}";
  }
  if (axes.empty()) md << "none";
  md << ". Seeds: ";
  for (size_t i = 0; i < seeds.size(); ++i) md << (i ? ", " : "") << seeds[i];
  md << ". Finished runs: " << done << " of " << cells.size() * seeds.size()
     << ". Each run is `compare` in `cells/<cell>/seed-S/` (its own report.md). Cells: mean +- sample standard "
     << "deviation over the finished seeds (n); the 95% t-interval half-widths are in metrics.json (`ci95`).\n\n"
     << markdown_table(header, table) << "\n"
     << figure_note;
  for (const auto& f : figures) md << "![" << f << "](" << f << ")\n";
  atomic_write_text((fs::path(dir) / "report.md").string(), md.str());
  return metrics_json;
}

}  // namespace scorelab
