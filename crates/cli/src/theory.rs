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
pub fn verify(dir: &Path) -> Result<String, CliError> {
    let o = signest_theory::files::verify_dir(dir).map_err(cli)?;
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
