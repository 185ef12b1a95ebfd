#!/usr/bin/python3
"""Writes reports/precision/report.md and curves.png from the runs of reports/precision/run.sh (fp32 vs bf16 training
of each image network at the small MNIST preset)."""
import csv
import json
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
here = os.path.dirname(os.path.abspath(__file__))
runs = os.path.join(here, "runs")
nets = [("stage1", "PixelCNN++, smoothed-ar stage 1 (x~ = x + 0.5 z)", "bits/dim"),
        ("stage2", "PixelCNN++ stacked p(x \\| x~), smoothed-ar stage 2", "bits/dim"),
        ("ncsn", "NCSNv2 (DSM)", "DSM loss"),
        ("ddpm", "DDPM U-Net (L_simple)", "eps MSE")]


def load(net, precision, seed):
    d = os.path.join(runs, f"{net}-{precision}-s{seed}")
    if not os.path.exists(os.path.join(d, "metrics.json")):
        return None
    m = json.load(open(os.path.join(d, "metrics.json")))
    t = json.load(open(os.path.join(d, "timings.json"))) if os.path.exists(os.path.join(d, "timings.json")) else {}
    curve = []
    with open(os.path.join(d, "test_loss.csv")) as f:
        for row in csv.reader(f):
            if row and row[0].isdigit():
                curve.append((int(row[0]), float(row[1])))
    return {"m": m, "t": t, "curve": curve, "dir": d}


seeds = sorted({int(m.group(1)) for n in os.listdir(runs) for m in [re.fullmatch(r"\w+-(?:fp32|bf16)-s(\d+)", n)] if m})
rows, pairs = [], []
for net, what, unit in nets:
    for s in seeds:
        a, b = load(net, "fp32", s), load(net, "bf16", s)
        if not a or not b:
            continue
        fa, fb = a["m"]["test_loss_final"], b["m"]["test_loss_final"]
        rel = (fb - fa) / abs(fa) * 100.0
        # The test loss's own wobble: the largest change between two consecutive evaluations of the fp32 run over its
        # last half (the same fixed test images and noise, so this is the training noise, not evaluation noise).
        tail = [v for i, v in a["curve"] if i >= a["m"]["iters"] // 2]
        wobble = max((abs(x - y) for x, y in zip(tail, tail[1:])), default=float("nan"))
        rows.append(f"| {net} | {what} | {s} | {unit} | {a['m']['test_loss_initial']:.4f} | {fa:.4f} | {fb:.4f} | "
                    f"{rel:+.2f}% | {wobble:.4f} | {'yes' if abs(fb - fa) > wobble else 'no'} |")
        pairs.append((net, s, a, b, rel, wobble))

# Figure: test-loss curves, fp32 solid and bf16 dashed, one panel per network.
fig = os.path.join(here, "curves.png")
gp = ["set terminal pngcairo size 1200,800 font 'Sans,10' noenhanced", f"set output '{fig}'",
      "set multiplot layout 2,2 title 'test loss during training: fp32 (solid) vs bf16 (dashed), small MNIST preset'",
      "set key top right", "set xlabel 'iteration'", "set grid"]
data_blocks = []
for net, what, unit in nets:
    got = [(s, a, b) for n, s, a, b, _, _ in pairs if n == net]
    gp.append("set title '" + what.replace("\\|", "|") + "'")
    gp.append(f"set ylabel 'test {unit}'")
    if not got:
        gp.append("set label 1 'not run' at graph 0.4, 0.5")
        gp.append("plot [0:1] [0:1] NaN notitle")
        gp.append("unset label 1")
        continue
    plots = []
    for s, a, b in got:
        for prec, run, dt in (("fp32", a, 1), ("bf16", b, 2)):
            name = f"${net}_{prec}_{s}"
            data_blocks.append(f"{name} << EOD\n" + "\n".join(f"{i} {v}" for i, v in run["curve"]) + "\nEOD")
            plots.append(f"{name} using 1:2 with linespoints dt {dt} lc {s + 1} title '{prec} seed {s}'")
    gp.append("plot " + ", ".join(plots))
gp.append("unset multiplot")
script = "\n".join(data_blocks + gp) + "\n"
try:
    subprocess.run(["gnuplot"], input=script.encode(), check=True)
except (OSError, subprocess.CalledProcessError) as e:
    print(f"summarize.py: no figure ({e})", file=sys.stderr)

out = ["# bf16 mixed precision vs fp32: training quality (issue 17)", "",
       "Command (from the repository root): `reports/precision/run.sh` (then this page: "
       "`/usr/bin/python3 reports/precision/summarize.py`).", "",
       "Each image network at the small preset (1000 iterations of batch 16 on MNIST, Adam, test loss on the first 500 "
       "test images with fixed noise every 100 iterations), once with `--precision fp32` and once with `--precision "
       "bf16` from the same seed: the same initialisation, data order, noise and dropout draws, so the two runs differ "
       "only by the arithmetic. bf16 runs the convolutions and matrix products under bf16 autocast; weights, Adam "
       "state and the losses stay fp32. One thread per run; `cpu.txt` names the CPU (and its bf16 flags) of each run.sh invocation.", "",
       "| net | model | seed | loss | initial | final fp32 | final bf16 | bf16 - fp32 | fp32 wobble | gap > wobble |",
       "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"] + rows + [
       "",
       "`fp32 wobble`: the largest change of the fp32 run's test loss between two consecutive evaluations (100 "
       "iterations apart) over its second half, on the same test images and noise: how much the final value moves "
       "by training noise alone. A bf16 - fp32 gap below it is not a precision effect that this run can resolve.", "",
       "No timings here: the runs shared the machine with builds, tests and each other, and some were paused; the "
       "speed of bf16 is measured by `scripts/bench` (`reports/performance.md`).", "",
       "![test-loss curves](curves.png)", ""]
within = [f"{n} ({r:+.2f}%)" for n, s, a, b, r, w in pairs if abs(r) <= 1.0]
outside = [f"{n} ({r:+.2f}%)" for n, s, a, b, r, w in pairs if abs(r) > 1.0]
out.append("Within 1% of fp32: " + (", ".join(within) if within else "none") + ".")
out.append("")
out.append("Outside 1%: " + (", ".join(outside) if outside else "none") + ".")
out.append("")
open(os.path.join(here, "report.md"), "w").write("\n".join(out))
print("\n".join(out))
