#!/usr/bin/env python3
"""reports/mnist-v2: budget curves over seeds from every finished budget (seed-S/iters-N/metrics.json).

Writes report.md, summary.json and budget-{fd,kid,bits}.png (gnuplot) next to this file. Unfinished budgets
(a run still training, or stopped) are left out, so it can be run at any time.
"""
import json
import math
import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
AR = "ar"
ROWS = ["ar", "smoothed-ar (conditional-ar)", "smoothed-ar (single-step-detached)", "smoothed-ar (single-step-full)"]


def load_step(d):
    m = json.load(open(os.path.join(d, "metrics.json")))
    t = json.load(open(os.path.join(d, "timings.json"))) if os.path.exists(os.path.join(d, "timings.json")) else {}
    rows = {}
    for name, r in m["methods"].items():
        q = r["quality"]
        kid = q["kid_classifier"]
        tr = t.get("methods", {}).get(name, {})
        rows[name] = {
            "iters": r.get("iters"),
            "fd": q["fd_classifier"], "fd_ci": q.get("fd_classifier_ci95"),
            "kid": kid.get("all", kid.get("mean")), "kid_ci": kid.get("ci95"),
            # The two-stage bound is the likelihood of the conditional-ar row only (it needs the stage-2 model);
            # the single-step rows share stage 1 but have no likelihood of their own.
            "bits": (r.get("two_stage_bound_bits_per_dim") if "conditional-ar" in name
                     else None if "single-step" in name else r.get("bits_per_dim")),
            "bits_x_tilde": r.get("stage1_bits_per_dim_x_tilde"),
            "confidence": q.get("classifier_scores", {}).get("mean_max_prob"),
            "class_entropy": q.get("classifier_scores", {}).get("class_hist_entropy_nats"),
            "inpaint_mse": r.get("inpaint", {}).get("mse_unknown"),
            "train_s": (tr.get("train_s") or 0.0) + (tr.get("stage2_train_s") or 0.0),
            "sample_s_per_image": tr.get("sample_s_per_image"),
        }
        floor = q["floor"]
    return rows, {"fd": floor["fd_classifier"], "fd_ci": floor.get("fd_classifier_ci95"),
                  "kid": floor["kid_classifier"].get("all", floor["kid_classifier"].get("mean")),
                  "kid_ci": floor["kid_classifier"].get("ci95")}, m.get("samples_per_method")


def collect():
    data = {}  # seed -> iters -> (rows, floor)
    samples = None
    for s in sorted(os.listdir(HERE)):
        mm = re.fullmatch(r"seed-(\d+)", s)
        if not mm or not os.path.isdir(os.path.join(HERE, s)):
            continue
        seed = int(mm.group(1))
        for step in os.listdir(os.path.join(HERE, s)):
            sm = re.fullmatch(r"iters-(\d+)", step)
            d = os.path.join(HERE, s, step)
            if not sm or not os.path.exists(os.path.join(d, "metrics.json")):
                continue
            # A finished step writes metrics.json after config.json (an interrupted rerun rewrites config.json).
            if os.path.getmtime(os.path.join(d, "metrics.json")) < os.path.getmtime(os.path.join(d, "config.json")):
                continue
            rows, floor, n = load_step(d)
            samples = n
            data.setdefault(seed, {})[int(sm.group(1))] = (rows, floor)
    return data, samples


def mean_std(v):
    v = [x for x in v if x is not None]
    if not v:
        return None
    m = sum(v) / len(v)
    s = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else float("nan")
    return m, s, len(v)


def f(x, d=4):
    return "-" if x is None else ("%." + str(d) + "g") % x


def ms(t, d=4):
    if t is None:
        return "-"
    m, s, n = t
    return "%s +- %s" % (f(m, d), "-" if math.isnan(s) else f(s, 2))


def ci(v, c, d=4):
    return "%s [%s, %s]" % (f(v, d), f(c[0], d), f(c[1], d)) if c else f(v, d)


def disjoint(a, b):
    return a and b and (a[1] < b[0] or b[1] < a[0])


def compare(data, budgets, pairs, rows, what):
    """Per seed: row minus ar on FD and KID at the given (row budget, ar budget) pairs, and whether the two
    runs' 95% intervals are disjoint."""
    lines = []
    for (b_row, b_ar) in pairs:
        for name in rows:
            cells = []
            for seed in sorted(data):
                st = data[seed]
                if b_row not in st or b_ar not in st or name not in st[b_row][0]:
                    continue
                r, a = st[b_row][0][name], st[b_ar][0][AR]
                cells.append("seed %d: FD %s (%s), KID %s (%s)" % (
                    seed, "%+.4g" % (r["fd"] - a["fd"]), "intervals disjoint" if disjoint(r["fd_ci"], a["fd_ci"]) else "overlap",
                    "%+.3g" % (r["kid"] - a["kid"]), "intervals disjoint" if disjoint(r["kid_ci"], a["kid_ci"]) else "overlap"))
            if cells:
                lines.append("- %s at %d iterations minus ar at %d: %s" % (name, b_row, b_ar, "; ".join(cells)))
    return ["### " + what, ""] + (lines or ["(no finished pair yet)"]) + [""]


