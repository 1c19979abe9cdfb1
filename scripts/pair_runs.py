#!/usr/bin/env python3
"""Unit-by-unit comparison of two runs that drew the same data (same seed, DGP and cells).

    scripts/pair_runs.py A/runs.csv B/runs.csv LABEL_A LABEL_B

1. Rows of estimators present in both runs must be identical apart from *_seconds columns:
   the proof that both runs saw the same data (SPEC §7 streams).
2. Per n, for estimator LABEL_A in A against LABEL_B in B on the same (cell, replication):
   how often B's training 0-1 loss is below, equal to or above A's, and the mean and largest
   difference of angular error (B − A).
Exit 1 when the shared rows differ.
"""
import collections
import csv
import sys


def load(path):
    with open(path, newline="") as f:
        return {(r["cell"], r["replication"], r["estimator"]): r for r in csv.DictReader(f)}


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    a, b = load(sys.argv[1]), load(sys.argv[2])
    la, lb = sys.argv[3], sys.argv[4]
    strip = lambda r: {k: v for k, v in r.items() if not k.endswith("_seconds")}
    shared = [k for k in b if k in a and k[2] not in (la, lb)]
    same = sum(strip(a[k]) == strip(b[k]) for k in shared)
    print(f"shared rows (estimators in both runs): {len(shared)}, identical apart from *_seconds: {same}")
    per_n = collections.defaultdict(lambda: [0, 0, 0, 0, 0.0, 0.0])
    for (cell, rep, est), rb in b.items():
        if est != lb or (cell, rep, la) not in a:
            continue
        ra = a[(cell, rep, la)]
        c = per_n[int(rb["n"])]
        lossa, lossb = float(ra["loss01"]), float(rb["loss01"])
        diff = float(rb["angular_error_deg"]) - float(ra["angular_error_deg"])
        c[0] += 1
        c[1] += lossb < lossa - 1e-12
        c[2] += abs(lossb - lossa) <= 1e-12
        c[3] += lossb > lossa + 1e-12
        c[4] += diff
        c[5] = max(c[5], abs(diff))
    print(f"{'n':>9} {'units':>6} {lb + ' loss01 <':>22} {'=':>6} {'>':>6} {'mean Δerr (deg)':>16} {'max |Δerr|':>11}")
    for n in sorted(per_n):
        u, lo, eq, hi, s, m = per_n[n]
        print(f"{n:>9} {u:>6} {lo:>22} {eq:>6} {hi:>6} {s / u:>16.5f} {m:>11.4f}")
    if same != len(shared):
        sys.exit("pair_runs: shared rows differ: the runs did not draw the same data")


main()
