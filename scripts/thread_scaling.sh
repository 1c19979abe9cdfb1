#!/usr/bin/env bash
# Sweep speed-up from 1 to 2 (or N) threads, and the harness overhead, for one experiment file:
#   scripts/thread_scaling.sh experiments/quickstart.toml [N]
# Runs it at 1 and N threads into a temporary directory, checks that runs.csv and summary.csv
# agree apart from the *_seconds columns (the reproducibility contract), and prints the wall
# times from the manifests, the speed-up and harness_overhead_fraction. Run it on an idle
# machine: the speed-up is wall-clock and anything else running distorts it.
set -euo pipefail
exp=${1:?usage: thread_scaling.sh EXPERIMENT.toml [THREADS]}
n=${2:-2}
bin=${SIGNEST:-target/release/signest}
[ -x "$bin" ] || cargo build --release --quiet --bin signest
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" run "$exp" --out "$tmp/t1" --threads 1 > /dev/null 2> "$tmp/err" || { cat "$tmp/err"; exit 2; }
"$bin" run "$exp" --out "$tmp/tn" --threads "$n" > /dev/null 2> "$tmp/err" || { cat "$tmp/err"; exit 2; }
python3 - "$tmp" "$n" <<'PY'
import csv, io, json, sys
tmp, n = sys.argv[1], sys.argv[2]
def strip(path):
    rows = list(csv.reader(open(path)))
    keep = [i for i, h in enumerate(rows[0]) if not h.endswith("_seconds")]
    return [[r[i] for i in keep] for r in rows]
for f in ("runs.csv", "summary.csv"):
    if strip(f"{tmp}/t1/{f}") != strip(f"{tmp}/tn/{f}"):
        sys.exit(f"thread_scaling: {f} differs between 1 and {n} threads")
m1 = json.load(open(f"{tmp}/t1/manifest.json"))
mn = json.load(open(f"{tmp}/tn/manifest.json"))
w1, wn = m1["stages_seconds"]["total"], mn["stages_seconds"]["total"]
def oh(m):  # null when fits ran in parallel inside (see docs/experiments.md)
    f = m["harness_overhead_fraction"]
    return "n/a: fits parallel inside" if f is None else f"{100 * f:.2f}%"
print(f"{m1['experiment']['name']}: 1 thread {w1:.1f} s (overhead {oh(m1)}), "
      f"{n} threads {wn:.1f} s (overhead {oh(mn)}), speed-up {w1/wn:.2f}x; "
      f"results identical apart from *_seconds")
PY
