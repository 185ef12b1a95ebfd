#!/usr/bin/env python3
"""Tables and figures of reports/ncsn-study/mnist (issue 14, experiments 10 and 11 on MNIST).

Reads cells/<net>-<condition>/seed-S/{metrics,timings}.json written by run.sh and writes summary.md, summary.json,
fd.png (FD-classifier per variant with 95% t-intervals over the seeds) and samples-<net>-<condition>.png (seed 0's
grid; for a conditional model each sample was drawn for a uniformly random digit).
Usage (from the repository root): /usr/bin/python3 reports/ncsn-study/mnist/summarize.py
"""
import glob
import json
import math
import os
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = [("ncsnv2", "none"), ("unet", "none"), ("ncsnv2", "class"), ("unet", "class")]
# Two-sided 97.5% quantiles of Student's t by degrees of freedom.
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def read(path):
    with open(path) as f:
        return json.load(f)


def stats(values):
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return None
    m = sum(v) / len(v)
    s = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else float("nan")
    h = T975.get(len(v) - 1, 1.96) * s / math.sqrt(len(v)) if len(v) > 1 else float("nan")
    return {"mean": m, "std": s, "n": len(v), "lo": m - h, "hi": m + h, "values": v}


def fmt(x, digits=4):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if x == 0:
        return "0"
    a = abs(x)
    if a < 1e-3 or a >= 1e6:
        return f"{x:.{digits - 1}e}"
    return f"{x:.{max(0, digits - 1 - int(math.floor(math.log10(a))))}f}"


def cell(s, digits=4):
    if s is None:
        return "-"
    return f"{fmt(s['mean'], digits)} +- {fmt(s['std'], 2)} [{fmt(s['lo'], digits)}, {fmt(s['hi'], digits)}]"


def tv_uniform(counts):
    n = sum(counts)
    return 0.5 * sum(abs(c / n - 1 / len(counts)) for c in counts) if n else None


def train_seconds(seed_dir):
    """The trainer's cumulative seconds at its last logged iteration (train_loss.csv; kept across --resume)."""
    path = os.path.join(seed_dir, "checkpoints", "ncsn", "train_loss.csv")
    if not os.path.exists(path):
        return None
    rows = [line.split(",") for line in open(path).read().split("\n")[1:] if line.strip()]
    return float(rows[-1][3]) if rows else None


# The DSM loss of the zero score s = 0 on MNIST's [0, 1] scale: lambda(sigma) E ||z / sigma||^2 / 2 = D / 2.
ZERO_SCORE_LOSS = 28 * 28 / 2


def test_loss(seed_dir):
    path = os.path.join(seed_dir, "checkpoints", "ncsn", "metrics.json")
    return read(path).get("test_loss_final") if os.path.exists(path) else None


def collapsed(seed_dir):
    """A run whose network ended at the zero score (held-out DSM loss within 2% of D / 2)."""
    loss = test_loss(seed_dir)
    return loss is not None and abs(loss - ZERO_SCORE_LOSS) < 0.02 * ZERO_SCORE_LOSS


def seeds_of(net, cond):
    out = []
    for d in sorted(glob.glob(os.path.join(HERE, "cells", f"{net}-{cond}", "seed-*"))):
        if not os.path.exists(os.path.join(d, "metrics.json")):
            continue
        m = read(os.path.join(d, "metrics.json"))
        t = read(os.path.join(d, "timings.json")) if os.path.exists(os.path.join(d, "timings.json")) else {}
        out.append((d, m["methods"]["ncsn"], t.get("methods", {}).get("ncsn", {})))
    return out


