#!/usr/bin/python3
"""Writes reports/mnist-small/report.md from the runs' metrics.json and timings.json files (run by run.sh)."""
import json
import os

here = os.path.dirname(os.path.abspath(__file__))
runs = ["ar", "smoothed-ar-stage1", "smoothed-ar-stage2-stacked", "smoothed-ar-stage2-stream", "ncsn", "ddpm",
        "ddpm-hybrid"]
rows = []
for name in runs:
    path = os.path.join(here, name, "metrics.json")
    if not os.path.exists(path):
        continue
    m = json.load(open(path))
    tpath = os.path.join(here, name, "timings.json")  # wall-clock figures live beside metrics.json
    if os.path.exists(tpath):
        m.update(json.load(open(tpath)))
    cfg = json.load(open(os.path.join(here, name, "config.json")))
    rows.append((name, m, cfg))

out = ["# Short MNIST runs of every method (small preset, 2-core CPU)", "",
       "Command (from the repository root): `reports/mnist-small/run.sh` (each run is "
       "`scripts/run train --dataset mnist --preset small --method ... --out reports/mnist-small/NAME`; "
       "this table: `/usr/bin/python3 reports/mnist-small/summarize.py`).", "",
       "Test loss on the first 500 MNIST test images with fixed noise, before training (random init) and "
       "after; curves in each folder's `losses.png` and `test_loss.csv`. Likelihood models report bits/dim "
       "(stage 1: of the smoothed images x~; stage 2: of x + N(0, 0.01^2) given x~, a continuous density, "
       "so it can be negative), ncsn its DSM loss, ddpm its eps MSE. These are short runs on a CPU to show "
       "that every method trains, not converged results.", "",
       "| run | model | params | iters | batch | test loss initial | test loss final | unit | images/s | train s |",
       "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
for name, m, cfg in rows:
    out.append("| {} | {} | {:,} | {} | {} | {:.4g} | {:.4g} | {} | {:.1f} | {:.0f} |".format(
        name, m["model"], m["params"], m["iters"], cfg["train"]["batch_size"], m["test_loss_initial"],
        m["test_loss_final"], m["loss_unit"], m["images_per_s"], m["train_s"]))
out.append("")
for name, m, cfg in rows:
    out.append("![{}]({}/losses.png)".format(name, name))
    out.append("")
open(os.path.join(here, "report.md"), "w").write("\n".join(out))
print("\n".join(out[:8 + len(rows) + 2]))
