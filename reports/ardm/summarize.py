"""Summarises reports/ardm (run.sh): ARDM beside plain AR on the toy (mean over seeds with 95% t-intervals, paired
differences) and on MNIST (FD/KID with bootstrap intervals, likelihoods, left-half inpainting with standard errors,
and ARDM's decoding-step sweep). Writes summary.md and summary.json.
Run: /usr/bin/python3 reports/ardm/summarize.py"""
import glob
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from summary_stats import cell, fmt, stats  # noqa: E402

TOY_KEYS = [("mmd2", "MMD^2"), ("mode_tv", "mode TV"), ("off_mode", "off-mode fraction"),
            ("true_logp", "mean true log p"), ("test_nll", "test NLL (nats)")]


def load(pattern):
    runs = {}
    for f in sorted(glob.glob(os.path.join(HERE, pattern, "metrics.json"))):
        name = os.path.basename(os.path.dirname(f))
        runs[name] = json.load(open(f))
    return runs


def toy_rows(part):
    runs = load(part + "/seed-*")
    by_seed = {}
    for name, m in runs.items():
        parts = name.split("-")
        seed = int(parts[1])
        variant = "-".join(parts[2:])
        rows = by_seed.setdefault(seed, {})
        for method, r in m["methods"].items():
            label = method if not variant else f"{method} (--ardm-steps 1)"
            rows[label] = r
        rows["reference (exact draws)"] = m["reference"]
    return by_seed


def toy_value(row, key):
    if row is None:
        return None
    v = row.get(key)
    return v if isinstance(v, (int, float)) else None


def section_toy(md, summary, part, title):
    by_seed = toy_rows(part)
    if not by_seed:
        return
    seeds = sorted(by_seed)
    labels = ["reference (exact draws)", "ar", "ardm", "ardm (--ardm-steps 1)"]
    md += [f"## {title}, {len(seeds)} seeds ({', '.join(map(str, seeds))})", "",
           "| method | " + " | ".join(k[1] for k in TOY_KEYS) + " |", "|---" * (len(TOY_KEYS) + 1) + "|"]
    summary[part] = {}
    for label in labels:
        cells, summary[part][label] = [], {}
        for key, _ in TOY_KEYS:
            s = stats([toy_value(by_seed[sd].get(label), key) for sd in seeds])
            summary[part][label][key] = s
            cells.append(cell(s))
        md.append(f"| {label} | " + " | ".join(cells) + " |")
    md += ["", "Paired differences (same seed):", "",
           "| difference | " + " | ".join(k[1] for k in TOY_KEYS[:5]) + " |", "|---" * 6 + "|"]
    summary[part + "_paired"] = {}
    for a, b in [("ardm", "ar"), ("ardm (--ardm-steps 1)", "ardm")]:
        cells, key_ab = [], f"{a} - {b}"
        summary[part + "_paired"][key_ab] = {}
        for key, _ in TOY_KEYS[:5]:
            d = [toy_value(by_seed[sd].get(a), key) - toy_value(by_seed[sd].get(b), key) for sd in seeds
                 if toy_value(by_seed[sd].get(a), key) is not None and toy_value(by_seed[sd].get(b), key) is not None]
            s = stats(d)
            summary[part + "_paired"][key_ab][key] = s
            sig = " *" if s and s["n"] > 1 and (s["lo"] > 0 or s["hi"] < 0) else ""
            cells.append(cell(s) + sig)
        md.append(f"| {key_ab} | " + " | ".join(cells) + " |")
    md += ["", "`test NLL`: ar exact; ardm the ELBO with one random ordering per test point (-log p_sigma(x)) on its "
           "256 bins, plus D log h for the uniform dequantization within a bin (a density, comparable with ar's). "
           "The reference row's test NLL is the true entropy. `*`: the interval excludes 0.", ""]


