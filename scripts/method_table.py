#!/usr/bin/env python3
"""Tabulates scripts/method-study: python3 scripts/method_table.py OUT_DIR METHODS (comma-separated)."""
import csv
import json
import math
import os
import sys

# Velocity evaluations per step (each a forward and backward of both players); the implicit
# methods add their logged iterations.
EVALS = {"euler": 1, "gd": 1, "rk2": 2, "heun": 2, "midpoint": 2, "rk4": 4, "ab2": 1, "ab3": 1,
         "extragradient": 2, "symplectic_euler": 2}


def mean_iterations(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    its = [float(r["iterations"]) for r in rows if r.get("iterations") not in (None, "", "nan")]
    return sum(its) / len(its) if its else float("nan")


def main():
    out, methods = sys.argv[1], sys.argv[2].split(",")
    print("| method | modes (of 16) | high-quality | evaluations / step | ms / step | max Re λ | max abs λ "
          "| h·λ in the method's region |")
    print("|---|---|---|---|---|---|---|---|")
    for m in methods:
        d = os.path.join(out, m)
        try:
            s = json.load(open(os.path.join(d, "metrics.json")))
        except (OSError, ValueError):
            print(f"| {m} | (no result) | | | | | | |")
            continue
        ev = EVALS.get(m)
        if ev is None and m in ("implicit_midpoint", "trapezoid"):
            ev = 1 + mean_iterations(os.path.join(d, "metrics.csv"))
        evs = "?" if ev is None else (f"{ev:.2f}" if isinstance(ev, float) else str(ev))
        re = ab = "?"
        inside = "?"
        try:
            sp = json.load(open(os.path.join(d, "spectrum", "spectrum.json")))
            re, ab = f"{sp['max_real_part']:.3g}", f"{sp['max_modulus']:.3g}"
            key = "trapezoid" if m == "implicit_midpoint" else m
            st = sp["stability_at_h"].get(key)
            if st is not None:
                inside = "yes" if st["stable"] else f"no ({st['eigenvalues_outside']} outside)"
            else:
                inside = "n/a"
        except (OSError, ValueError, KeyError):
            pass
        print(f"| {m} | {s['modes_covered']} | {100 * s['hq_fraction']:.1f} % | {evs} | {s['ms_per_step']:.2f} "
              f"| {re} | {ab} | {inside} |")


if __name__ == "__main__":
    main()
