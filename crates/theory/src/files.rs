//! `targets.csv`, `verdicts.md` and `verdicts.json` beside a run's results (what `signest
//! targets` and `signest verify` write). All writes are atomic (temp file + rename).

use crate::spec::Study;
use crate::verdict::{self, TargetRow, Verdict};
use signest_sweep::ResultsDir;
use signest_sweep::results::{TARGETS, VERDICTS_JSON, VERDICTS_MD};
use std::path::Path;

pub use crate::error::TheoryError;
pub(crate) use crate::error::{input, other};

pub(crate) fn csv_text<T: serde::Serialize>(rows: &[T]) -> Result<Vec<u8>, TheoryError> {
    Ok(signest_sweep::results::csv_bytes(rows)?)
}

/// Computes the experiment's population targets and writes `dir/targets.csv`.
pub fn write_targets(exp: &Study, dir: &Path) -> Result<Vec<TargetRow>, TheoryError> {
    let t = verdict::experiment_targets(exp)?;
    let rd = ResultsDir::new(dir);
    rd.create()?;
    rd.write(TARGETS, &csv_text(&t)?)?;
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

/// Verifies a results directory written by `signest run` or `signest merge`: computes
/// targets if `targets.csv` is missing, then writes `verdicts.md` and `verdicts.json`. The
/// experiment is read from the directory alone (its experiment.toml and resolved persona
/// panel). `experiment` optionally replaces the directory's copy of the experiment file (for
/// example to use a `[verify]` section added after the run); it must describe the same cells
/// and estimators.
pub fn verify_dir(dir: &Path, experiment: Option<&Path>) -> Result<VerifyOutcome, TheoryError> {
    let rd = ResultsDir::open(dir)?;
    let mut exp = rd.experiment()?;
    // An older directory gains the resolved panel, so that it never needs the data again.
    if rd.lacks_panel(&exp) {
        rd.write_panel(&exp)?;
    }
    if let Some(p) = experiment {
        let other = signest_sweep::Experiment::from_file(p)?;
        let keys = |e: &signest_sweep::Experiment| {
            e.cells.iter().map(|c| c.key.clone()).collect::<Vec<_>>()
        };
        if keys(&other) != keys(&exp)
            || other.labels() != exp.labels()
            || other.seed != exp.seed
            || other.replications != exp.replications
        {
            return Err(input(format!(
                "{}: its cells, estimators, seed or replications differ from the run in {}",
                p.display(),
                rd.file(signest_sweep::results::EXPERIMENT).display()
            )));
        }
        exp = other;
    }
    let study = Study::new(exp)?;
    let rows = rd.runs()?;
    let (targets, computed) = if rd.has(TARGETS) {
        (read_targets(&rd.file(TARGETS))?, false)
    } else {
        (write_targets(&study, dir)?, true)
    };
    let v = verdict::verdicts(&study, &rows, &targets);
    let audit = verdict::optimiser_audit(&study, &rows);
    write_verdicts(&study, &v, &audit, dir)?;
    Ok(VerifyOutcome {
        verdicts: v,
        computed_targets: computed,
    })
}

/// Writes `verdicts.md` and `verdicts.json`.
pub fn write_verdicts(
    exp: &Study,
    v: &[Verdict],
    audit: &[verdict::OptimiserAudit],
    dir: &Path,
) -> Result<(), TheoryError> {
    let rd = ResultsDir::new(dir);
    let md = verdict::markdown(exp, v) + &verdict::optimiser_markdown(audit);
    rd.write(VERDICTS_MD, md.as_bytes())?;
    let json = serde_json::json!({
        "experiment": exp.name,
        "expect": exp.verify.expect,
        "bootstrap_resamples": exp.verify.bootstrap,
        "verdicts": v,
        "expected_failures": verdict::expected_failures(v).len(),
        "optimiser_audit": audit,
    });
    rd.write(
        VERDICTS_JSON,
        serde_json::to_string_pretty(&json)
            .expect("json")
            .as_bytes(),
    )?;
    Ok(())
}
