#include "eval/plot.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <locale>
#include <sstream>
#include <system_error>

#include "core/error.h"
#include "eval/markdown.h"

namespace scorelab {
namespace fs = std::filesystem;
namespace {

constexpr int64_t kMaxPoints = 2000;       // sample points drawn per panel
constexpr int64_t kDensityGrid = 150;      // heat-map resolution of plot_samples (2-D)
constexpr int64_t kCurvePoints = 400;      // density curve resolution (1-D)
constexpr int64_t kHistBins = 60;          // histogram bins (1-D)
constexpr int64_t kArrowGrid = 20;         // score arrows per axis
constexpr int64_t kErrorGrid = 80;         // error heat-map resolution per axis
constexpr double kLogDensityRange = 12.0;  // heat map floor: max log-density - 12 nats

// Light blue palette: sample points (red) and arrows stay visible on top of it.
constexpr const char* kLightPalette =
    "set palette defined (0 \"#ffffff\", 1 \"#deebf7\", 2 \"#9ecae1\", 3 \"#4292c6\")\n";
constexpr const char* kGrayPalette = "set palette defined (0 \"#ffffff\", 1 \"#f0f0f0\", 2 \"#bdbdbd\")\n";
constexpr const char* kErrorPalette =
    "set palette defined (0 \"#440154\", 1 \"#3b528b\", 2 \"#21918c\", 3 \"#5ec962\", 4 \"#fde725\")\n";

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// A gnuplot double-quoted string literal (backslash escapes are processed inside "...").
std::string gp_str(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::ostringstream number_stream() {
  std::ostringstream os;
  os.imbue(std::locale::classic());
  os.precision(8);
  return os;
}

std::string num(double v) {
  auto os = number_stream();
  os << v;
  return os.str();
}

// Three significant digits, for titles.
std::string num3(double v) {
  auto os = number_stream();
  os.precision(3);
  os << v;
  return os.str();
}

std::string read_tail(const fs::path& path, size_t max_chars) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > max_chars) text = "..." + text.substr(text.size() - max_chars);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// One rendering: data files and script in a temporary folder beside the output, moved into place
// (data folder, script, then the PNG by rename) only once gnuplot has succeeded.
class PlotJob {
 public:
  explicit PlotJob(const std::string& png) : png_(png) {
    if (!gnuplot_available()) {
      throw DataError("cannot render " + png +
                      ": gnuplot with the pngcairo terminal is not installed; run scripts/setup");
    }
    base_ = png_.stem().string();
    if (base_.empty()) throw ConfigError("plot: output path '" + png + "' has no file name");
    dir_ = png_.has_parent_path() ? png_.parent_path() : fs::path(".");
    std::error_code ec;
    fs::create_directories(dir_, ec);
    std::string templ = (dir_ / ("." + base_ + ".plot-XXXXXX")).string();
    if (ec || mkdtemp(templ.data()) == nullptr) {
      throw DataError("cannot render " + png + ": cannot create a temporary folder in " + dir_.string());
    }
    tmp_ = templ;
    fs::create_directories(tmp_ / data_dir_name(), ec);
    if (ec) throw DataError("cannot render " + png + ": cannot create " + (tmp_ / data_dir_name()).string());
  }
  PlotJob(const PlotJob&) = delete;
  PlotJob& operator=(const PlotJob&) = delete;
  ~PlotJob() {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }

  std::string data_dir_name() const { return base_ + "_data"; }

  // Writes a data file; returns the quoted path the script uses (relative to the script's folder).
  std::string write_data(const std::string& name, const std::string& content) const {
    const fs::path path = tmp_ / data_dir_name() / name;
    std::ofstream out(path);
    out << content;
    out.close();
    if (!out) throw DataError("cannot write plot data " + path.string() + " (disk full or not writable?)");
    return gp_str(data_dir_name() + "/" + name);
  }

  // Script opening: terminal, size and output (overridable: gnuplot -e "outfile='x.png'" <base>.gp).
  std::string preamble(int width, int height) const {
    std::ostringstream os;
    os << "# Written by scorelab (src/eval/plot.cpp). Re-render from this folder: gnuplot " << base_ << ".gp\n"
       << "if (!exists(\"outfile\")) outfile = " << gp_str(base_ + ".png") << "\n"
       << "set terminal pngcairo size " << width << "," << height << " font \"Sans,10\" noenhanced\n"
       << "set output outfile\n";
    return os.str();
  }

