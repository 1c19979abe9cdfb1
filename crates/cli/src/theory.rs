//! `signest targets`, `signest verify`, `signest check`: thin wrappers over `signest-theory`.

use crate::CliError;
use signest_sweep::Experiment;
use signest_theory::files::TheoryError;
use std::path::{Path, PathBuf};

fn cli(e: TheoryError) -> CliError {
    CliError {
        code: e.code,
        message: e.message,
    }
}

/// Computes population targets of every DGP of an experiment into `out/targets.csv` (default
/// `results/<name>/`) and prints them.
pub fn targets(path: &Path, out: Option<PathBuf>) -> Result<String, CliError> {
    let exp = Experiment::from_file(path).map_err(|e| CliError::input(e.to_string()))?;
    let out = out.unwrap_or_else(|| PathBuf::from("results").join(&exp.name));
    let t = signest_theory::files::write_targets(&exp, &out).map_err(cli)?;
    let mut s = format!(
        "{:<40} {:<6} {:<11} {:>12} {:>10}\n",
        "dgp", "est", "method", "bias (deg)", "± error"
    );
    for r in &t {
        s += &format!(
            "{:<40} {:<6} {:<11} {:>12.4} {:>10.1e}\n",
            r.group, r.estimator, r.method, r.bias_deg, r.error_deg
        );
    }
    s += &format!("targets: {}\n", out.join("targets.csv").display());
    Ok(s)
}

/// Writes verdicts for a results directory; errors (exit 1) when an expected claim fails.
pub fn verify(dir: &Path, experiment: Option<&Path>) -> Result<String, CliError> {
    let o = signest_theory::files::verify_dir(dir, experiment).map_err(cli)?;
    let mut s = String::new();
    for v in &o.verdicts {
        s += &format!(
            "{:<4} {:<22} {:<6} {:>10.4} [{:.4}, {:.4}]  {}\n",
            v.claim,
            v.estimator,
            if v.pass {
                "pass"
            } else if v.expected {
                "FAIL"
            } else {
                "fail"
            },
            v.value,
            v.lo,
            v.hi,
            v.scope
        );
    }
    let bad = signest_theory::verdict::expected_failures(&o.verdicts);
    s += &format!(
        "verdicts: {}/verdicts.md, verdicts.json ({} verdicts, {} expected ones failed{})\n",
        dir.display(),
        o.verdicts.len(),
        bad.len(),
        if o.computed_targets {
            "; targets.csv computed"
        } else {
            ""
        }
    );
    if bad.is_empty() {
        Ok(s)
    } else {
        print!("{s}");
        Err(CliError {
            code: 1,
            message: format!(
                "{} expected verdict(s) failed: {}",
                bad.len(),
                bad.iter()
                    .map(|v| v.key.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        })
    }
}

/// `signest check`: the accuracy gate. Prints what fell short and a final
/// `check: N passed, M failed` line; errors (exit 1) when anything failed.
pub fn check(
    experiment: &Path,
    baseline: &Path,
    out: &Path,
    update: bool,
    threads: Option<usize>,
) -> Result<String, CliError> {
    let o = signest_theory::gate::check(experiment, baseline, out, update, threads).map_err(cli)?;
    let passed = o.items.iter().filter(|i| i.pass).count();
    let failed = o.items.len() - passed;
    let mut s = format!(
        "{}: {} rows ({} replays) in {:.1} s; results in {}\n",
        experiment.display(),
        o.run.rows.len(),
        o.run.replays.len(),
        o.wall_seconds,
        out.display()
    );
    if o.baseline_updated {
        s += &format!("baseline rewritten: {}\n", baseline.display());
    } else {
        s += &format!(
            "runs identical to the baseline's: {}\n",
            if o.identical_to_baseline {
                "yes"
            } else {
                "no (compared within MCSEs)"
            }
        );
    }
    if failed > 0 {
        s += "\nwhat fell short:\n";
        s += &signest_theory::gate::table(&o.items, true);
    }
    s += &format!("check: {passed} passed, {failed} failed\n");
    if failed > 0 {
        print!("{s}");
        return Err(CliError {
            code: 1,
            message: format!(
                "the accuracy gate failed ({failed} items); see {}/check.md",
                out.display()
            ),
        });
    }
    Ok(s)
}

/// `signest report DIR [--format png,svg]`: figures and report.md.
pub fn report(dir: &Path, formats: &str) -> Result<String, CliError> {
    let mut f = Vec::new();
    for s in formats.split(',') {
        f.push(signest_report::Format::parse(s).ok_or_else(|| {
            CliError::input(format!("--format: expected png, svg or png,svg, got '{s}'"))
        })?);
    }
    let figs = signest_report::report(dir, &f).map_err(cli)?;
    let mut s = String::new();
    for fig in &figs {
        s += &format!("{:<28} {}\n", fig.stem, fig.files.join(", "));
    }
    s += &format!(
        "report: {}/report.md ({} figures)\n",
        dir.display(),
        figs.len()
    );
    Ok(s)
}
