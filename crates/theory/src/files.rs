//! `targets.csv`, `verdicts.md` and `verdicts.json` beside a run's results (what `signest
//! targets` and `signest verify` write). All writes are atomic (temp file + rename).

use crate::verdict::{self, TargetRow, Verdict};
use signest_sweep::{Experiment, run::write_atomic};
use std::path::Path;

/// An error with the exit code the CLI should use (2: bad input, 1: other).
#[derive(Debug, Clone, PartialEq)]
pub struct TheoryError {
    pub code: i32,
    pub message: String,
}

impl std::fmt::Display for TheoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for TheoryError {}

pub(crate) fn input(m: impl Into<String>) -> TheoryError {
    TheoryError {
        code: 2,
        message: m.into(),
    }
}
pub(crate) fn other(m: impl Into<String>) -> TheoryError {
    TheoryError {
        code: 1,
        message: m.into(),
    }
}

pub(crate) fn csv_text<T: serde::Serialize>(rows: &[T]) -> Result<Vec<u8>, TheoryError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).map_err(|e| other(format!("csv: {e}")))?;
    }
    w.into_inner().map_err(|e| other(format!("csv: {e}")))
}

/// Computes the experiment's population targets and writes `dir/targets.csv`.
pub fn write_targets(exp: &Experiment, dir: &Path) -> Result<Vec<TargetRow>, TheoryError> {
    let t = verdict::experiment_targets(exp).map_err(input)?;
    std::fs::create_dir_all(dir)
        .map_err(|e| input(format!("cannot create {}: {e}", dir.display())))?;
    write_atomic(&dir.join("targets.csv"), &csv_text(&t)?).map_err(|e| other(e.message))?;
    Ok(t)
}

/// Reads `targets.csv`.
pub fn read_targets(path: &Path) -> Result<Vec<TargetRow>, TheoryError> {
    let mut r =
        csv::Reader::from_path(path).map_err(|e| input(format!("{}: {e}", path.display())))?;
    r.deserialize()
        .collect::<Result<Vec<TargetRow>, _>>()
        .map_err(|e| input(format!("{}: {e}", path.display())))
}

/// What `verify_dir` did.
#[derive(Debug, Clone)]
pub struct VerifyOutcome {
    pub verdicts: Vec<Verdict>,
    /// Whether targets.csv had to be computed (it is reused when present).
    pub computed_targets: bool,
}

/// Verifies a results directory written by `signest run` (it holds `experiment.toml` and
/// `runs.csv`): computes targets if `targets.csv` is missing, then writes `verdicts.md` and
/// `verdicts.json`. `experiment` optionally replaces the directory's copy of the experiment
/// file (for example to use a `[verify]` section added after the run); it must describe the
/// same cells and estimators.
pub fn verify_dir(dir: &Path, experiment: Option<&Path>) -> Result<VerifyOutcome, TheoryError> {
    let exp_path = dir.join("experiment.toml");
    if !exp_path.exists() {
        return Err(input(format!(
            "{}: not a results directory of `signest run` (no experiment.toml)",
            dir.display()
        )));
    }
    let runs_path = dir.join("runs.csv");
    if !runs_path.exists() {
        return Err(input(format!(
            "{}: no runs.csv (is the run finished? `signest run --resume` finishes it)",
            dir.display()
        )));
    }
    let mut exp = Experiment::from_file(&exp_path).map_err(|e| input(e.to_string()))?;
    if let Some(p) = experiment {
        let other = Experiment::from_file(p).map_err(|e| input(e.to_string()))?;
        let keys = |e: &Experiment| e.cells.iter().map(|c| c.key.clone()).collect::<Vec<_>>();
        let labels = |e: &Experiment| {
            e.estimators
                .iter()
                .map(|x| x.label.clone())
                .collect::<Vec<_>>()
        };
        if keys(&other) != keys(&exp)
            || labels(&other) != labels(&exp)
            || other.seed != exp.seed
            || other.replications != exp.replications
        {
            return Err(input(format!(
                "{}: its cells, estimators, seed or replications differ from the run in {}",
                p.display(),
                exp_path.display()
            )));
        }
        exp = other;
    }
    let rows = signest_sweep::output::read_runs(&runs_path).map_err(|e| input(e.message))?;
    let tpath = dir.join("targets.csv");
    let (targets, computed) = if tpath.exists() {
        (read_targets(&tpath)?, false)
    } else {
        (write_targets(&exp, dir)?, true)
    };
    let v = verdict::verdicts(&exp, &rows, &targets);
    write_verdicts(&exp, &v, dir)?;
    Ok(VerifyOutcome {
        verdicts: v,
        computed_targets: computed,
    })
}

/// Writes `verdicts.md` and `verdicts.json`.
pub fn write_verdicts(exp: &Experiment, v: &[Verdict], dir: &Path) -> Result<(), TheoryError> {
    write_atomic(
        &dir.join("verdicts.md"),
        verdict::markdown(exp, v).as_bytes(),
    )
    .map_err(|e| other(e.message))?;
    let json = serde_json::json!({
        "experiment": exp.name,
        "expect": exp.verify.expect,
        "bootstrap_resamples": exp.verify.bootstrap,
        "verdicts": v,
        "expected_failures": verdict::expected_failures(v).len(),
    });
    write_atomic(
        &dir.join("verdicts.json"),
        serde_json::to_string_pretty(&json)
            .expect("json")
            .as_bytes(),
    )
    .map_err(|e| other(e.message))
}