  void render(const std::string& script) {
    const std::string gp_name = base_ + ".gp";
    {
      std::ofstream out(tmp_ / gp_name);
      out << script << "unset multiplot\nunset output\n";
      out.close();
      if (!out) throw DataError("cannot write plot script " + (tmp_ / gp_name).string());
    }
    const std::string cmd =
        "cd " + shell_quote(tmp_.string()) + " && gnuplot " + shell_quote(gp_name) + " </dev/null >gnuplot.log 2>&1";
    const int rc = std::system(cmd.c_str());
    const fs::path rendered = tmp_ / (base_ + ".png");
    std::error_code ec;
    if (rc != 0 || !fs::exists(rendered) || fs::file_size(rendered, ec) == 0) {
      throw DataError("gnuplot failed to render " + png_.string() + " (exit status " + std::to_string(rc) +
                      "): " + read_tail(tmp_ / "gnuplot.log", 600));
    }
    const fs::path data_target = dir_ / data_dir_name();
    fs::remove_all(data_target, ec);
    fs::rename(tmp_ / data_dir_name(), data_target);
    fs::rename(tmp_ / gp_name, dir_ / gp_name);
    fs::rename(rendered, png_);  // atomic: readers see the old PNG or the new one, never half of one
  }

 private:
  fs::path png_;
  fs::path dir_;
  fs::path tmp_;
  std::string base_;
};

at::Tensor cpu_double(const at::Tensor& t) { return t.detach().to(torch::kCPU, torch::kFloat64).contiguous(); }

// Cell centres of an n x n grid over the box, [n*n, 2], x-major (all y for the first x, ...).
at::Tensor grid_2d(const std::vector<std::pair<double, double>>& box, int64_t n) {
  auto centres = [n](double lo, double hi) {
    const double h = (hi - lo) / static_cast<double>(n);
    return torch::arange(n, torch::kFloat64).mul(h).add(lo + 0.5 * h);
  };
  const auto xs = centres(box[0].first, box[0].second);
  const auto ys = centres(box[1].first, box[1].second);
  const auto mesh = torch::meshgrid({xs, ys}, "ij");
  return torch::stack({mesh[0].reshape(-1), mesh[1].reshape(-1)}, 1);
}

// "x y v1 v2 ..." lines, a blank line after each scan of n points (the layout `with image` expects).
std::string grid_text(const at::Tensor& pts, const std::vector<at::Tensor>& values, int64_t n) {
  auto os = number_stream();
  const auto p = pts.accessor<double, 2>();
  std::vector<at::TensorAccessor<double, 1>> vals;
  for (const auto& v : values) vals.push_back(v.accessor<double, 1>());
  for (int64_t i = 0; i < pts.size(0); ++i) {
    os << p[i][0] << ' ' << p[i][1];
    for (const auto& v : vals) os << ' ' << v[i];
    os << '\n';
    if ((i + 1) % n == 0) os << '\n';
  }
  return os.str();
}

std::string range_cmd(const std::vector<std::pair<double, double>>& box) {
  std::string s = "set xrange [" + num(box[0].first) + ":" + num(box[0].second) + "]\n";
  if (box.size() > 1) s += "set yrange [" + num(box[1].first) + ":" + num(box[1].second) + "]\n";
  return s;
}

std::string means_text(const GaussianMixture& truth) {
  auto os = number_stream();
  for (const auto& m : truth.means()) {
    for (double v : m) os << v << ' ';
    os << '\n';
  }
  return os.str();
}

std::string samples_2d(PlotJob& job, const GaussianMixture& truth,
                       const std::vector<std::pair<std::string, at::Tensor>>& panels) {
  const auto box = truth.bounding_box();
  const at::Tensor grid = grid_2d(box, kDensityGrid);
  at::Tensor logp = cpu_double(truth.log_prob(grid));
  const double top = logp.max().item<double>();
  logp.clamp_min_(top - kLogDensityRange);
  const std::string logp_file = job.write_data("logp.dat", grid_text(grid, {logp}, kDensityGrid));

  std::ostringstream gp;
  gp << kLightPalette << "unset colorbox\nset size ratio -1\nset tics out\n" << range_cmd(box);
  for (size_t i = 0; i < panels.size(); ++i) {
    const at::Tensor x = cpu_double(panels[i].second);
    const at::Tensor finite = x.isfinite().all(1);
    const at::Tensor inside = finite & x.select(1, 0).ge(box[0].first) & x.select(1, 0).le(box[0].second) &
                              x.select(1, 1).ge(box[1].first) & x.select(1, 1).le(box[1].second);
    const double outside = x.size(0) > 0 ? 100.0 * (1.0 - inside.to(torch::kFloat64).mean().item<double>()) : 0.0;
    const at::Tensor shown =
        x.index({finite}).narrow(0, 0, std::min<int64_t>(kMaxPoints, finite.sum().item<int64_t>()));
    std::string panel_title = panels[i].first + " (n = " + std::to_string(x.size(0)) + ", " +
                              num(std::round(outside * 10.0) / 10.0) + "% outside)";
    gp << "set title " << gp_str(panel_title) << "\nplot " << logp_file << " using 1:2:3 with image notitle";
    if (shown.size(0) > 0) {
      auto os = number_stream();
      const auto a = shown.accessor<double, 2>();
      for (int64_t r = 0; r < shown.size(0); ++r) os << a[r][0] << ' ' << a[r][1] << '\n';
      gp << ", " << job.write_data("samples_" + std::to_string(i) + ".dat", os.str())
         << " using 1:2 with points pt 7 ps 0.3 lc rgb \"#d62728\" notitle";
    }
    gp << "\n";
  }
  return gp.str();
}

std::string samples_1d(PlotJob& job, const GaussianMixture& truth,
                       const std::vector<std::pair<std::string, at::Tensor>>& panels) {
  const auto box = truth.bounding_box();
  const double lo = box[0].first;
  const double hi = box[0].second;
  const at::Tensor xs = torch::linspace(lo, hi, kCurvePoints, torch::kFloat64).unsqueeze(1);
  const at::Tensor dens = cpu_double(truth.log_prob(xs)).exp();
  const double dens_max = dens.max().item<double>();
  {
    auto os = number_stream();
    for (int64_t i = 0; i < kCurvePoints; ++i) os << xs[i][0].item<double>() << ' ' << dens[i].item<double>() << '\n';
    job.write_data("density.dat", os.str());
  }
  const double bin = (hi - lo) / static_cast<double>(kHistBins);
  std::ostringstream gp;
  gp << "set style fill solid 0.5 noborder\nset boxwidth " << num(bin) << " absolute\nset tics out\n"
     << "set key top right\n"
     << range_cmd(box);
  for (size_t i = 0; i < panels.size(); ++i) {
    const at::Tensor x = cpu_double(panels[i].second).reshape(-1);
    const at::Tensor xf = x.index({x.isfinite()});
    std::vector<double> counts(kHistBins, 0.0);
    const auto a = xf.accessor<double, 1>();
    for (int64_t r = 0; r < xf.size(0); ++r) {
      const auto b = static_cast<int64_t>(std::floor((a[r] - lo) / bin));
      if (a[r] >= lo && a[r] <= hi) counts[static_cast<size_t>(std::min(b, kHistBins - 1))] += 1.0;
    }
    auto os = number_stream();
    double hist_max = 0.0;
    for (int64_t b = 0; b < kHistBins; ++b) {
      const double d = xf.size(0) > 0 ? counts[static_cast<size_t>(b)] / (static_cast<double>(xf.size(0)) * bin) : 0.0;
      hist_max = std::max(hist_max, d);
      os << lo + (static_cast<double>(b) + 0.5) * bin << ' ' << d << '\n';
    }
    const std::string hist_file = job.write_data("hist_" + std::to_string(i) + ".dat", os.str());
    // A spike (e.g. collapsed samples) is clipped at 3x the true peak so the true curve stays readable.
    const double ymax = 1.1 * std::max(dens_max, std::min(hist_max, 3.0 * dens_max));
    gp << "set yrange [0:" << num(ymax) << "]\nset title "
       << gp_str(panels[i].first + " (n = " + std::to_string(x.size(0)) + ")") << "\nplot " << hist_file
       << " using 1:2 with boxes lc rgb \"#4292c6\" title \"samples\", " << gp_str(job.data_dir_name() + "/density.dat")
       << " using 1:2 with lines lw 2 lc rgb \"black\" title \"true density\"\n";
  }
  return gp.str();
}

void render_plot_items(PlotJob& job, std::ostringstream& gp, const std::vector<std::string>& items) {
  // The plot command of the series items (one per line), or a "no data" panel when there are none.
  if (items.empty()) {
    gp << "unset logscale\nset xrange [0:1]\nset yrange [0:1]\nset label \"no data\" at graph 0.5,0.5 center\n"
       << "plot NaN notitle\n";
  } else {
    gp << "plot ";
    for (size_t i = 0; i < items.size(); ++i) gp << (i ? ", \\\n     " : "") << items[i];
    gp << "\n";
  }
  job.render(gp.str());
}

}  // namespace

bool gnuplot_available() {
  static const bool available = std::system("gnuplot -e 'set terminal pngcairo' </dev/null >/dev/null 2>&1") == 0;
  return available;
}

void plot_samples(const std::string& png, const GaussianMixture& truth,
                  const std::vector<std::pair<std::string, at::Tensor>>& panels, const std::string& title) {
  const int64_t dim = truth.dim();
  if (dim != 1 && dim != 2) {
    throw ConfigError("plot_samples: the mixture has dimension " + std::to_string(dim) + "; expected 1 or 2");
  }
  TORCH_CHECK(!panels.empty(), "plot_samples: no panels");
  for (const auto& [name, x] : panels) {
    TORCH_CHECK(x.dim() == 2 && x.size(1) == dim, "plot_samples: panel '", name, "' must be [N, ", dim, "], got ",
                x.sizes());
  }
  torch::NoGradGuard no_grad;
  const auto count = static_cast<int64_t>(panels.size());
  const auto cols = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(count))));
  const int64_t rows = (count + cols - 1) / cols;
  PlotJob job(png);
  std::ostringstream gp;
  gp << job.preamble(static_cast<int>(cols * 420), static_cast<int>(rows * 400 + 40)) << "set multiplot layout " << rows
     << "," << cols << " title " << gp_str(title) << "\n"
     << (dim == 2 ? samples_2d(job, truth, panels) : samples_1d(job, truth, panels));
  job.render(gp.str());
}

