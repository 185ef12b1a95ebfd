// Plots through gnuplot (pngcairo terminal). Each call writes, next to `png`:
//   <base>.png        the image, rendered under a temporary name and renamed (atomic);
//   <base>.gp         the gnuplot script, to tweak and re-run: `cd <folder> && gnuplot <base>.gp`;
//   <base>_data/      the data files the script reads (paths in the script are relative).
// Everything is first written to a temporary folder beside the output and moved into place only
// after gnuplot succeeded. Missing gnuplot: DataError telling to run scripts/setup; gnuplot failing:
// DataError with its last output lines.
#pragma once
#include <ATen/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "data/mixture.h"
#include "samplers/sampler.h"

namespace scorelab {

// True if `gnuplot` is on PATH and has the pngcairo terminal.
bool gnuplot_available();

// One panel per (name, samples [N, D]) in a multiplot grid (D = truth.dim(), 1 or 2; ConfigError
// otherwise). 2-D: the true log-density over truth.bounding_box() as a heat map (floored 12 nats below
// its maximum) with the first 2000 finite samples as points; the panel title gives the percentage of
// samples outside the box. 1-D: the true density curve and a density-normalised 60-bin histogram of
// the samples over the box (normalised by all finite samples, so mass outside the box is missing).
void plot_samples(const std::string& png, const GaussianMixture& truth,
                  const std::vector<std::pair<std::string, at::Tensor>>& panels, const std::string& title);

// 2-D only (ConfigError otherwise). One row per sigma, with the truth smoothed by N(0, sigma^2 I).
// Left: learned(x, sigma) arrows (thin, black) over the true score arrows (thick, red) on a 20x20
// grid of the box, over the smoothed density in gray. Both fields share one saturating length map,
// 1.2 cells * |s| / (|s| + median_grid |s_true|), so directions stay readable near the modes (small
// scores) and far from them (large ones) while larger still means longer. Right: the relative error
//   e(x) = ||s_learned(x) - s_true(x)|| / (||s_true(x)|| + 1 / sigma)
// on an 80x80 grid (1/sigma is the natural score scale at level sigma: it keeps e finite where
// s_true = 0), colour range [0, 1] (saturated above), component means marked, and the
// density-weighted mean sum_x p_sigma(x) e(x) / sum_x p_sigma(x) in the title. `learned` receives
// CPU float32 points [N, 2] and must return [N, 2].
void plot_score_field(const std::string& png, const GaussianMixture& truth, const ScoreFn& learned,
                      const std::vector<double>& sigmas, const std::string& title);

// Line plot of named (x, y) series, e.g. loss curves. Non-finite points (and y <= 0 when `logy`) are
// dropped; empty series are left out of the key; with no points at all the plot says "no data".
void plot_lines(const std::string& png,
                const std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>>& series,
                const std::string& xlabel, const std::string& ylabel, const std::string& title, bool logy = false);

// Named series of (x, y, error) points drawn as lines with +-error bars (e.g. mean and std over seeds).
// `xticks` (optional, one label per integer x = 0, 1, ...) replaces numeric x ticks for categorical axes.
// Non-finite points are dropped (and y <= 0 when `logy`; x <= 0 when `logx`); a non-finite error draws no bar.
struct ErrorPoint {
  double x = 0.0, y = 0.0, err = 0.0;
};
void plot_errorbars(const std::string& png, const std::vector<std::pair<std::string, std::vector<ErrorPoint>>>& series,
                    const std::vector<std::string>& xticks, const std::string& xlabel, const std::string& ylabel,
                    const std::string& title, bool logx = false, bool logy = false);

// A heat map of values[row][column] (rows: y labels bottom to top, columns: x labels), each cell printed
// with its value; non-finite cells are left blank. Rows must all have xlabels.size() entries
// (ConfigError otherwise).
void plot_heatmap(const std::string& png, const std::vector<std::string>& xlabels, const std::vector<std::string>& ylabels,
                  const std::vector<std::vector<double>>& values, const std::string& xlabel, const std::string& ylabel,
                  const std::string& title);

}  // namespace scorelab
