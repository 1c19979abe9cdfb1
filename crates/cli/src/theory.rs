//! `signest targets`, `signest verify`, `signest check`: thin wrappers over `signest-theory`.

use crate::CliError;
use signest_theory::Study;
use std::path::{Path, PathBuf};

/// Computes population targets of every DGP of an experiment into `out/targets.csv` (default
/// `results/<name>/`) and prints them.
pub fn targets(path: &Path, out: Option<PathBuf>) -> Result<String, CliError> {
    let exp = Study::from_file(path)?;
    let out = out.unwrap_or_else(|| PathBuf::from("results").join(&exp.name));
    let t = signest_theory::files::write_targets(&exp, &out)?;
    let mut s = format!(
        "{:<40} {:<6} {:<11} {:>12} {:>10} {:>12} {:>13}\n",
        "dgp", "est", "method", "bias (deg)", "± error", "Σ-bias (deg)", "disagreement"
    );
    for r in &t {
        s += &format!(
            "{:<40} {:<6} {:<11} {:>12.4} {:>10.1e} {:>12.4} {:>13.5}\n",
            r.group,
            r.estimator,
            r.method,
            r.bias_deg,
            r.error_deg,
            r.sigma_bias_deg,
            r.disagreement
        );
    }
    s += &format!(
        "targets: {}\n",
        out.join(signest_sweep::results::TARGETS).display()
    );
    Ok(s)
}

/// `signest calibrate`: solves for one [dgp] key; prints each evaluation and the result, and
/// writes the calibrated experiment to `out` (atomically) or prints it.
pub fn calibrate(
    path: &Path,
    key: &str,
    target: &str,
    range: &str,
    out: Option<&Path>,
) -> Result<String, CliError> {
    let spec = signest_theory::calibrate::CalibrationSpec::parse(key, target, range)?;
    let text = std::fs::read_to_string(path).map_err(|e| {
        signest_theory::TheoryError::Input(format!("{}: cannot read: {e}", path.display()))
    })?;
    let file = path.display().to_string();
    let c = signest_theory::calibrate::calibrate(&text, &file, &spec, &mut |x, v| {
        eprintln!("calibrate: {key} = {x:.10} -> {v:.9}");
    })?;
    let mut s = format!(
        "calibrated: {key} = {} gives {target_stat} = {:.9} (target {}, error {:.1e}) after {} evaluations
",
        c.value,
        c.achieved,
        spec.target,
        c.error,
        c.trace.len(),
        target_stat = target.split('=').next().unwrap_or(target)
    );
    match out {
        Some(o) => {
            let tmp = o.with_extension("toml.tmp");
            std::fs::write(&tmp, &c.text)
                .and_then(|_| std::fs::rename(&tmp, o))
                .map_err(|e| {
                    signest_theory::TheoryError::Input(format!(
                        "{}: cannot write: {e}",
                        o.display()
                    ))
                })?;
            s += &format!(
                "written: {}
",
                o.display()
            );
        }
        None => s += &c.text,
    }
    Ok(s)
}