void plot_score_field(const std::string& png, const GaussianMixture& truth, const ScoreFn& learned,
                      const std::vector<double>& sigmas, const std::string& title) {
  if (truth.dim() != 2) {
    throw ConfigError("plot_score_field: the mixture has dimension " + std::to_string(truth.dim()) +
                      "; score fields are drawn for 2-D mixtures only");
  }
  if (sigmas.empty()) throw ConfigError("plot_score_field: no noise levels given; expected at least one sigma > 0");
  for (double s : sigmas) {
    if (!(s > 0) || !std::isfinite(s)) {
      throw ConfigError("plot_score_field: noise level " + num(s) + " is not allowed; expected sigma > 0");
    }
  }
  const auto box = truth.bounding_box();
  const double cell =
      std::min(box[0].second - box[0].first, box[1].second - box[1].first) / static_cast<double>(kArrowGrid);
  const at::Tensor arrow_pts = grid_2d(box, kArrowGrid);
  const at::Tensor err_pts = grid_2d(box, kErrorGrid);
  auto eval_learned = [&learned](const at::Tensor& pts, double sigma) {
    const at::Tensor s = cpu_double(learned(pts.to(torch::kFloat32), sigma));
    TORCH_CHECK(s.sizes() == pts.sizes(), "plot_score_field: the learned score must be [N, 2], got ", s.sizes());
    return s;
  };

  PlotJob job(png);
  const std::string means_file = job.write_data("means.dat", means_text(truth));
  std::ostringstream gp;
  gp << job.preamble(2 * 480, static_cast<int>(sigmas.size()) * 440 + 40) << "set multiplot layout " << sigmas.size()
     << ",2 title " << gp_str(title) << "\n"
     << "set size ratio -1\nset tics out\nunset key\n"
     << range_cmd(box);
  for (size_t i = 0; i < sigmas.size(); ++i) {
    const double sigma = sigmas[i];
    const GaussianMixture sm = truth.smoothed(sigma);
    const std::string tag = std::to_string(i);

    // Arrows: one saturating length map for both fields, 1.2 cells * |s| / (|s| + median |s_true|), so
    // that directions stay readable both near the modes (small scores) and far out (large ones).
    const at::Tensor s_true = cpu_double(sm.score(arrow_pts));
    at::Tensor s_learn = eval_learned(arrow_pts, sigma);
    double median = s_true.norm(2, 1).median().item<double>();
    if (!(median > 0)) median = 1.0;
    auto display = [&](const at::Tensor& s) {
      const at::Tensor len = s.norm(2, 1, /*keepdim=*/true);
      return s * (1.2 * cell / (len + median));
    };
    const at::Tensor v_true = display(s_true);
    const at::Tensor v_learn = display(s_learn);
    {
      auto os = number_stream();
      const auto p = arrow_pts.accessor<double, 2>();
      const auto t = v_true.accessor<double, 2>();
      const auto l = v_learn.accessor<double, 2>();
      for (int64_t r = 0; r < arrow_pts.size(0); ++r) {
        os << p[r][0] << ' ' << p[r][1] << ' ' << t[r][0] << ' ' << t[r][1];
        if (std::isfinite(l[r][0]) && std::isfinite(l[r][1])) {
          os << ' ' << l[r][0] << ' ' << l[r][1] << '\n';
        } else {
          os << " NaN NaN\n";  // gnuplot skips undefined values
        }
      }
      job.write_data("arrows_" + tag + ".dat", os.str());
    }

    // Relative error on the fine grid, saturated (1e9) where the learned score is not finite.
    const at::Tensor e_true = cpu_double(sm.score(err_pts));
    const at::Tensor e_learn = eval_learned(err_pts, sigma);
    at::Tensor err = (e_learn - e_true).norm(2, 1) / (e_true.norm(2, 1) + 1.0 / sigma);
    const at::Tensor ok = err.isfinite();
    const int64_t bad = err.numel() - ok.sum().item<int64_t>();
    at::Tensor logp = cpu_double(sm.log_prob(err_pts));
    const at::Tensor weight = (logp - logp.max()).exp() * ok.to(torch::kFloat64);
    const double weighted = (weight * err.nan_to_num(0.0, 0.0, 0.0)).sum().item<double>() / weight.sum().item<double>();
    err = err.nan_to_num(1e9, 1e9, 1e9);
    logp.clamp_min_(logp.max().item<double>() - kLogDensityRange);
    const std::string grid_file = job.write_data("grid_" + tag + ".dat", grid_text(err_pts, {logp, err}, kErrorGrid));

    std::string left = "sigma = " + num(sigma) + ": learned (black), true (red); median |s_true| " + num3(median);
    std::string right = "rel. error |s - s_true| / (|s_true| + 1/sigma); p-weighted mean " + num3(weighted);
    if (bad > 0) right += "; " + std::to_string(bad) + " non-finite";
    gp << kGrayPalette << "unset colorbox\nset title " << gp_str(left) << "\nplot " << grid_file
       << " using 1:2:3 with image, " << gp_str(job.data_dir_name() + "/arrows_" + tag + ".dat")
       << " using 1:2:3:4 with vectors head filled size screen 0.007,25 lw 2.5 lc rgb \"#e41a1c\", "
       << gp_str(job.data_dir_name() + "/arrows_" + tag + ".dat")
       << " using 1:2:5:6 with vectors head filled size screen 0.005,25 lw 1 lc rgb \"black\"\n"
       << kErrorPalette << "set colorbox\nset cbrange [0:1]\nset title " << gp_str(right) << "\nplot " << grid_file
       << " using 1:2:4 with image, " << means_file << " using 1:2 with points pt 2 ps 1.5 lw 2 lc rgb \"white\"\n"
       << "set autoscale cb\n";
  }
  job.render(gp.str());
}

