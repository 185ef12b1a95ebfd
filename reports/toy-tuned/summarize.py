#!/usr/bin/env python3
"""reports/toy-tuned: the search table, the chosen configurations and the default-vs-tuned comparison.

  summarize.py --select   prints "method flags" per method: the search cell with the lowest MMD^2
  summarize.py            writes report.md, summary.json and tuned.png (gnuplot) from search/ and final/
"""
import json
import math
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = ["ar", "smoothed-ar", "ncsn", "ddpm"]
KEYS = ["mmd2", "mode_tv", "off_mode", "true_logp", "test_nll"]


def load(d):
    m = json.load(open(os.path.join(d, "metrics.json")))
    t = json.load(open(os.path.join(d, "timings.json")))
    return m, t


def row(d, method):
    m, t = load(d)
    r = dict(m["methods"][method])
    r["train_s"] = t["methods"][method]["train_s"]
    r["sample_s"] = t["methods"][method]["sample_s"]
    r["reference"] = m["reference"]
    return r


def flags_of(cell):
    # "hidden=128_lr=1e-3" -> "--hidden=128 --lr=1e-3"
    return " ".join("--" + part for part in cell.split("_"))


def search(method):
    base = os.path.join(HERE, "search", method)
    cells = []
    for cell in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        d = os.path.join(base, cell)
        if os.path.isfile(os.path.join(d, "metrics.json")):
            cells.append((cell, row(d, method)))
    return cells


def mean_std(v):
    v = [x for x in v if x is not None and not (isinstance(x, float) and math.isnan(x))]
    if not v:
        return None
    m = sum(v) / len(v)
    s = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
    return {"mean": m, "std": s, "n": len(v)}


def fmt(x, digits=4):
    if x is None:
        return "-"
    return ("%." + str(digits) + "g") % x


def cell_ms(ms, digits=3):
    return "-" if ms is None else "%s +- %s" % (fmt(ms["mean"], digits), fmt(ms["std"], 2))


