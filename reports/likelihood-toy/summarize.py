#!/usr/bin/env python3
"""reports/likelihood-toy/report.md from the runs' metrics.json / timings.json (run.sh writes them)."""
import json
import os

here = os.path.dirname(os.path.abspath(__file__))


def load(run):
    d = os.path.join(here, run)
    m = json.load(open(os.path.join(d, "metrics.json")))
    t = json.load(open(os.path.join(d, "timings.json"))) if os.path.exists(os.path.join(d, "timings.json")) else {}
    return m, t


def fmt(x, digits=4):
    return "-" if x is None else f"{x:.{digits}f}"


lines = ["# Likelihoods on the toy mixtures (issue 12)", "",
         "Command: `reports/likelihood-toy/run.sh` (from the repository root). Each run is `compare` with its "
         "default training (5000 iterations per model, seed 0) and 2000 held-out exact draws; the numbers are "
         "negative log-likelihoods in nats per example (lower is better), `se` the standard error of the mean "
         "over the draws, `95% CI` = nll +- 1.96 se, `nfe` the function evaluations per example. Kinds: exact "
         "(ar), upper bounds (smoothed-ar's two-stage bound, ddpm's variational bound), and probability-flow ODE "
         "estimates (ncsn, ddpm; exact divergence, rk45 at rtol = atol = 1e-5, from sigma_min where the data are "
         "taken to be). The reference row is the true entropy of the same draws.", ""]
for ds in ["mog", "mog-1d"]:
    lines += [f"## `{ds}`", "", "| method | score | kind | nll | se | 95% CI | nfe | seconds |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    ref = None
    for score in ["learned", "exact"]:
        run = f"{ds}-{score}"
        if not os.path.exists(os.path.join(here, run, "metrics.json")):
            continue
        m, t = load(run)
        if ref is None:
            ref = m["reference"]["test_nll"]
            lines.append(f"| reference | - | true entropy | {fmt(ref)} | - | - | - | - |")
        for name, row in m["methods"].items():
            for key, l in row.get("likelihoods", {}).items():
                secs = t.get("methods", {}).get(name, {}).get("likelihoods", {}).get(key, {}).get("seconds")
                nll, se = l["nll"], l["se"]
                ci = "-" if se is None else f"[{nll - 1.96 * se:.4f}, {nll + 1.96 * se:.4f}]"
                lines.append(f"| {name} | {score} | {l['kind']} | {fmt(nll)} | {fmt(se)} | {ci} | "
                             f"{l['nfe']:.0f} | {fmt(secs, 2)} |")
    lines.append("")
lines += ["Per-run reports (samples, metrics, commands): " +
          ", ".join(f"[{r}]({r}/report.md)" for r in ["mog-learned", "mog-exact", "mog-1d-learned", "mog-1d-exact"]), ""]
open(os.path.join(here, "report.md"), "w").write("\n".join(lines))
print("wrote", os.path.join(here, "report.md"))
