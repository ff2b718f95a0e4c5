#!/usr/bin/env python3
"""Tables of scripts/method-study: python3 scripts/method_table.py OUT_DIR METHODS (comma-separated).

Reads each run's metrics.json / metrics.csv (odegan_mog) and spectrum/spectrum.json
(odegan_spectrum) and prints markdown: the matched-h and matched-cost designs (mean ± std
over seeds of modes and high-quality fraction, evaluations and time per step), the largest
stable h, and the spectrum along one run per method."""
import csv
import glob
import json
import math
import os
import sys

EVALS = {"euler": 1, "ab2": 1, "ab3": 1, "rk2": 2, "midpoint": 2, "extragradient": 2, "symplectic_euler": 2, "rk4": 4}


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def iterations(run):
    try:
        with open(os.path.join(run, "metrics.csv")) as f:
            its = [float(r["iterations"]) for r in csv.DictReader(f) if r.get("iterations") not in (None, "", "nan")]
        return sum(its) / len(its) if its else None
    except OSError:
        return None


def evals_per_step(method, run):
    if method in EVALS:
        return float(EVALS[method])
    it = iterations(run)
    return None if it is None else 1.0 + it


def mean_std(xs):
    if not xs:
        return "–"
    m = sum(xs) / len(xs)
    s = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return f"{m:.1f} ± {s:.1f}"


def seeds_table(out, design, methods, title):
    rows = []
    for m in methods:
        runs = sorted(glob.glob(os.path.join(out, design, m, "s*")))
        runs = [r for r in runs if os.path.isdir(r)]
        if not runs:
            continue
        modes, hq, ms, ev, div, h, steps = [], [], [], [], 0, None, None
        for r in runs:
            if os.path.exists(os.path.join(r, "diverged")):
                div += 1
                continue
            s = load(os.path.join(r, "metrics.json"))
            if s is None:
                continue
            modes.append(s["modes_covered"])
            hq.append(100 * s["hq_fraction"])
            ms.append(s["ms_per_step"])
            h, steps = s["h"], s["steps"]
            e = evals_per_step(m, r)
            if e is not None:
                ev.append(e)
        n = len(modes) + div
        if n == 0:
            continue
        e = f"{sum(ev) / len(ev):.2f}" if ev else "?"
        t = f"{sum(ms) / len(ms):.2f}" if ms else "–"
        cost = f"{float(e) * steps / 1000:.0f}k" if ev and steps else "?"
        rows.append(f"| {m} | {h if h is not None else '?'} | {steps if steps else '?'} | {e} | {cost} | {t} "
                    f"| {mean_std(modes)} | {mean_std(hq)} | {div} of {n} |")
    if rows:
        print(f"### {title}\n")
        print("| method | h | steps | evaluations / step | evaluations | ms / step | modes (of 16) | high-quality % "
              "| diverged |")
        print("|---|---|---|---|---|---|---|---|---|")
        print("\n".join(rows))
        print()


def hmax_table(out, methods):
    hs = ["0.1", "0.2", "0.4", "0.8"]
    rows = []
    for m in methods:
        cells = []
        for h in hs:
            r = os.path.join(out, "hmax", m, "h" + h)
            if os.path.exists(os.path.join(r, "diverged")):
                cells.append("diverged")
                continue
            s = load(os.path.join(r, "metrics.json"))
            cells.append("–" if s is None else f"{s['modes_covered']}/16, {100 * s['hq_fraction']:.0f} %")
        if any(c != "–" for c in cells):
            rows.append(f"| {m} | " + " | ".join(cells) + " |")
    if rows:
        print("### Largest stable h (seed 1, t = 1 500: modes covered, high-quality %)\n")
        print("| method | " + " | ".join(f"h = {h}" for h in hs) + " |")
        print("|---|" + "---|" * len(hs))
        print("\n".join(rows))
        print()


def growth(method, z):
    """As apps/common/spectrum.cpp: |R(z)| or the largest root modulus (AB methods)."""
    if method == "euler":
        return abs(1 + z)
    if method == "rk2":
        return abs(1 + z + z * z / 2)
    if method == "rk4":
        return abs(1 + z + z ** 2 / 2 + z ** 3 / 6 + z ** 4 / 24)
    if method == "trapezoid":
        return abs((1 + z / 2) / (1 - z / 2)) if z != 2 else float("inf")
    coeffs = {"ab2": [1, -1 - 1.5 * z, 0.5 * z], "ab3": [1, -1 - z * 23 / 12, z * 16 / 12, -z * 5 / 12]}[method]
    d = len(coeffs) - 1
    roots = [(0.4 + 0.9j) ** k for k in range(d)]  # Durand-Kerner
    for _ in range(200):
        new = []
        for i, r in enumerate(roots):
            num = sum(c * r ** (d - k) for k, c in enumerate(coeffs))
            den = 1
            for j, q in enumerate(roots):
                if j != i:
                    den *= r - q
            new.append(r - num / den if den != 0 else r)
        roots = new
    return max(abs(r) for r in roots)


def decaying_outside(d, h):
    """Per method: eigenvalues with Re < -1e-4 max|lambda| whose h*lambda is outside the region."""
    try:
        with open(os.path.join(d, "spectrum", "eigenvalues.csv")) as f:
            ev = [complex(float(r["re"]), float(r["im"])) for r in csv.DictReader(f)]
    except OSError:
        return None
    if not ev:
        return None
    tol = 1e-4 * max(abs(z) for z in ev)
    out = {}
    for m in ("euler", "rk2", "rk4", "ab2", "ab3", "trapezoid"):
        out[m] = sum(1 for z in ev if z.real < -tol and growth(m, h * z) > 1 + 1e-9)
    return out


def spectrum_table(out, methods):
    rows = []
    for m in methods:
        for t in (1000, 5000, 15000, 30000):
            d = os.path.join(out, "h", m, "s1") if t == 30000 else os.path.join(out, "spec", m, f"t{t}")
            sp = load(os.path.join(d, "spectrum", "spectrum.json"))
            if sp is None:
                continue
            big = sp["largest_modulus"][0] if sp["largest_modulus"] else [float("nan")] * 2
            left = sp["smallest_real_part"][0] if sp["smallest_real_part"] else [float("nan")] * 2
            dec = decaying_outside(d, sp["h"]) or {}
            outside = ", ".join(f"{k} ({n})" for k, n in dec.items() if n > 0) or "none"
            rows.append(f"| {m} | {sp['step']} | {sp['max_real_part']:.3g} | {sp.get('positive_real_count', '?')} "
                        f"| {big[0]:.3g}{big[1]:+.3g}i | {left[0]:.3g}{left[1]:+.3g}i | {outside} |")
    if rows:
        print("### The Jacobian's spectrum along seed 1's matched-h run (h = 0.1)\n")
        print("| method | step | max Re λ | eigenvalues with Re λ > 0 | largest abs λ | smallest Re λ "
              "| decaying directions (Re λ < 0) outside the region of |")
        print("|---|---|---|---|---|---|---|")
        print("\n".join(rows))
        print()


def main():
    out, methods = sys.argv[1], sys.argv[2].split(",")
    seeds_table(out, "h", methods, "Matched step: h = 0.1, 30 000 steps (t = 3 000), mean ± std over seeds")
    seeds_table(out, "cost", methods + ([] if "rk4" in methods else ["rk4"]),
                "Matched cost: 120 000 velocity evaluations over t = 3 000 (RK4 is the matched-h run)")
    hmax_table(out, methods)
    spectrum_table(out, methods)


if __name__ == "__main__":
    main()
