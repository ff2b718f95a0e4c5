#!/usr/bin/env python3
"""The largest-stable-h sweep of a Fashion-MNIST study as a figure: FD-FMNIST at one step
against the step size h, one line per method; runs that diverged are crosses at the top,
labelled with the step of the NaN (the reference schedule runs h/4 for 500 steps first, so a
NaN before step 500 is the warm-up's h/4 failing). Rows come from scripts/fmnist-study
(<method>_h<h> and the plain rows at the recipe's h), read by fmnist_table.grid_cells.

  python3 scripts/fmnist_stable_h_plot.py runs/fmnist-study --steps 1000 --seed 0 \\
      --out docs/images/fmnist_stable_h.png

Needs matplotlib.
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fmnist_table import grid_cells  # noqa: E402

ORDER = ["rk4", "rk2", "euler", "ab2", "symplectic_euler", "implicit_midpoint"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="fmnist_stable_h.png")
    a = ap.parse_args()
    cells = grid_cells(a.study, a.steps)
    methods = sorted({m for m, _ in cells}, key=lambda m: ORDER.index(m) if m in ORDER else len(ORDER))
    top = 700
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, m in enumerate(methods):
        pts = sorted((h, v[a.seed]) for (mm, h), v in cells.items() if mm == m and a.seed in v)
        if not pts:
            continue
        colour = f"C{i}"
        ok = [(h, fd) for h, (fd, _) in pts if fd is not None]
        if ok:
            ax.plot([h for h, _ in ok], [fd for _, fd in ok], marker="o", color=colour, label=m)
        for h, (fd, nan) in pts:
            if fd is None:
                ax.plot([h], [top], marker="x", markersize=9, color=colour, linestyle="none",
                        label=None if ok else m)
                ax.annotate(str(nan), (h, top), textcoords="offset points", xytext=(4, -12 - 9 * i), fontsize=7,
                            color=colour)
    ax.set_xscale("log", base=2)
    hs = sorted({h for _, h in cells})
    ax.set_xticks(hs)
    ax.set_xticklabels([f"{h:g}" for h in hs], fontsize=8)
    ax.minorticks_off()
    ax.set_yscale("log")
    ax.set_xlabel("step size h (h/4 for the first 500 steps)")
    ax.set_ylabel(f"FD-FMNIST at step {a.steps} (lower is better)")
    ax.set_title(f"Largest stable h, 1/8-width DCGAN on Fashion-MNIST, seed {a.seed}\n"
                 f"x: diverged (NaN at the step shown)")
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
