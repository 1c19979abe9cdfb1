#!/usr/bin/env bash
# Exact sign (branch and bound) on the shipped real data, timed by `signest fit --json`:
#   scripts/bench_exact.sh [REPEATS] [BASELINE_BINARY]
# Horowitz (d = 5, n = 842; certified optimum 765 correct) to certification, and Martins
# (d = 7, n = 2,339; no certified optimum known) for MARTINS_SECONDS (default 60), REPEATS times each (default 3),
# printing medians of fit_seconds (wall) and the process's CPU seconds, the node count and
# the result. With BASELINE_BINARY (an older build of signest) both binaries are run
# alternately in the same session, so their ratio is not distorted by the machine's load
# (timings here vary by +-25%); run it on an idle machine for absolute numbers. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-3}
export MARTINS_SECONDS=${MARTINS_SECONDS:-60}
base=${2:-}
bin=${SIGNEST:-target/release/signest}
[ -x "$bin" ] || cargo build --release --quiet --bin signest
python3 - "$reps" "$bin" "$base" <<'PY'
import json, os, resource, statistics, subprocess, sys
reps, binaries = int(sys.argv[1]), [b for b in sys.argv[2:] if b]
cases = [
    ("horowitz", ["--data", "data/horowitz-worktrip/horowitz.csv"]),
    (f"martins {os.environ['MARTINS_SECONDS']} s",
     ["--data", "data/martins-lfp/martins.csv", "--time-limit", os.environ["MARTINS_SECONDS"]]),
]
print(f"{'case':<14} {'binary':<28} {'wall s':>8} {'cpu s':>8} {'nodes':>9}  result")
for name, args in cases:
    runs = {b: [] for b in binaries}
    for _ in range(reps):
        for b in binaries:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            out = subprocess.run(
                [b, "fit", *args, "--estimator", "sign", "--standardize", "--json"],
                check=True, capture_output=True, text=True).stdout
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            runs[b].append((json.loads(out), cpu))
    for b in binaries:
        f = runs[b][-1][0]
        wall = statistics.median(r[0]["fit_seconds"] for r in runs[b])
        cpu = statistics.median(r[1] for r in runs[b])
        res = f"{f['correct']} correct, {f['status']}, lower bound {f['lower_bound']:g} wrong, gap {f['gap']:g}"
        print(f"{name:<14} {b[-28:]:<28} {wall:>8.2f} {cpu:>8.2f} {f['iterations']:>9}  {res}")
PY