void plot_lines(const std::string& png,
                const std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>>& series,
                const std::string& xlabel, const std::string& ylabel, const std::string& title, bool logy) {
  PlotJob job(png);
  std::ostringstream gp;
  gp << job.preamble(800, 500) << "set title " << gp_str(title) << "\nset xlabel " << gp_str(xlabel) << "\nset ylabel "
     << gp_str(ylabel) << "\nset grid\nset key top right opaque box\n"
     << (logy ? "set logscale y\n" : "");
  std::vector<std::string> items;
  for (size_t i = 0; i < series.size(); ++i) {
    auto os = number_stream();
    int64_t points = 0;
    for (const auto& [x, y] : series[i].second) {
      if (!std::isfinite(x) || !std::isfinite(y) || (logy && y <= 0)) continue;
      os << x << ' ' << y << '\n';
      ++points;
    }
    if (points == 0) continue;
    items.push_back(job.write_data("series_" + std::to_string(i) + ".dat", os.str()) + " using 1:2 with " +
                    (points == 1 ? "points pt 7" : "lines lw 1.5") + " title " + gp_str(series[i].first));
  }
  render_plot_items(job, gp, items);
}

void plot_errorbars(const std::string& png, const std::vector<std::pair<std::string, std::vector<ErrorPoint>>>& series,
                    const std::vector<std::string>& xticks, const std::string& xlabel, const std::string& ylabel,
                    const std::string& title, bool logx, bool logy) {
  PlotJob job(png);
  std::ostringstream gp;
  gp << job.preamble(800, 500) << "set title " << gp_str(title) << "\nset xlabel " << gp_str(xlabel) << "\nset ylabel "
     << gp_str(ylabel) << "\nset grid\nset key outside right top box\nset bars small\n"
     << (logx ? "set logscale x\n" : "") << (logy ? "set logscale y\n" : "")
     << "set offsets graph 0.04, graph 0.04, graph 0.06, graph 0.06\n";  // end points' bars inside the frame
  if (!xticks.empty()) {
    gp << "set xrange [-0.5:" << num(static_cast<double>(xticks.size()) - 0.5) << "]\nset xtics (";
    for (size_t i = 0; i < xticks.size(); ++i) gp << (i ? ", " : "") << gp_str(xticks[i]) << " " << i;
    gp << ")\n";
  }
  std::vector<std::string> items;
  for (size_t i = 0; i < series.size(); ++i) {
    auto os = number_stream();
    int64_t points = 0;
    for (const auto& p : series[i].second) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y) || (logy && p.y <= 0) || (logx && p.x <= 0)) continue;
      os << p.x << ' ' << p.y << ' ' << (std::isfinite(p.err) ? p.err : 0.0) << '\n';
      ++points;
    }
    if (points == 0) continue;
    items.push_back(job.write_data("series_" + std::to_string(i) + ".dat", os.str()) +
                    " using 1:2:3 with yerrorlines lw 1.5 pt 7 ps 0.8 title " + gp_str(series[i].first));
  }
  render_plot_items(job, gp, items);
}

