#!/usr/bin/python3
"""Writes reports/ncsn-study/<experiment>/summary.md and its extra figures from the sweeps of run.sh:
per sweep, the metrics as mean +- std over the seeds with 95% t-intervals (from study's metrics.json), the training
and sampling seconds (timings.json of every run), line plots against the numeric axis of two-axis grids, the
learned score's relative error per noise level (score_error in the runs' metrics.json) and MALA's acceptance rates.

    reports/ncsn-study/summarize.py                    # every experiment that has sweeps
    reports/ncsn-study/summarize.py --equal-time-iters # SSM iterations that take DSM's training time (run.sh;
                                                       # from dsm-vs-ssm/cost.md once cost.sh has run)
"""
import glob
import json
import math
import os
import subprocess
import sys

sys.dont_write_bytecode = True
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
from summary_stats import fmt  # noqa: E402  (the number format the other summarizers share)


def read(path):
    with open(path) as f:
        return json.load(f)


def sweeps(experiment):
    """Sweep folders of an experiment (a study's metrics.json beside cells/), in a stable order."""
    out = []
    for m in sorted(glob.glob(os.path.join(here, experiment, "**", "metrics.json"), recursive=True)):
        d = os.path.dirname(m)
        if os.path.isdir(os.path.join(d, "cells")):
            out.append(d)
    return out


def runs(sweep, cell):
    """(seed, metrics row of ncsn, timings of ncsn) of every finished run of a cell."""
    out = []
    for d in sorted(glob.glob(os.path.join(sweep, "cells", cell["name"], "seed-*"))):
        if not os.path.exists(os.path.join(d, "metrics.json")):
            continue
        m = read(os.path.join(d, "metrics.json"))
        t = read(os.path.join(d, "timings.json")) if os.path.exists(os.path.join(d, "timings.json")) else {}
        row = m.get("methods", {}).get("ncsn", {})
        out.append((d.rsplit("-", 1)[1], row, t.get("methods", {}).get("ncsn", {})))
    return out


def mean_std(v):
    v = [x for x in v if x is not None and math.isfinite(x)]
    if not v:
        return float("nan"), float("nan"), 0
    m = sum(v) / len(v)
    s = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else float("nan")
    return m, s, len(v)


def cell_label(cell):
    return ", ".join(f"{k}={v}" for k, v in cell["settings"].items()) or "base"


def reference_row(sweep, study):
    """The floor: the metrics of exact draws (compare's reference row), mean over every run of the sweep."""
    refs = []
    for c in study["cells"]:
        for d in sorted(glob.glob(os.path.join(sweep, "cells", c["name"], "seed-*", "metrics.json"))):
            refs.append(read(d).get("reference", {}))
    return refs


def metric_table(sweep, study):
    metrics = []
    for c in study["cells"]:
        for name in c["rows"].get("ncsn", {}):
            if name not in metrics:
                metrics.append(name)
    lines = ["| cell | seeds | " + " | ".join(metrics) + " |", "|---|---:|" + "---:|" * len(metrics)]
    refs = reference_row(sweep, study)
    if refs:
        cells = []
        for name in metrics:
            m, sd, n = mean_std([r.get(name) for r in refs])
            cells.append("-" if n == 0 else f"{fmt(m)} +- {fmt(sd, 2)}")
        lines.append(f"| exact draws (the floor; {len(refs)} runs) | - | " + " | ".join(cells) + " |")
    for c in study["cells"]:
        row = c["rows"].get("ncsn", {})
        cells = []
        for name in metrics:
            s = row.get(name)
            cells.append("-" if not s or s["n"] == 0 else
                         f"{fmt(s['mean'])} +- {fmt(s['std'], 2)} [{fmt(s['mean'] - s['ci95'])}, {fmt(s['mean'] + s['ci95'])}]")
        lines.append(f"| {cell_label(c)} | {c['finished_seeds']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def timing_table(sweep, study):
    lines = ["| cell | train s | train ms / iteration | sample s | sampler evaluations |", "|---|---:|---:|---:|---:|"]
    for c in study["cells"]:
        rs = runs(sweep, c)
        tr = mean_std([t.get("train_s") for _, _, t in rs])
        it = mean_std([1e3 * t["train_s"] / r["training"]["ncsn"]["iters"]
                       for _, r, t in rs if t.get("train_s") and r.get("training", {}).get("ncsn", {}).get("iters")])
        sm = mean_std([t.get("sample_s") for _, _, t in rs])
        nfe = mean_std([r.get("nfe") for _, r, _ in rs])
        lines.append(f"| {cell_label(c)} | {fmt(tr[0], 3)} +- {fmt(tr[1], 2)} | {fmt(it[0], 3)} | "
                     f"{fmt(sm[0], 3)} +- {fmt(sm[1], 2)} | {fmt(nfe[0], 5)} |")
    return "\n".join(lines) + "\n"


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script.encode(), check=True)