def plot(data, budgets, key, ylabel, path, logy=False):
    if subprocess.call(["which", "gnuplot"], stdout=subprocess.DEVNULL) != 0:
        return False
    dat = path + ".dat"
    plots = []
    with open(dat, "w") as out:
        for i, name in enumerate(ROWS):
            for b in budgets:
                vals = [data[s][b][0][name][key] for s in data if b in data[s] and name in data[s][b][0]
                        and data[s][b][0][name][key] is not None]
                t = mean_std(vals)
                if t:
                    out.write("%g %g %g\n" % (b, t[0], 0.0 if math.isnan(t[1]) else t[1]))
            out.write("\n\n")
            plots.append("'%s' index %d using 1:2:3 with yerrorlines title '%s'" % (dat, i, name))
    script = ["set terminal pngcairo size 900,560", "set output '%s'" % path, "set logscale x 2",
              "set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05",
              "set xlabel 'training iterations per network (batch 16); conditional-ar trains two networks'",
              "set ylabel '%s'" % ylabel, "set key top right", "set grid",
              "set title 'MNIST, small preset: mean and std over seeds'"]
    if logy:
        script.append("set logscale y")
    script.append("plot " + ", ".join(plots))
    subprocess.run(["gnuplot"], input="\n".join(script).encode(), check=True, stderr=subprocess.DEVNULL)
    os.remove(dat)
    return True


def main():
    data, samples = collect()
    budgets = sorted({b for s in data for b in data[s]})
    seeds = sorted(data)
    md = ["# MNIST v2: does distribution smoothing help PixelCNN++ at an equal budget? (issue 16)", "",
          "Command (from the repository root): `reports/mnist-v2/run.sh` (its header states the protocol); this "
          "report: `/usr/bin/python3 reports/mnist-v2/summarize.py`. The report of each finished budget: "
          + ", ".join("[seed %d, %d](seed-%d/iters-%d/report.md)" % (s, b, s, b) for s in seeds for b in sorted(data[s]))
          + ".", "",
          "Seeds: %s. Finished budgets (iterations of batch 16 per network): %s. %s samples per row. FD / KID: "
          "on the penultimate features of scorelab's MNIST LeNet (99.1%% test accuracy), not Inception; "
          "95%% bootstrap intervals in brackets (FD basic, KID percentile) cover the sampling noise of one run, "
          "the spread over seeds covers training and sampling. bits/dim: ar's exact test likelihood; "
          "smoothed-ar's two-stage variational bound (an upper bound on its NLL of the dequantized data)."
          % (", ".join(map(str, seeds)), ", ".join(map(str, budgets)), samples), ""]
    summary = {"seeds": seeds, "budgets": budgets, "samples_per_row": samples, "rows": {}}
    md += ["## Mean +- std over seeds", "",
           "| iterations | row | FD-classifier | KID-classifier | bits/dim (test) | classifier confidence | "
           "inpaint MSE (unknown) | train s (this budget's share) |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for b in budgets:
        for name in ROWS:
            rs = [data[s][b][0][name] for s in seeds if b in data[s] and name in data[s][b][0]]
            if not rs:
                continue
            agg = {k: mean_std([r[k] for r in rs]) for k in ["fd", "kid", "bits", "confidence", "inpaint_mse", "train_s"]}
            summary["rows"].setdefault(name, {})[str(b)] = {k: (None if v is None else {"mean": v[0], "std": v[1], "n": v[2]})
                                                            for k, v in agg.items()}
            md.append("| %d | %s | %s | %s | %s | %s | %s | %s |" % (
                b, name, ms(agg["fd"]), ms(agg["kid"], 3), ms(agg["bits"]), ms(agg["confidence"], 3),
                ms(agg["inpaint_mse"], 3), ms(agg["train_s"])))
        fl = [data[s][b][1] for s in seeds if b in data[s]]
        md.append("| %d | floor: real test vs real train | %s | %s | - | - | - | - |" % (
            b, ms(mean_std([x["fd"] for x in fl])), ms(mean_std([x["kid"] for x in fl]), 3)))
    md.append("")
    md += ["## Per seed, with each run's 95% intervals", "",
           "| seed | iterations | row | FD-classifier | KID-classifier | bits/dim |", "| --- | --- | --- | --- | --- | --- |"]
    for s in seeds:
        for b in sorted(data[s]):
            for name in ROWS:
                r = data[s][b][0].get(name)
                if r:
                    md.append("| %d | %d | %s | %s | %s | %s |" % (s, b, name, ci(r["fd"], r["fd_ci"]),
                                                                  ci(r["kid"], r["kid_ci"], 3), f(r["bits"])))
    md.append("")
    md += ["## Smoothing against plain AR", "",
           "A difference is called significant in a seed when the two runs' 95% intervals are disjoint; a claim "
           "needs that in every seed, with the same sign.", ""]
    md += compare(data, budgets, [(b, b) for b in budgets], ROWS[1:],
                  "Equal iterations per network (single-step rows: one network, ar's compute; conditional-ar: two "
                  "networks, twice ar's)")
    md += compare(data, budgets, [(b, 2 * b) for b in budgets if 2 * b in budgets], ROWS[1:2],
                  "Equal training compute for conditional-ar (its two networks at b against ar at 2b)")
    figs = []
    for key, label, name, logy in [("fd", "FD-classifier (lower is better)", "budget-fd.png", True),
                                   ("kid", "KID-classifier (lower is better)", "budget-kid.png", True),
                                   ("bits", "test bits/dim (ar exact; smoothed-ar bound)", "budget-bits.png", False)]:
        if budgets and plot(data, budgets, key, label, os.path.join(HERE, name), logy):
            figs.append("![%s](%s)" % (key, name))
    md += [" ".join(figs), "", "Reading: `analysis.md`.", ""]
    for name, text in [("summary.json", json.dumps(summary, indent=1)), ("report.md", "\n".join(md))]:
        tmp = os.path.join(HERE, name + ".tmp")
        with open(tmp, "w") as out:
            out.write(text)
        os.replace(tmp, os.path.join(HERE, name))
    print(os.path.join(HERE, "report.md"))


if __name__ == "__main__":
    main()