void plot_heatmap(const std::string& png, const std::vector<std::string>& xlabels, const std::vector<std::string>& ylabels,
                  const std::vector<std::vector<double>>& values, const std::string& xlabel, const std::string& ylabel,
                  const std::string& title) {
  if (values.size() != ylabels.size()) throw ConfigError("plot_heatmap: " + std::to_string(values.size()) + " rows for " +
                                                         std::to_string(ylabels.size()) + " y labels");
  for (const auto& r : values)
    if (r.size() != xlabels.size())
      throw ConfigError("plot_heatmap: a row of " + std::to_string(r.size()) + " values for " +
                        std::to_string(xlabels.size()) + " x labels");
  PlotJob job(png);
  auto os = number_stream();
  auto labels = number_stream();
  for (size_t r = 0; r < values.size(); ++r)
    for (size_t c = 0; c < xlabels.size(); ++c) {
      const double v = values[r][c];
      os << c << ' ' << r << ' ' << (std::isfinite(v) ? num(v) : std::string("NaN")) << '\n';
      if (std::isfinite(v)) labels << c << ' ' << r << ' ' << gp_str(fmt_number(v, 3)) << '\n';
    }
  std::ostringstream gp;
  gp << job.preamble(160 + 90 * static_cast<int>(std::max<size_t>(xlabels.size(), 4)),
                     140 + 60 * static_cast<int>(std::max<size_t>(ylabels.size(), 3)))
     << "set title " << gp_str(title) << "\nset xlabel " << gp_str(xlabel) << "\nset ylabel " << gp_str(ylabel) << "\n"
     << "set xrange [-0.5:" << num(static_cast<double>(xlabels.size()) - 0.5) << "]\nset yrange [-0.5:"
     << num(static_cast<double>(ylabels.size()) - 0.5) << "]\nset palette rgb 33,13,10\nset xtics (";
  for (size_t i = 0; i < xlabels.size(); ++i) gp << (i ? ", " : "") << gp_str(xlabels[i]) << " " << i;
  gp << ")\nset ytics (";
  for (size_t i = 0; i < ylabels.size(); ++i) gp << (i ? ", " : "") << gp_str(ylabels[i]) << " " << i;
  gp << ")\nplot " << job.write_data("cells.dat", os.str()) << " using 1:2:3 with image notitle";
  const std::string text = labels.str();
  if (!text.empty()) gp << ", \\\n     " << job.write_data("labels.dat", text) << " using 1:2:3 with labels notitle";
  gp << "\n";
  job.render(gp.str());
}

}  // namespace scorelab
