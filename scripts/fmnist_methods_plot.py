#!/usr/bin/env python3
"""FD-FMNIST against training steps (matched h) and against velocity evaluations (matched
cost) for rows of a Fashion-MNIST study (scripts/fmnist-study), one seed. Writes a PNG.

  python3 scripts/fmnist_methods_plot.py runs/fmnist-study --seed 0 \
      --rows rk4,rk2,euler,ab2,symplectic_euler,implicit_midpoint --out docs/images/fmnist_methods.png

Evaluations per step: rk4 4, rk2 2, symplectic_euler 2, euler 1, ab2 1 (after its one
start-up step); implicit rows: the fixed-point iterations logged per step (each one
velocity evaluation), averaged over the logged steps and multiplied by the steps.
Needs matplotlib.
"""
import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

EVALS = {"rk4": 4, "rk2": 2, "heun": 2, "midpoint": 2, "symplectic_euler": 2, "extragradient": 2, "euler": 1,
         "ab2": 1, "ab3": 1}


def load(path):
    fd, iters = [], []
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            if "fd" in d:
                fd.append((d["step"], d["fd"]))
            elif "iterations" in d:
                iters.append(d["iterations"])
    return fd, iters


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows", default="rk4,rk2,euler,ab2,symplectic_euler,implicit_midpoint")
    ap.add_argument("--out", default="fmnist_methods.png")
    a = ap.parse_args()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for row in a.rows.split(","):
        path = os.path.join(a.study, f"{row}-s{a.seed}", "metrics.jsonl")
        if not os.path.exists(path):
            print(f"fmnist_methods_plot: {path} missing: row skipped")
            continue
        fd, iters = load(path)
        method = row.split("_h")[0]
        per_step = EVALS.get(method)
        if per_step is None:
            per_step = sum(iters) / len(iters) if iters else float("nan")
        steps = [s for s, _ in fd]
        vals = [v for _, v in fd]
        ax1.plot(steps, vals, marker="o", label=row)
        ax2.plot([s * per_step for s in steps], vals, marker="o", label=f"{row} ({per_step:.3g}/step)")
    ax1.set_xlabel("training step (h/4 for 500 steps, then h: 0.04 unless the row says _h)")
    ax2.set_xlabel("velocity evaluations")
    for ax in (ax1, ax2):
        ax.set_ylabel("FD-FMNIST (lower is better)")
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    ax1.set_title("matched h")
    ax2.set_title("matched cost")
    fig.suptitle(f"1/8-width DCGAN on Fashion-MNIST, seed {a.seed}")
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
