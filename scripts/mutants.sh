#!/usr/bin/env bash
# Mutation testing of the files where a slip changes a verdict (issue 16; not part of CI).
# Usage: scripts/mutants.sh SCOPE [cargo-mutants args...], SCOPE one of
#   theory     crates/theory/src/{stats,verdict,targets,gate}.rs  (tests: signest-theory)
#   sign       crates/estimator/src/sign/                          (tests: signest-estimator, signest-sweep)
#   core       crates/core/src/{metrics,seed}.rs                   (tests: signest-core, signest-sweep, signest-theory)
#   output     crates/sweep/src/output.rs                          (tests: signest-sweep, signest-theory)
#   all        every scope above, one after another
# Each scope tests only the packages that exercise it (release profile), so one mutant costs
# one incremental build plus that suite: about 1-2 minutes here. A whole scope takes hours on
# 2 cores; split it with e.g. `--shard 0/8` ... `--shard 7/8`. Results: target/mutants/SCOPE/
# (mutants.out/caught.txt, missed.txt, timeout.txt, unviable.txt); triage in docs/mutants.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scope="${1:-all}"
shift || true
run() {
  local name="$1" tests="$2"
  shift 2
  local files=()
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do files+=(-f "$1"); shift; done
  [ "${1:-}" = "--" ] && shift
  local tp=()
  for p in $tests; do tp+=(--test-package "$p"); done
  mkdir -p "target/mutants/$name"
  cargo mutants --workspace "${files[@]}" "${tp[@]}" --profile release \
    --timeout 300 --build-timeout 600 --output "target/mutants/$name" "$@"
}
case "$scope" in
  theory) run theory "signest-theory" crates/theory/src/stats.rs crates/theory/src/verdict.rs \
            crates/theory/src/targets.rs crates/theory/src/gate.rs -- "$@" ;;
  sign)   run sign "signest-estimator signest-sweep" 'crates/estimator/src/sign/**' -- "$@" ;;
  core)   run core "signest-core signest-sweep signest-theory" crates/core/src/metrics.rs crates/core/src/seed.rs -- "$@" ;;
  output) run output "signest-sweep signest-theory" crates/sweep/src/output.rs -- "$@" ;;
  all)    for s in theory sign core output; do "$0" "$s" "$@" || true; done ;;
  *) echo "unknown scope '$scope' (theory, sign, core, output, all)" >&2; exit 2 ;;
esac
