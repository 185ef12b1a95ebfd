#!/usr/bin/env python3
"""Builds reports/samplers-toy/report.md from the runs/ written by run.sh."""
import json
import os

here = os.path.dirname(os.path.abspath(__file__))
runs = os.path.join(here, "runs")
rows = []
for name in sorted(os.listdir(runs)):
    if not name.endswith(".metrics.json"):
        continue
    stem = name[: -len(".metrics.json")]
    m = json.load(open(os.path.join(runs, name)))
    t = json.load(open(os.path.join(runs, stem + ".timings.json")))
    method, score, sampler = stem.split("-", 2)
    r = m["methods"][method]
    tt = t.get("methods", {}).get(method, {})
    rows.append((method, score, sampler, r["mmd2"], r["mode_tv"], r["off_mode"], r.get("nfe"),
                 r.get("acceptance_rate"), tt.get("sample_s")))
ref = m.get("reference", {})


def f(v, p=4):
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.{p}g}"
    return str(v)


lines = ["# Every sampler on the 2-D toy, exact and learned scores", "",
         "Command: `reports/samplers-toy/run.sh` (from the repository root; each row is "
         "`compare --method M --score S --sampler X --dataset mog --seed 0 --threads 1 --resume`, the models trained "
         "once per (method, score) at the toy defaults: 5000 iterations, MLP 128 x 3).", "",
         "10,000 samples per row against 10,000 exact draws of the 25-mode mixture. `nfe`: network (or exact score) "
         "evaluations per sample; `sample_s`: wall-clock seconds for all 10,000 (1 thread, noisy shared machine). "
         "Sampler settings are the defaults (`--steps 50` for ddim / pc / ode / edm; annealed Langevin and mala "
         "10 levels x 100 steps, eps 2e-5; ode `rk45` rtol = atol = 1e-5 per interval).", "",
         f"Floor (a second set of exact draws): MMD^2 {f(ref.get('mmd2'))}, mode TV {f(ref.get('mode_tv'))}, "
         f"off-mode {f(ref.get('off_mode'))}.", "",
         "| method | score | sampler | MMD^2 | mode TV | off-mode | nfe | acceptance | sample_s |",
         "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
for r in rows:
    lines.append("| " + " | ".join(f(v) for v in r) + " |")
open(os.path.join(here, "report.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
