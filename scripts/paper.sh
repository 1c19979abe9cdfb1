#!/usr/bin/env bash
# Regenerates committed paper experiments into results/paper/<name>, then their verdicts
# (`signest verify`) and reports. A directory that already holds a finished run (manifest.json)
# is kept and only re-verified; one holding an interrupted run is finished with --resume.
# Prints each experiment's wall time and the total, and appends them to
# results/paper/wall_times.log. An expected verdict that fails does not stop the suite: the
# experiments where one failed are listed at the end, and the exit status is then 1.
#
#   scripts/paper.sh [core|scale|all] [--threads N]
#
# core  (default; `just paper`): the suite of issue 13 — homogeneous, heterogeneity,
#       assumption, dimension, the four consistency runs and the three persona panels (C1-C5).
# scale (`just paper-scale`): the high-dimensional runs — dimension_rate and the five twin
#       panels (C6 where the paper measured it).
# all   (`just paper-all`): both.
set -euo pipefail
cd "$(dirname "$0")/.."

which=${1:-core}
shift || true
threads=()
if [ "${1:-}" = "--threads" ]; then threads=(--threads "$2"); fi

core="homogeneous heterogeneity assumption dimension consistency_gaussian_d2 consistency_gaussian_d10 consistency_two_type_d2 consistency_two_type_d10 persona/synthetic persona/synthetic_mirror persona/train"
scale="dimension_rate twins/symmetric twins/symmetric_d16 twins/isotropic twins/heavy_tailed twins/regime_map"
case "$which" in
  core) names=$core ;;
  scale) names=$scale ;;
  all) names="$core $scale" ;;
  *) echo "scripts/paper.sh: expected core, scale or all, got '$which'" >&2; exit 2 ;;
esac

cargo build --release --quiet --bin signest
bin=target/release/signest
mkdir -p results/paper
log=results/paper/wall_times.log
echo "# $(date -u +%FT%TZ) scripts/paper.sh $which at $(git rev-parse --short HEAD 2>/dev/null || echo '?')" >>"$log"
total0=$(date +%s)
failed=""
for n in $names; do
  f=experiments/paper/$n.toml
  out=results/paper/$n
  if [ "$n" = persona/train ] && [ ! -f data/train/train.csv ]; then
    python3 scripts/setup_train_data.py
  fi
  t0=$(date +%s)
  if [ -f "$out/manifest.json" ]; then
    echo "== $n: finished run in $out, kept"
  elif [ -d "$out" ]; then
    echo "== $n: finishing the interrupted run in $out"
    "$bin" run "$f" --out "$out" --resume "${threads[@]}"
  else
    echo "== $n"
    "$bin" run "$f" --out "$out" "${threads[@]}"
  fi
  # verify exits 1 when an expected verdict fails (noted, the suite goes on) and 2 on bad
  # input (the suite stops, as for any other error).
  status=0
  "$bin" verify "$out" --experiment "$f" || status=$?
  case $status in
    0) ;;
    1) failed="$failed $n" ;;
    *) exit "$status" ;;
  esac
  "$bin" report "$out" >/dev/null
  echo "$n $(($(date +%s) - t0)) s" | tee -a "$log"
done
case "$which" in
  core) "$bin" report results/paper/persona >/dev/null ;;
  scale) "$bin" report results/paper/twins >/dev/null ;;
  all) "$bin" report results/paper/persona >/dev/null; "$bin" report results/paper/twins >/dev/null ;;
esac
echo "total $(($(date +%s) - total0)) s" | tee -a "$log"
if [ -n "$failed" ]; then
  echo "expected verdicts failed in:$failed (see their verdicts.md)" | tee -a "$log"
  exit 1
fi