def numeric(values):
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


def line_plots(sweep, study, name):
    """Two-axis grids with a numeric last axis: one line per value of the first axis, error bars +- std."""
    axes = study["axes"]
    if len(axes) != 2 or numeric(axes[1]["values"]) is None:
        return []
    xs = numeric(axes[1]["values"])
    pngs = []
    metrics = sorted({m for c in study["cells"] for m in c["rows"].get("ncsn", {})})
    for metric in metrics:
        data = os.path.join(sweep, f"lines-{metric}.dat")
        blocks, titles = [], []
        for v0 in axes[0]["values"]:
            rows = []
            for x, v1 in zip(xs, axes[1]["values"]):
                c = next(c for c in study["cells"] if c["settings"] == {axes[0]["flag"]: v0, axes[1]["flag"]: v1})
                s = c["rows"].get("ncsn", {}).get(metric)
                if s and s["n"] > 0 and math.isfinite(s["mean"]):
                    rows.append(f"{x} {s['mean']} {s['std'] if math.isfinite(s['std']) else 0}")
            if rows:
                blocks.append("\n".join(rows))
                titles.append(f"{axes[0]['flag']}={v0}")
        if not blocks:
            continue
        with open(data, "w") as f:
            f.write("\n\n\n".join(blocks) + "\n")
        png = os.path.join(sweep, f"lines-{metric}.png")
        logx = "set logscale x" if min(xs) > 0 and max(xs) / min(xs) >= 20 else "unset logscale x"
        plots = ", ".join(f"'{data}' index {i} using 1:2:3 with yerrorlines title '{t}'" for i, t in enumerate(titles))
        gnuplot(f"set terminal pngcairo noenhanced size 720,480\nset format x '%g'\nset output '{png}'\n{logx}\nset xlabel '{axes[1]['flag']}'\n"
                f"set ylabel '{metric}'\nset key outside right\nset title '{name}: {metric} (mean +- std over seeds)'\n"
                f"plot {plots}\n")
        os.remove(data)
        pngs.append(png)
    return pngs


def per_level_error(sweep, study, name):
    """The learned score's relative error E||s - s*||^2 / E||s*||^2 against sigma, one line per cell."""
    series = []
    for c in study["cells"]:
        per_seed = [r["score_error"] for _, r, _ in runs(sweep, c) if "score_error" in r]
        if not per_seed:
            continue
        sig = per_seed[0]["sigmas"]
        pts = []
        for i, s in enumerate(sig):
            m, sd, _ = mean_std([p["relative"][i] for p in per_seed if len(p["relative"]) == len(sig)])
            pts.append((s, m, sd if math.isfinite(sd) else 0))
        series.append((cell_label(c), pts))
    if not series:
        return None, ""
    data = os.path.join(sweep, "per-level.dat")
    with open(data, "w") as f:
        f.write("\n\n\n".join("\n".join(f"{s} {m} {sd}" for s, m, sd in pts) for _, pts in series) + "\n")
    png = os.path.join(sweep, "score-error-per-level.png")
    plots = ", ".join(f"'{data}' index {i} using 1:2:3 with yerrorlines title '{t}'" for i, (t, _) in enumerate(series))
    gnuplot(f"set terminal pngcairo noenhanced size 720,480\nset format x '%g'\nset output '{png}'\nset logscale xy\nset xlabel 'sigma'\n"
            f"set ylabel 'E||s - s*||^2 / E||s*||^2'\nset key outside right\n"
            f"set title '{name}: relative score error per noise level'\nplot {plots}\n")
    os.remove(data)
    if all([p[0] for p in pts] == [p[0] for p in series[0][1]] for _, pts in series):
        table = ["| cell | " + " | ".join(fmt(s, 3) for s, _, _ in series[0][1]) + " |",
                 "|---|" + "---:|" * len(series[0][1])]
        for label, pts in series:
            table.append(f"| {label} | " + " | ".join(fmt(m, 3) for _, m, _ in pts) + " |")
        return png, "Relative score error per level (columns: sigma; mean over seeds):\n\n" + "\n".join(table) + "\n"
    # The cells have different noise levels: sigma: error pairs per cell.
    lines = [f"- {label}: " + ", ".join(f"{fmt(s, 3)}: {fmt(m, 3)}" for s, m, _ in pts) for label, pts in series]
    return png, "Relative score error per level (sigma: error, mean over seeds):\n\n" + "\n".join(lines) + "\n"


