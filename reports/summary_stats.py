"""Helpers shared by the report summarizers of issues 14 and 15 (reports/guidance, reports/ncsn-study/mnist):
mean, standard deviation and 95% t-interval over seeds, number formatting, and the class histogram's distance
to uniform. Import with sys.path.insert(0, <the reports folder>)."""
import math

# Two-sided 97.5% quantiles of Student's t by degrees of freedom.
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


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