def main():
    summary, rows = {}, []
    metrics = ["fd", "kid", "confidence", "class_tv", "agreement", "train_s", "sample_s"]
    per_seed = []
    for net, cond in VARIANTS:
        all_runs = seeds_of(net, cond)
        if not all_runs:
            continue
        for d, r, t in all_runs:
            q = r["quality"]
            per_seed.append((net, cond, os.path.basename(d), test_loss(d), collapsed(d), q["fd_classifier"],
                             tv_uniform(q["classifier_scores"]["class_counts"]),
                             r.get("label_agreement", {}).get("accuracy")))
        for subset, runs in (("all", all_runs), ("trained", [x for x in all_runs if not collapsed(x[0])])):
            if not runs:
                continue
            q = [r["quality"] for _, r, _ in runs]
            k = lambda kid: kid.get("all", kid.get("mean"))
            entry = {
                "seeds": len(runs),
                "params": runs[0][1].get("params"),
                "fd": stats([x["fd_classifier"] for x in q]),
                "kid": stats([k(x["kid_classifier"]) for x in q]),
                "confidence": stats([x["classifier_scores"]["mean_max_prob"] for x in q]),
                "class_tv": stats([tv_uniform(x["classifier_scores"]["class_counts"]) for x in q]),
                "class_tv_real": stats([tv_uniform(x["classifier_scores_real_test"]["class_counts"]) for x in q]),
                "agreement": stats([r["label_agreement"]["accuracy"] for _, r, _ in runs if "label_agreement" in r]),
                "train_s": stats([train_seconds(d) for d, _, _ in runs]),
                "sample_s": stats([t.get("sample_s_per_image") for _, _, t in runs]),
                "floor_fd": stats([x["floor"]["fd_classifier"] for x in q]),
                "test_loss": stats([test_loss(d) for d, _, _ in runs]),
            }
            if subset == "all" or len(runs) < len(all_runs):
                summary[f"{net}-{cond}" + ("" if subset == "all" else " (seeds that trained)")] = entry
        grid = os.path.join(all_runs[0][0], "samples-ncsn.png")
        if os.path.exists(grid):
            shutil.copyfile(grid, os.path.join(HERE, f"samples-{net}-{cond}.png"))
    with open(os.path.join(HERE, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)

    lines = ["# NCSN on MNIST: NCSNv2 vs a U-Net with an NCSN head, unconditional and class-conditional", "",
             "Generated by `reports/ncsn-study/mnist/summarize.py` from the runs of `reports/ncsn-study/mnist/run.sh` "
             "(the command of each run is in `cells/<net>-<condition>/config.json`). Entries: mean +- std over the "
             "seeds [95% t-interval of the mean]. 200 samples per seed.", "",
             "| network | condition | seeds | params | test DSM loss | FD-classifier | KID-classifier | classifier confidence | "
             "class TV to uniform | label agreement | train s | sampling s / image |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, e in summary.items():
        net, cond = name.split("-", 1)
        lines.append(f"| {net} | {cond} | {e['seeds']} | {e['params']:,} | {cell(e['test_loss'])} | {cell(e['fd'])} | {cell(e['kid'])} | "
                     f"{cell(e['confidence'], 3)} | {cell(e['class_tv'], 3)} | {cell(e['agreement'], 3)} | "
                     f"{cell(e['train_s'], 3)} | {cell(e['sample_s'], 3)} |")
    real = [e for e in summary.values() if e["floor_fd"]]
    if real:
        e = real[0]
        lines.append(f"| real test images (the floor) | - | {e['floor_fd']['n']} | - | - | {cell(e['floor_fd'])} | - | - | "
                     f"{cell(e['class_tv_real'], 3)} | - | - | - |")
    lines += ["", "Per seed (collapsed: the network ended at the zero score, held-out DSM loss D / 2 = 392):", "",
              "| network | condition | seed | test DSM loss | collapsed | FD-classifier | class TV | label agreement |",
              "|---|---|---|---:|---|---:|---:|---:|"]
    for net, cond, seed, loss, col, fd, tv, agr in per_seed:
        lines.append(f"| {net} | {cond} | {seed} | {fmt(loss)} | {'yes' if col else 'no'} | {fmt(fd)} | {fmt(tv, 3)} | {fmt(agr, 3)} |")
    lines += ["", "Class TV to uniform: total variation between the histogram of the classifier's argmax over the "
              "samples and the uniform distribution over the ten digits (the real row: the same number of real test "
              "images, i.e. the floor from sampling noise and MNIST's own class frequencies). Label agreement: how "
              "often the classifier's argmax is the digit the conditional sample was drawn for (chance: 0.1). Train s: "
              "the trainer's cumulative seconds (train_loss.csv), measured with two runs and other jobs sharing the 2 "
              "cores, so only their ratios mean much.", ""]
    for net, cond in VARIANTS:
        if os.path.exists(os.path.join(HERE, f"samples-{net}-{cond}.png")):
            lines.append(f"![{net} {cond}](samples-{net}-{cond}.png) `{net}`, `--condition {cond}` (seed 0)")
            lines.append("")
    with open(os.path.join(HERE, "summary.md"), "w") as f:
        f.write("\n".join(lines) + "\n")

    if summary and shutil.which("gnuplot"):
        data = os.path.join(HERE, "fd.dat")
        with open(data, "w") as f:
            for i, (name, e) in enumerate((n, e) for n, e in summary.items() if "(" not in n):
                f.write(f"{i} {e['fd']['mean']} {e['fd']['lo'] if math.isfinite(e['fd']['lo']) else e['fd']['mean']} "
                        f"{e['fd']['hi'] if math.isfinite(e['fd']['hi']) else e['fd']['mean']} \"{name}\"\n")
        png = os.path.join(HERE, "fd.png")
        subprocess.run(["gnuplot"], check=True, input=(
            f"set terminal pngcairo noenhanced size 640,400\nset output '{png}'\nset ylabel 'FD-classifier (lower is better)'\n"
            f"set xrange [-0.5:{sum('(' not in n for n in summary) - 0.5}]\nset yrange [0:*]\nset title 'NCSN on MNIST, 1000 iterations, 95% t-intervals'\n"
            f"plot '{data}' using 1:2:3:4:xtic(5) with yerrorbars pt 7 notitle\n").encode())
        os.remove(data)
    print(open(os.path.join(HERE, "summary.md")).read())


if __name__ == "__main__":
    main()