/// Writes verdicts for a results directory; errors (exit 1) when an expected claim fails.
pub fn verify(dir: &Path, experiment: Option<&Path>) -> Result<String, CliError> {
    let o = signest_theory::files::verify_dir(dir, experiment)?;
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
    update: Option<&str>,
    threads: Option<usize>,
) -> Result<String, CliError> {
    let o = signest_theory::gate::check(experiment, baseline, out, update, threads)?;
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
    let members = signest_report::collection::members(dir).len();
    if members > 0 {
        signest_report::collection::collection_report(dir)?;
        return Ok(format!(
            "report: {}/report.md (headline table of {members} results directories)\n",
            dir.display()
        ));
    }
    let figs = signest_report::report(dir, &f)?;
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

/// `signest realdata`: every estimator on one real data set, with cross-validation by
/// respondent; writes fits.csv, angles.csv, crossval.csv, crossval_summary.csv and report.md.
pub fn realdata(
    data: &Path,
    out: &Path,
    folds: usize,
    seed: u64,
    ratio: Option<&str>,
    time_limit: f64,
) -> Result<String, CliError> {
    use signest_estimator::{NamedOptions, Registry, SharedEstimator};
    use signest_theory::realdata;
    let csv = signest_io::read_comparisons_csv(data).map_err(|e| CliError::input(e.to_string()))?;
    let names = csv.data.feature_names().to_vec();
    let ratio = match ratio {
        None => None,
        Some(r) => {
            let p: Vec<&str> = r.split(':').collect();
            let idx = |n: &str| names.iter().position(|x| x == n);
            match (
                p.as_slice(),
                p.first().and_then(|n| idx(n)),
                p.get(1).and_then(|n| idx(n)),
            ) {
                ([_, _], Some(a), Some(b)) => Some((a, b, 1.0, r.to_string())),
                ([_, _, f], Some(a), Some(b)) => Some((
                    a,
                    b,
                    f.parse::<f64>().map_err(|_| {
                        CliError::input(format!("--ratio {r}: factor '{f}' is not a number"))
                    })?,
                    r.to_string(),
                )),
                _ => {
                    return Err(CliError::input(format!(
                        "--ratio {r}: expected NUM:DEN[:FACTOR] with feature names among {}",
                        names.join(", ")
                    )));
                }
            }
        }
    };
    let mut ests: Vec<(String, SharedEstimator)> = Vec::new();
    let reg = Registry::builtin();
    let has_ids = csv.data.respondents().is_some();
    for kind in reg.kinds() {
        // A panel estimator needs respondent ids; `external` needs a worker command, which
        // only an experiment file gives.
        if (kind.needs_panel && !has_ids) || kind.family == signest_estimator::Family::External {
            continue;
        }
        let name = kind.name;
        let takes_time = kind
            .default_solver()
            .settings
            .contains(&"time_limit_seconds");
        let opts = NamedOptions {
            time_limit_seconds: takes_time.then_some(time_limit),
            ..NamedOptions::default()
        };
        let e = reg
            .build(name, &opts)
            .map_err(|e| CliError::input(format!("--time-limit: {e}")))?;
        ests.push((name.to_string(), e.estimator));
    }
    let fits: Vec<realdata::RealFit> = realdata::fit_all(&csv.data, &ests)
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| CliError {
            code: 1,
            message: e,
        })?;
    let angles = realdata::pairwise_angles(&fits);
    let (folds_res, summary) =
        realdata::crossval(&csv.data, &ests, folds, seed).map_err(CliError::input)?;
    std::fs::create_dir_all(out)
        .map_err(|e| CliError::input(format!("cannot create {}: {e}", out.display())))?;
    let write = |name: &str, text: String| {
        signest_sweep::results::write_atomic(&out.join(name), text.as_bytes())
            .map_err(CliError::from)
    };
    let mut f = format!("estimator,status,train_accuracy,{}", names.join(","));
    if let Some((_, _, _, r)) = &ratio {
        f += &format!(",ratio[{r}]");
    }
    f += "\n";
    let rat = |d: &[f64]| ratio.as_ref().map(|(a, b, k, _)| k * d[*a] / d[*b]);
    for x in &fits {
        f += &format!(
            "{},{},{:.6},{}",
            x.estimator,
            x.status,
            x.train_accuracy,
            x.direction
                .iter()
                .map(|v| format!("{v:.8}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        if let Some(r) = rat(&x.direction) {
            f += &format!(",{r:.6}");
        }
        f += "\n";
    }
    write("fits.csv", f)?;
    let mut a = String::from("estimator_a,estimator_b,angle_deg\n");
    for (x, y, d) in &angles {
        a += &format!("{x},{y},{d:.6}\n");
    }
    write("angles.csv", a)?;
    let mut c = String::from("estimator,fold,n_test,respondents_test,accuracy,logloss,scale\n");
    for r in &folds_res {
        c += &format!(
            "{},{},{},{},{:.6},{:.6},{:.6}\n",
            r.estimator, r.fold, r.n_test, r.respondents_test, r.accuracy, r.logloss, r.scale
        );
    }
    write("crossval.csv", c)?;
    let mut sm = String::from(
        "estimator,folds,accuracy,accuracy_lo,accuracy_hi,logloss,logloss_lo,logloss_hi\n",
    );
    for r in &summary {
        sm += &format!(
            "{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6}\n",
            r.estimator,
            r.folds,
            r.accuracy,
            r.accuracy_lo,
            r.accuracy_hi,
            r.logloss,
            r.logloss_lo,
            r.logloss_hi
        );
    }
    write("crossval_summary.csv", sm)?;
    let mut md = format!(
        "# Real data: {}\n\n{} comparisons, d = {} ({}){}.\nCommand: `signest realdata --data {} --out {} --folds {folds} --seed {seed}{}`.\n\n## Directions (original units, unit length)\n\n| estimator | status | training accuracy | {} |{}\n|---|---|---|{}{}\n",
        data.display(),
        csv.data.n(),
        csv.data.d(),
        names.join(", "),
        csv.respondent_labels
            .as_ref()
            .map_or(String::new(), |l| format!(", {} respondents", l.len())),
        data.display(),
        out.display(),
        ratio
            .as_ref()
            .map_or(String::new(), |r| format!(" --ratio {}", r.3)),
        names.join(" | "),
        ratio
            .as_ref()
            .map_or(String::new(), |r| format!(" {} |", r.3)),
        "---|".repeat(names.len()),
        if ratio.is_some() { "---|" } else { "" },
    );
    for x in &fits {
        md += &format!(
            "| {} | {} | {:.4} | {} |{}\n",
            x.estimator,
            x.status,
            x.train_accuracy,
            x.direction
                .iter()
                .map(|v| format!("{v:.5}"))
                .collect::<Vec<_>>()
                .join(" | "),
            rat(&x.direction).map_or(String::new(), |r| format!(" {r:.4} |"))
        );
    }
    md += "\n## Angles between estimators (degrees)\n\n| | | angle |\n|---|---|---|\n";
    for (x, y, d) in &angles {
        md += &format!("| {x} | {y} | {d:.2} |\n");
    }
    md += &format!(
        "\n## Held-out performance ({folds}-fold cross-validation by respondent; 95% t intervals over folds)\n\n| estimator | 0-1 accuracy | log-loss |\n|---|---|---|\n"
    );
    for r in &summary {
        md += &format!(
            "| {} | {:.4} [{:.4}, {:.4}] | {:.4} [{:.4}, {:.4}] |\n",
            r.estimator,
            r.accuracy,
            r.accuracy_lo,
            r.accuracy_hi,
            r.logloss,
            r.logloss_lo,
            r.logloss_hi
        );
    }
    md += &format!(
        "\n`sign` uses the exact solver with a {time_limit} s budget per fit: its status says whether the optimum was certified or the remaining gap.\n"
    );
    md += "\nLog-loss uses each estimator's direction with a logistic scale fitted on the training folds (the same one-dimensional rule for all).\n";
    write("report.md", md.clone())?;
    Ok(md)
}