def acceptance_table(sweep, study):
    lines, any_rate = ["| cell | acceptance (all) | per level, largest sigma first |", "|---|---:|---|"], False
    for c in study["cells"]:
        rs = runs(sweep, c)
        a = mean_std([r.get("acceptance_rate") for _, r, _ in rs])
        if a[2] == 0:
            continue
        any_rate = True
        levels = []
        l = 0
        while any(f"acceptance_rate_level_{l}" in r for _, r, _ in rs):
            levels.append(fmt(mean_std([r.get(f"acceptance_rate_level_{l}") for _, r, _ in rs])[0], 3))
            l += 1
        lines.append(f"| {cell_label(c)} | {fmt(a[0], 4)} | {' '.join(levels)} |")
    return "\n".join(lines) + "\n" if any_rate else ""


def mode_weight_table(sweep, study):
    """Mean estimated mode weights (mog-weights has few modes) against the truth."""
    rows = []
    truth = None
    for c in study["cells"]:
        rs = runs(sweep, c)
        ws = [r.get("mode_weights") for _, r, _ in rs if r.get("mode_weights")]
        if not ws or len(ws[0]) > 6:
            return ""
        k = len(ws[0])
        rows.append((cell_label(c), [mean_std([w[i] for w in ws]) for i in range(k)]))
        if truth is None:
            d = sorted(glob.glob(os.path.join(sweep, "cells", c["name"], "seed-*")))[0]
            truth = read(os.path.join(d, "metrics.json")).get("reference", {}).get("mode_weights")
    lines = ["| cell | " + " | ".join(f"mode {i}" for i in range(len(rows[0][1]))) + " |",
             "|---|" + "---:|" * len(rows[0][1])]
    if truth:
        lines.append("| exact draws (reference row) | " + " | ".join(fmt(w, 3) for w in truth) + " |")
    for label, ms in rows:
        lines.append(f"| {label} | " + " | ".join(f"{fmt(m, 3)} +- {fmt(s, 1)}" for m, s, _ in ms) + " |")
    return "\n".join(lines) + "\n"


def summarize(experiment):
    folders = sweeps(experiment)
    if not folders:
        return False
    md = [f"# {experiment}: the numbers\n",
          "Generated by `reports/ncsn-study/summarize.py` from the sweeps of "
          f"`reports/ncsn-study/run.sh {experiment}`. Entries: mean +- std over the seeds [95% t-interval of the mean]. "
          "Each sweep's own `report.md` (written by `study`) has the per-seed values and its figures.\n"]
    for sweep in folders:
        study = read(os.path.join(sweep, "metrics.json"))
        rel = os.path.relpath(sweep, os.path.join(here, experiment))
        name = f"{experiment}/{rel}" if rel != "." else experiment
        md.append(f"## {name}\n")
        md.append(f"Command: `{study.get('command', '')}`\n")
        md.append(metric_table(sweep, study))
        md.append("Seconds per run (one thread; `timings.json`):\n")
        md.append(timing_table(sweep, study))
        acc = acceptance_table(sweep, study)
        if acc:
            md.append("MALA acceptance rates:\n")
            md.append(acc)
        mw = mode_weight_table(sweep, study)
        if mw:
            md.append("Mode weights (nearest mode):\n")
            md.append(mw)
        png, table = per_level_error(sweep, study, name)
        if png:
            md.append(table)
            md.append(f"![per-level error]({os.path.relpath(png, os.path.join(here, experiment))})\n")
        for p in line_plots(sweep, study, name):
            md.append(f"![{os.path.basename(p)}]({os.path.relpath(p, os.path.join(here, experiment))})\n")
    with open(os.path.join(here, experiment, "summary.md"), "w") as f:
        f.write("\n".join(md))
    return True


def equal_time_iters():
    """5,000 x (DSM's time per iteration) / (SSM's): from cost.md (each configuration timed alone) when it exists,
    else from the objective sweep's training times."""
    cost = os.path.join(here, "dsm-vs-ssm", "cost.md")
    if os.path.exists(cost):
        ms = {}
        for line in open(cost):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 4 and cells[0] in ("dsm", "ssm gaussian vr 1"):
                ms[cells[0]] = float(cells[1])
        if len(ms) == 2:
            return int(round(5000 * ms["dsm"] / ms["ssm gaussian vr 1"]))
    sweep = os.path.join(here, "dsm-vs-ssm", "objective")
    study = read(os.path.join(sweep, "metrics.json"))
    t = {}
    for c in study["cells"]:
        t[c["settings"]["objective"]] = mean_std([x.get("train_s") for _, _, x in runs(sweep, c)])[0]
    return int(round(5000 * t["dsm"] / t["ssm"]))


if __name__ == "__main__":
    if "--equal-time-iters" in sys.argv:
        print(equal_time_iters())
        sys.exit(0)
    done = [e for e in sorted(os.listdir(here)) if os.path.isdir(os.path.join(here, e)) and summarize(e)]
    print("summaries:", ", ".join(done) if done else "none (run reports/ncsn-study/run.sh first)")