def main():
    if "--select" in sys.argv:
        for m in METHODS:
            cells = search(m)
            if len(cells) < 8:
                if "--partial" in sys.argv:
                    continue  # only the methods whose search is complete
                sys.exit("reports/toy-tuned: the search of %s has %d of 8 cells; run run.sh first" % (m, len(cells)))
            best = min(cells, key=lambda c: c[1]["mmd2"])
            print(m, flags_of(best[0]))
        return

    md = ["# Equal-architecture and tuned toy comparison on `mog` (issue 16)", "",
          "Command (from the repository root): `reports/toy-tuned/run.sh` (this report: "
          "`/usr/bin/python3 reports/toy-tuned/summarize.py`).", "",
          "Data: 25 equal Gaussian modes on a 5x5 grid, spacing 2, std 0.1. Every run is `compare --method M "
          "--dataset mog` with the toy-lab defaults (MLP of 3 hidden layers, 5000 iterations of batch 512, Adam 2e-3 "
          "with a cosine decay, 10000 samples) and the flags of its configuration; metrics as in "
          "`reports/toy-mog/report.md` (MMD^2 against exact draws, mode_tv: total variation of the mode weights, "
          "off_mode: share of samples beyond 3 std of every mode).", "",
          "**Equal compute for the search.** Each method gets the same search: 8 configurations, each trained for "
          "5000 iterations of batch 512 and scored at the selection seed 100. The configuration with the lowest "
          "MMD^2 of the method's own row is chosen; the final runs use seeds 0, 1, 2, which the search never saw. "
          "smoothed-ar trains two networks per configuration (its search therefore cost about twice the "
          "training time of ar's: the table gives the seconds).", ""]
    summary = {"search": {}, "selected": {}, "final": {}}
    for m in METHODS:
        cells = search(m)
        summary["search"][m] = {c: {k: r.get(k) for k in KEYS + ["train_s"]} for c, r in cells}
        if not cells:
            continue
        best = min(cells, key=lambda c: c[1]["mmd2"])[0]
        summary["selected"][m] = flags_of(best)
        md += ["## Search: %s (seed 100), total training %.0f s" % (m, sum(r["train_s"] for _, r in cells)), "",
               "| configuration | mmd2 | mode_tv | off_mode | true_logp | test_nll | train_s |",
               "| --- | --- | --- | --- | --- | --- | --- |"]
        for c, r in cells:
            md.append("| %s%s | %s | %s | %s | %s | %s | %.1f |" % (
                "**chosen** " if c == best else "", flags_of(c), fmt(r["mmd2"]), fmt(r["mode_tv"], 3),
                fmt(r["off_mode"], 3), fmt(r["true_logp"]), fmt(r.get("test_nll")), r["train_s"]))
        md.append("")

    md += ["## Default against tuned, seeds 0, 1, 2 (mean +- sample std over seeds)", "",
           "| method | configuration | mmd2 | mode_tv | off_mode | true_logp | test_nll | train_s | sample_s |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    ref = []
    plot = []
    for m in METHODS:
        for kind in ["default", "tuned"]:
            base = os.path.join(HERE, "final", m, kind)
            rows = []
            for s in [0, 1, 2]:
                d = os.path.join(base, "seed-%d" % s)
                if os.path.isfile(os.path.join(d, "metrics.json")):
                    rows.append(row(d, m))
            if not rows:
                continue
            if m == METHODS[0] and kind == "default":
                ref = [r["reference"] for r in rows]
            agg = {k: mean_std([r.get(k) for r in rows]) for k in KEYS + ["train_s", "sample_s"]}
            agg["seeds"] = len(rows)
            agg["flags"] = "(toy-lab defaults)" if kind == "default" else summary["selected"].get(m, "?")
            summary["final"].setdefault(m, {})[kind] = agg
            md.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                m, agg["flags"] + ("" if len(rows) == 3 else " (%d seeds)" % len(rows)), cell_ms(agg["mmd2"]),
                cell_ms(agg["mode_tv"]), cell_ms(agg["off_mode"]), cell_ms(agg["true_logp"]), cell_ms(agg["test_nll"]),
                cell_ms(agg["train_s"]), cell_ms(agg["sample_s"])))
            plot.append((m + " " + kind, agg))
    if ref:
        r = {k: mean_std([x.get(k) for x in ref]) for k in KEYS}
        md.append("| reference (exact draws) | - | %s | %s | %s | %s | %s | - | - |" % (
            cell_ms(r["mmd2"]), cell_ms(r["mode_tv"]), cell_ms(r["off_mode"]), cell_ms(r["true_logp"]),
            cell_ms(r["test_nll"])))
        summary["reference"] = r
    md.append("")
    if plot and subprocess.call(["which", "gnuplot"], stdout=subprocess.DEVNULL) == 0:
        data = os.path.join(HERE, "tuned.dat")
        with open(data, "w") as f:
            for i, (label, agg) in enumerate(plot):
                f.write('%d "%s" %g %g %g %g\n' % (i, label, agg["mode_tv"]["mean"], agg["mode_tv"]["std"],
                                                    agg["off_mode"]["mean"], agg["off_mode"]["std"]))
        script = """set terminal pngcairo size 1000,420
set output '%s'
set multiplot layout 1,2 title 'mog: toy-lab defaults against the tuned configuration (mean and std over 3 seeds)'
set style fill solid 0.6
set boxwidth 0.7
set xtics rotate by -35
set yrange [0:*]
set title 'mode weight TV'
plot '%s' using 1:3:4:xtic(2) with boxerrorbars notitle
set title 'share of samples off every mode'
plot '%s' using 1:5:6:xtic(2) with boxerrorbars notitle
unset multiplot
""" % (os.path.join(HERE, "tuned.png"), data, data)
        subprocess.run(["gnuplot"], input=script.encode(), check=True)
        os.remove(data)
        md += ["![default against tuned](tuned.png)", ""]
    md += ["Reading: `analysis.md`.", ""]
    with open(os.path.join(HERE, "summary.json.tmp"), "w") as f:
        json.dump(summary, f, indent=1)
    os.replace(os.path.join(HERE, "summary.json.tmp"), os.path.join(HERE, "summary.json"))
    with open(os.path.join(HERE, "report.md.tmp"), "w") as f:
        f.write("\n".join(md))
    os.replace(os.path.join(HERE, "report.md.tmp"), os.path.join(HERE, "report.md"))
    print(os.path.join(HERE, "report.md"))


if __name__ == "__main__":
    main()