def mnist_value(row, key):
    q = row.get("quality", {})
    if key == "fd":
        return q.get("fd_classifier"), q.get("fd_classifier_ci95")
    if key == "kid":
        k = q.get("kid_classifier")
        if isinstance(k, dict):
            return k.get("mean"), k.get("ci95")
        return k, None
    return None, None


def section_mnist(md, summary):
    runs = load("mnist/seed-*")
    if not runs:
        return
    main = {k: v for k, v in runs.items() if "steps" not in k}
    md += ["## MNIST: small preset, PixelCNN++ (ar) and the ARDM U-Net at equal iterations", ""]
    summary["mnist"] = {}
    for name, m in sorted(main.items()):
        tpath = os.path.join(HERE, "mnist", name, "timings.json")
        timings = json.load(open(tpath))["methods"] if os.path.exists(tpath) else {}
        for method, t in timings.items():
            if method in m["methods"]:
                m["methods"][method].setdefault("train_s", t.get("train_s"))
                m["methods"][method].setdefault("sample_s_per_image", t.get("sample_s_per_image"))
        md += [f"### {name}", "", "| method | params | train s | FD-classifier [95%] | KID-classifier [95%] | "
               "likelihood bits/dim (+- se) | test objective bits/dim | left-half inpaint MSE (+- se) | "
               "sampling s/image |", "|---|---|---|---|---|---|---|---|---|"]
        for method in ["ar", "ardm"]:
            r = m["methods"].get(method)
            if r is None:
                continue
            fd, fdci = mnist_value(r, "fd")
            kid, kidci = mnist_value(r, "kid")
            lik = r.get("likelihoods") or {}
            lk = next(iter(lik.values())) if lik else {}
            inp = r.get("inpaint", {})
            summary["mnist"][f"{name}/{method}"] = {"fd": fd, "fd_ci95": fdci, "kid": kid, "kid_ci95": kidci,
                                                    "likelihood": lk, "inpaint": inp,
                                                    "test_objective": r.get("bits_per_dim")}
            ci = lambda c: f" [{fmt(c[0])}, {fmt(c[1])}]" if c else ""  # noqa: E731
            md.append(f"| {method} | {r.get('params')} | {fmt(r.get('train_s'))} | {fmt(fd)}{ci(fdci)} | "
                      f"{fmt(kid)}{ci(kidci)} | {fmt(lk.get('bits_per_dim'))} +- {fmt(lk.get('se'), 2)} "
                      f"({lk.get('kind', '-')}) | {fmt(r.get('bits_per_dim'))} | {fmt(inp.get('mse_unknown'))} +- "
                      f"{fmt(inp.get('mse_unknown_se'), 2)} ({inp.get('images', '-')} images) | "
                      f"{fmt(r.get('sample_s_per_image'))} |")
        fl = m["methods"]["ar"]["quality"].get("floor", {}) if "ar" in m["methods"] else {}
        if fl:
            md += ["", f"Floor (real test vs real train): FD {fmt(fl.get('fd_classifier'))}.", ""]
        a, b = m["methods"].get("ardm", {}).get("inpaint", {}), m["methods"].get("ar", {}).get("inpaint", {})
        if a.get("mse_unknown") is not None and b.get("mse_unknown") is not None:
            d = a["mse_unknown"] - b["mse_unknown"]
            se = math.sqrt((a.get("mse_unknown_se") or 0) ** 2 + (b.get("mse_unknown_se") or 0) ** 2)
            summary["mnist"][f"{name}/inpaint_difference"] = {"diff": d, "lo": d - 1.96 * se, "hi": d + 1.96 * se}
            md += [f"Inpainting, ardm - ar: {fmt(d)} [{fmt(d - 1.96 * se)}, {fmt(d + 1.96 * se)}] "
                   "(95% normal interval from the two standard errors; the completions are independent).", ""]
    # Across seeds: each seed's ardm - ar difference (same data, budget and evaluation), mean with a t-interval.
    if len(main) > 1:
        diffs = {"FD-classifier": [], "likelihood bits/dim": [], "left-half inpaint MSE": []}
        for name, m in sorted(main.items()):
            a, b = m["methods"].get("ardm"), m["methods"].get("ar")
            if a is None or b is None:
                continue
            diffs["FD-classifier"].append(mnist_value(a, "fd")[0] - mnist_value(b, "fd")[0])
            la, lb = next(iter((a.get("likelihoods") or {}).values()), {}), next(iter((b.get("likelihoods") or {}).values()), {})
            if la.get("bits_per_dim") is not None and lb.get("bits_per_dim") is not None:
                diffs["likelihood bits/dim"].append(la["bits_per_dim"] - lb["bits_per_dim"])
            ia, ib = a.get("inpaint", {}).get("mse_unknown"), b.get("inpaint", {}).get("mse_unknown")
            if ia is not None and ib is not None:
                diffs["left-half inpaint MSE"].append(ia - ib)
        md += ["### Across seeds: ardm - ar", "", "| quantity | per seed | mean +- std [95% t-interval] |", "|---|---|---|"]
        summary["mnist_across_seeds"] = {}
        for k, v in diffs.items():
            s = stats(v)
            summary["mnist_across_seeds"][k] = s
            md.append(f"| {k} | {', '.join(fmt(x) for x in v)} | {cell(s)} |")
        md.append("")
    sweep = {k: v for k, v in runs.items() if "steps" in k}
    if sweep:
        md += ["### ARDM decoding steps (from the same checkpoints)", "",
               "| run | --ardm-steps | network evaluations | FD-classifier [95%] | KID-classifier | sampling s/image |",
               "|---|---|---|---|---|---|"]
        summary["mnist_steps"] = {}
        rows = []
        for name, m in sweep.items():
            r = m["methods"]["ardm"]
            steps = int(name.split("steps")[-1])
            rows.append((steps, name, r))
        main_r = [(196, k + " (main run)", v["methods"]["ardm"]) for k, v in main.items() if "ardm" in v["methods"]]
        for steps, name, r in sorted(rows + main_r, key=lambda t: -t[0]):
            tpath = os.path.join(HERE, "mnist", name.split(" ")[0], "timings.json")
            if os.path.exists(tpath):
                r.setdefault("sample_s_per_image", json.load(open(tpath))["methods"]["ardm"].get("sample_s_per_image"))
            fd, fdci = mnist_value(r, "fd")
            kid, _ = mnist_value(r, "kid")
            summary["mnist_steps"][name] = {"steps": steps, "fd": fd, "fd_ci95": fdci, "kid": kid,
                                            "n": r["quality"].get("n_samples")}
            ci = f" [{fmt(fdci[0])}, {fmt(fdci[1])}]" if fdci else ""
            md.append(f"| {name} | {steps} | {steps} | {fmt(fd)}{ci} | {fmt(kid)} | {fmt(r.get('sample_s_per_image'))} |")
        md += ["", "The main run draws its own samples (a different count, see run.sh); FD depends on the sample count, "
               "so compare the sweep rows with each other.", ""]


def main():
    md = ["# ARDM beside plain AR (issue 15)", "",
          "Command: `reports/ardm/run.sh` (parts `toy`, `mnist`); this file: `/usr/bin/python3 reports/ardm/summarize.py`.",
          ""]
    summary = {}
    section_toy(md, summary, "toy", "Toy: `mog`, 25 equal modes on a 5x5 grid (x1 and x2 independent)")
    section_toy(md, summary, "toy-ring", "Toy: `mog-ring`, 8 modes on a circle (x1 and x2 dependent)")
    section_mnist(md, summary)
    open(os.path.join(HERE, "summary.md"), "w").write("\n".join(md))
    json.dump(summary, open(os.path.join(HERE, "summary.json"), "w"), indent=1, sort_keys=True)
    print("\n".join(md))


if __name__ == "__main__":
    main()
