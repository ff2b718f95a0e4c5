#!/usr/bin/env python3
"""Summarises a scripts/fmnist-study directory as the markdown table of docs/reproducing.md.

  python3 scripts/fmnist_table.py runs/fmnist-study [--steps 2000]
  python3 scripts/fmnist_table.py runs/fmnist-study --steps 1000 --grid   # method x h

--grid: the largest-stable-h sweep (rows <method>_h<h> of scripts/fmnist-study): one line
per method, one column per step size (each run's config.json), FD-FMNIST at --steps, or the
step at which the run diverged (its log), per seed.

Our runs: <dir>/<row>-s<seed>/quality.json (best and final FD-FMNIST of the run's
--eval-every evaluations) and metrics.jsonl (step times). The PyTorch peer:
<dir>/peer-s<seed>/samples-<step>.json, written by `odegan_fid --samples ... --json`.
Writes <dir>/table-<step>.json as well; standard library only.
"""
import argparse
import glob
import json
import math
import os
import re
import statistics

ROWS = [  # (row, label, flags) in the order of the paper's Table 1
    ("rk4", "RK4 (h = 0.04)", "(defaults)"),
    ("rk2", "RK2 (Heun, h = 0.04)", "`--method rk2`"),
    ("euler", "Euler, h = 0.04", "`--method euler`"),
    ("euler_h0.12", "Euler, h = 0.12", "`--method euler --h 0.12`"),
    ("rk4_adam", "RK4 + Adam", "`--method rk4_adam --h 2e-4 --lambda 0.01`"),
    ("adam", "Adam (λ = 0.02)", "`--method adam`"),
    ("sngan", "SN-GAN (DCGAN, spectral norm in D)", "`--method sngan`"),
    ("peer", "RK4, PyTorch peer", "`scripts/peer_pytorch_gan.py`"),
]


def spread(values):
    """'m ± s (a, b, c)' over seeds; a single value as is."""
    if not values:
        return "–"
    each = ", ".join(f"{v:.2f}" for v in values)
    if len(values) == 1:
        return each
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f} ({each})"


def summary(scores):
    """{step: fd} -> final (the last step) and best (lowest finite value)."""
    if not scores:
        return None
    last = max(scores)
    best = min(scores, key=lambda s: (not math.isfinite(scores[s]), scores[s]))
    return {"final_step": last, "final": scores[last], "best": scores[best], "best_step": best}


def ours(run, at_step):
    q = json.load(open(os.path.join(run, "quality.json")))
    r = summary({e["step"]: e["fd"] for e in q.get("evaluations", []) if e["step"] <= at_step})
    if r is None:
        return None
    secs = []
    metrics = os.path.join(run, "metrics.jsonl")
    if os.path.exists(metrics):
        for line in open(metrics):
            j = json.loads(line)
            if "ms_per_step" in j and j["step"] <= at_step:
                secs.append(j["ms_per_step"] / 1000)
    r["s_per_step"] = statistics.median(secs) if secs else None
    return r


def peer(run, at_step):
    scores = {}
    for f in glob.glob(os.path.join(run, "samples-*.json")):
        step = int(re.search(r"samples-(\d+)\.json$", f).group(1))
        j = json.load(open(f))
        if step <= at_step:
            scores[step] = j["fd"] if "fd" in j else j["fid"]  # odegan_fid before it said "fd"
    r = summary(scores)
    if r is not None:
        r["s_per_step"] = None
    return r


def grid_cells(root, at):
    """{(method, h): {seed: (fd at step `at`, None) or (None, step at which it diverged)}}."""
    cells = {}
    for run in sorted(glob.glob(os.path.join(root, "*-s*"))):
        cfg = os.path.join(run, "config.json")
        if not os.path.isdir(run) or not run.rsplit("-s", 1)[1].isdigit() or not os.path.exists(cfg):
            continue
        c = json.load(open(cfg))
        if c.get("schedule", "reference") != "reference" or c.get("lambda") != 0.02 or c.get("method") in (
                "adam", "rk4_adam", "sngan"):
            continue
        seed = int(run.rsplit("-s", 1)[1])
        cell = None
        log = run + ".log"
        if os.path.exists(log):
            m = re.search(r"training diverged at step (\d+)", open(log, errors="replace").read())
            if m:
                cell = (None, int(m.group(1)))
        if cell is None and os.path.exists(os.path.join(run, "quality.json")):
            q = json.load(open(os.path.join(run, "quality.json")))
            fd = {e["step"]: e["fd"] for e in q.get("evaluations", [])}
            if at in fd:
                cell = (fd[at], None)
        if cell is not None:
            cells.setdefault((c["method"], c["h"]), {})[seed] = cell
    return cells


