#!/usr/bin/env bash
# Mutation testing of the files where a slip changes a verdict (issue 16; not part of CI).
# Usage: scripts/mutants.sh SCOPE [cargo-mutants args...], SCOPE one of
#   stats      crates/theory/src/{stats,verdict}.rs   tests: signest-theory lib, stats, verdict_rules, gate
#   gate       crates/theory/src/gate.rs              tests: signest-theory lib, gate
#   targets    crates/theory/src/targets.rs           tests: signest-theory lib, targets, gaussian_targets, target_precision
#   theory     the three above, one after another
#   sign       crates/estimator/src/sign/             tests: signest-estimator, signest-sweep
#   core       crates/core/src/{metrics,seed}.rs      tests: signest-core, signest-sweep
#   output     crates/sweep/src/output.rs             tests: signest-sweep (all its targets)
#   all        every scope above, one after another
# Each scope runs only the test targets that exercise its files, in the `mutants` profile
# (release code generation, incremental), so one mutant costs one incremental build plus those
# suites (about 15-60 s here). Scopes have 100-1,400 mutants: a systematic sample is
# `--sharding round-robin --shard 0/8` (every 8th mutant of the file-ordered list).
# Results: target/mutants/SCOPE/mutants.out/{caught,missed,timeout,unviable}.txt; triage in
# docs/mutants.md.
#
# `scripts/mutants.sh SCOPE --recheck [args]` reruns only the mutants that a previous run of
# SCOPE missed (target/mutants/SCOPE/mutants.out/missed.txt, matched by name, so add tests at
# the end of a mutated file to keep the names' line numbers), into target/mutants/SCOPE-recheck.
set -euo pipefail
cd "$(dirname "$0")/.."
scope="${1:-all}"
shift || true
out_suffix=""
if [ "${1:-}" = "--recheck" ]; then
  shift
  missed="target/mutants/$scope/mutants.out/missed.txt"
  [ -s "$missed" ] || { echo "no missed mutants recorded in $missed" >&2; exit 2; }
  re=$(python3 -c 'import re,sys; print("^(" + "|".join(re.escape(l.strip()) for l in open(sys.argv[1]) if l.strip()) + ")$")' "$missed")
  set -- --re "$re" "$@"
  out_suffix="-recheck"
fi
# run NAME "PACKAGES" FILE... -- CARGO_TEST_ARGS... --- CARGO_MUTANTS_ARGS...
run() {
  local name="$1$out_suffix" tests="$2"
  shift 2
  local files=() targs=()
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do files+=(-f "$1"); shift; done
  [ "${1:-}" = "--" ] && shift
  while [ "$#" -gt 0 ] && [ "$1" != "---" ]; do targs+=("$1"); shift; done
  [ "${1:-}" = "---" ] && shift
  local tp=()
  for p in $tests; do tp+=(--test-package "$p"); done
  mkdir -p "target/mutants/$name"
  cargo mutants --workspace "${files[@]}" "${tp[@]}" --profile mutants \
    --timeout 300 --build-timeout 900 --output "target/mutants/$name" "$@" -- "${targs[@]}"
}
t=crates/theory/src
case "$scope" in
  stats)   run stats signest-theory $t/stats.rs $t/verdict.rs \
             -- --lib --test stats --test verdict_rules --test gate --- "$@" ;;
  gate)    run gate signest-theory $t/gate.rs -- --lib --test gate --- "$@" ;;
  targets) run targets signest-theory $t/targets.rs \
             -- --lib --test targets --test gaussian_targets --test target_precision --- "$@" ;;
  theory)  for s in stats gate targets; do "$0" "$s" "$@" || true; done ;;
  sign)    run sign "signest-estimator signest-sweep" 'crates/estimator/src/sign/**' -- --- "$@" ;;
  core)    run core "signest-core signest-sweep" crates/core/src/metrics.rs crates/core/src/seed.rs -- --- "$@" ;;
  output)  run output signest-sweep crates/sweep/src/output.rs -- --- "$@" ;;
  all)     for s in stats gate targets sign core output; do "$0" "$s" "$@" || true; done ;;
  *) echo "unknown scope '$scope' (stats, gate, targets, theory, sign, core, output, all)" >&2; exit 2 ;;
esac
