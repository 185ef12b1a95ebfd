#!/usr/bin/env python3
"""reports/mnist-likelihood/report.md from the evaluate runs (run.sh writes them)."""
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
n = sys.argv[1] if len(sys.argv) > 1 else "?"
rows = []
for name in ["ar", "smoothed-ar", "ncsn-ode", "ddpm-bound", "ddpm-ode"]:
    d = os.path.join(here, name)
    if not os.path.exists(os.path.join(d, "metrics.json")):
        continue
    m = json.load(open(os.path.join(d, "metrics.json")))
    t = json.load(open(os.path.join(d, "timings.json")))
    l = m["likelihood"]
    secs = t["likelihood"]["seconds"]
    per1000 = secs / l["n"] * 1000
    rows.append(f"| {m['method']} | {l['kind']} | {l['bits_per_dim']:.3f} | {l['se']:.3f} | "
                f"[{l['bits_per_dim'] - 1.96 * l['se']:.3f}, {l['bits_per_dim'] + 1.96 * l['se']:.3f}] | "
                f"{l['nfe']:.0f} | {per1000:.0f} |")
lines = ["# MNIST test likelihoods of every method (issue 12)", "",
         "Command: `reports/mnist-likelihood/run.sh` (from the repository root; it trains the reports/mnist-small "
         f"models, small preset, 1000 iterations of batch 16, then runs `evaluate` on the first {n} MNIST test "
         "images). Bits/dim on the 8-bit scale: ar exact (discretized), smoothed-ar the two-stage bound, ddpm the "
         "variational bound (25 strata, two timesteps each, discretized decoder), ncsn and ddpm the probability-flow "
         "ODE of uniformly dequantized images (Hutchinson, one Rademacher probe, rk45 at rtol = atol = 1e-3). `se`: "
         "standard error over the images; `s / 1000 images`: measured seconds scaled to 1000 images (2-core CPU, "
         "shared machine, timings vary ~2x).", "",
         "| method | kind | bits/dim | se | 95% CI | nfe per image | s / 1000 images |",
         "| --- | --- | --- | --- | --- | --- | --- |"] + rows + [""]
open(os.path.join(here, "report.md"), "w").write("\n".join(lines))
print("wrote", os.path.join(here, "report.md"))