def grid(root, at):
    """Method x h: FD-FMNIST at step `at`, or where the run diverged."""
    cells = {k: {s: f"{fd:.1f}" if fd is not None else f"NaN at {nan}" for s, (fd, nan) in v.items()}
             for k, v in grid_cells(root, at).items()}
    methods = sorted({m for m, _ in cells}, key=lambda m: ["rk4", "rk2", "euler", "ab2"].index(m)
                     if m in ["rk4", "rk2", "euler", "ab2"] else 10)
    hs = sorted({h for _, h in cells})
    print(f"FD-FMNIST at step {at} (h/4 for the first 500 steps, then h), or the step at which the run "
          f"diverged; seeds separated by '/'.\n")
    print("| method | " + " | ".join(f"h = {h:g}" for h in hs) + " |")
    print("|---|" + "---|" * len(hs))
    for m in methods:
        row = []
        for h in hs:
            seeds = cells.get((m, h), {})
            row.append(" / ".join(seeds[s] for s in sorted(seeds)) if seeds else "")
        print(f"| {m} | " + " | ".join(row) + " |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--at-step", type=int, help="summarise the runs up to this step (default: --steps)")
    ap.add_argument("--grid", action="store_true", help="method x step size (the largest-stable-h sweep)")
    a = ap.parse_args()
    at = a.at_step if a.at_step is not None else a.steps
    if a.grid:
        return grid(a.dir, at)
    found = {}
    # Rows beyond the table's (any --method name, see scripts/fmnist-study) follow it.
    known = {r for r, _, _ in ROWS} | {"classifier", "ref"}
    extra = sorted({os.path.basename(p).rsplit("-s", 1)[0] for p in glob.glob(os.path.join(a.dir, "*-s*"))
                    if os.path.isdir(p) and p.rsplit("-s", 1)[1].isdigit()} - known)
    def flags(row):  # <method>_h<h>: another step size (scripts/fmnist-study)
        m = re.fullmatch(r"([a-z0-9_]+)_h([0-9.]+)", row)
        return f"`--method {m.group(1)} --h {m.group(2)}`" if m else f"`--method {row}`"
    rows = ROWS + [(r, r, flags(r)) for r in extra]
    for row, _, _ in rows:
        for run in sorted(glob.glob(os.path.join(a.dir, f"{row}-s*"))):
            if not os.path.isdir(run):
                continue
            seed = int(run.rsplit("-s", 1)[1])
            if row == "peer":
                r = peer(run, at)
            else:
                r = ours(run, at) if os.path.exists(os.path.join(run, "quality.json")) else None
            if r is not None:
                found.setdefault(row, {})[seed] = r
    print(f"FD-FMNIST of 5 000 samples against the 60 000 training images (lower is better), "
          f"{at} steps; mean ± std over seeds, then each seed.\n")
    print("| row | flags | seeds | best FD-FMNIST (step) | final FD-FMNIST |")
    print("|---|---|---|---|---|")
    for row, label, flags in rows:
        runs = found.get(row, {})
        if not runs:
            continue
        seeds = sorted(runs)
        done = [runs[s] for s in seeds]
        incomplete = [s for s in seeds if runs[s]["final_step"] != at]
        best = spread([r["best"] for r in done]) + " (" + ", ".join(str(r["best_step"]) for r in done) + ")"
        final = spread([r["final"] for r in done])
        note = f" (seeds {incomplete} stopped early)" if incomplete else ""
        print(f"| {label} | {flags} | {','.join(map(str, seeds))}{note} | {best} | {final} |")
    json.dump(found, open(os.path.join(a.dir, f"table-{at}.json"), "w"), indent=1, default=str)


if __name__ == "__main__":
    main()
