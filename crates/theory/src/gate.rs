//! The accuracy gate (`signest check`): runs a small experiment (`experiments/ci.toml`) and
//! compares it with a committed baseline (`results/ci/baseline.json`).
//!
//! A *gate item* is one comparison; the gate fails when any item fails:
//! - **grid**: every baseline (cell, estimator) exists with the same n, d, heterogeneity and
//!   type_weight, and the run has no (cell, estimator) the baseline lacks;
//! - **accuracy**: mean angular error ≤ baseline mean + k·√(MCSE² + MCSE_baseline²), with
//!   k = [`K`] = 4. Under a legitimate change that redraws all data, the difference is ≈ normal
//!   with that standard error, so one item false-alarms with probability 1 − Φ(4) = 3.2·10⁻⁵;
//!   over the 32 items of ci.toml the family-wise rate is ≤ 1.0·10⁻³. When the data are not
//!   redrawn (same seeds, same sampler) the two runs share their random numbers and the
//!   difference is far smaller than that bound;
//! - **mcse**: each MCSE is > 0 and within a factor 3 of the baseline's (the MCSE of an
//!   estimator over 80 replications varies by ~10–25% between independent runs; a factor 3 is
//!   far outside that, and catches an MCSE computed as zero or wrongly scaled);
//! - **verdict**: every baseline verdict exists and has the same pass/fail;
//! - **replay**: one replication per cell, recomputed alone on the calling thread, equals its
//!   rows in the parallel run (all columns but `*_seconds`): catches randomness that depends
//!   on threads or scheduling.

use crate::files::{TheoryError, csv_text, input, other};
use crate::spec::Study;
use crate::verdict::{self, TargetRow, Verdict};
use rayon::prelude::*;
use signest_sweep::output::summarise;
use signest_sweep::results::ResultsDir;
use signest_sweep::{Cell, Experiment, Row, SummaryRow, SweepError};

/// Standard errors allowed between a run and its baseline.
pub const K: f64 = 4.0;
/// Largest allowed ratio between a run's MCSE and the baseline's (either way).
pub const MCSE_RATIO: f64 = 3.0;

/// The committed reference of the gate.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Baseline {
    pub experiment: String,
    pub experiment_hash: String,
    pub k: f64,
    pub cells: Vec<BaseCell>,
    pub verdicts: Vec<BaseVerdict>,
    /// FNV-1a-64 of runs.csv without its `*_seconds` columns (informational: equal means the
    /// run reproduced the baseline to the bit).
    pub runs_hash: String,
    pub manifest: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BaseCell {
    pub cell: String,
    pub n: usize,
    pub d: usize,
    pub heterogeneity: f64,
    pub type_weight: Option<f64>,
    pub estimator: String,
    pub n_reps: usize,
    pub mean_angular_error_deg: f64,
    pub mcse_angular_error_deg: f64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BaseVerdict {
    pub key: String,
    pub pass: bool,
}

/// Runs one unit: `(experiment, cell, replication) -> rows`. The gate normally uses
/// [`signest_sweep::run_unit`]; tests plant defects by passing other functions.
pub type UnitFn<'a> = dyn Fn(&Experiment, &Cell, u64) -> Result<Vec<Row>, SweepError> + Sync + 'a;

/// Everything a gate run produced.
#[derive(Debug, Clone)]
pub struct GateRun {
    pub rows: Vec<Row>,
    pub summary: Vec<SummaryRow>,
    pub targets: Vec<TargetRow>,
    pub verdicts: Vec<Verdict>,
    /// (cell key, replication, whether the replay equalled the run).
    pub replays: Vec<(String, u64, bool)>,
}

/// FNV-1a-64 (hex) of the rows' CSV with the timing columns zeroed.
pub fn runs_hash(rows: &[Row]) -> String {
    let bytes = csv_text(&Row::without_timings(rows)).unwrap_or_default();
    format!("{:016x}", signest_core::seed::fnv1a64(&bytes))
}

/// Runs every unit of `exp` in parallel, then summaries, targets, verdicts and replays.
pub fn execute(exp: &Study, unit: &UnitFn, threads: Option<usize>) -> Result<GateRun, TheoryError> {
    let r = exp.replications;
    let units: Vec<(usize, u64)> = (0..exp.cells.len())
        .flat_map(|c| (0..r).map(move |k| (c, k)))
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| other(format!("thread pool: {e}")))?;
    let per_unit: Vec<Result<Vec<Row>, SweepError>> = pool.install(|| {
        units
            .par_iter()
            .map(|&(c, k)| unit(&exp.experiment, &exp.cells[c], k))
            .collect()
    });
    let mut rows = Vec::new();
    for u in per_unit {
        rows.extend(u?);
    }
    let summary = summarise(&rows);
    let targets = verdict::experiment_targets(exp)?;
    let verdicts = verdict::verdicts(exp, &rows, &targets);
    // One replay per cell, on this thread (outside the pool).
    let mut replays = Vec::new();
    for c in &exp.cells {
        let k = (c.index as u64 * 7919 + 13) % r;
        let again = unit(&exp.experiment, c, k)?;
        let orig: Vec<Row> = rows
            .iter()
            .filter(|x| x.cell == c.key && x.replication == k)
            .cloned()
            .collect();
        replays.push((c.key.clone(), k, Row::same_units(&again, &orig)));
    }
    Ok(GateRun {
        rows,
        summary,
        targets,
        verdicts,
        replays,
    })
}

/// One comparison of the gate.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GateItem {
    /// grid, accuracy, mcse, verdict, replay, experiment.
    pub check: String,
    pub subject: String,
    pub pass: bool,
    pub detail: String,
}

/// The baseline that `run` would set.
pub fn baseline_from(exp: &Study, run: &GateRun, manifest: serde_json::Value) -> Baseline {
    Baseline {
        experiment: exp.name.clone(),
        experiment_hash: exp.hash.clone(),
        k: K,
        cells: run
            .summary
            .iter()
            .map(|s| BaseCell {
                cell: s.cell.clone(),
                n: s.n,
                d: s.d,
                heterogeneity: s.heterogeneity,
                type_weight: s.type_weight,
                estimator: s.estimator.clone(),
                n_reps: s.n_reps,
                mean_angular_error_deg: s.mean_angular_error_deg,
                mcse_angular_error_deg: s.mcse_angular_error_deg,
            })
            .collect(),
        verdicts: run
            .verdicts
            .iter()
            .map(|v| BaseVerdict {
                key: v.key.clone(),
                pass: v.pass,
            })
            .collect(),
        runs_hash: runs_hash(&run.rows),
        manifest,
    }
}

/// Compares a run with the baseline, item by item.
pub fn compare(exp: &Study, run: &GateRun, base: &Baseline) -> Vec<GateItem> {
    let mut items = Vec::new();
    let mut item = |check: &str, subject: String, pass: bool, detail: String| {
        items.push(GateItem {
            check: check.into(),
            subject,
            pass,
            detail,
        });
    };
    item(
        "experiment",
        exp.name.clone(),
        exp.hash == base.experiment_hash,
        if exp.hash == base.experiment_hash {
            "experiment file unchanged since the baseline".into()
        } else {
            format!(
                "experiment hash {} but the baseline was made from {}: update the baseline deliberately (--update-baseline)",
                exp.hash, base.experiment_hash
            )
        },
    );
    for b in &base.cells {
        let subject = format!("{} {}", b.cell, b.estimator);
        let Some(s) = run
            .summary
            .iter()
            .find(|s| s.cell == b.cell && s.estimator == b.estimator)
        else {
            item(
                "grid",
                subject,
                false,
                "in the baseline but not in this run".into(),
            );
            continue;
        };
        let same = s.n == b.n
            && s.d == b.d
            && s.heterogeneity == b.heterogeneity
            && s.type_weight == b.type_weight;
        item(
            "grid",
            subject.clone(),
            same && s.n_reps == b.n_reps,
            format!(
                "n {} d {} h {} reps {} (baseline n {} d {} h {} reps {})",
                s.n, s.d, s.heterogeneity, s.n_reps, b.n, b.d, b.heterogeneity, b.n_reps
            ),
        );
        let se = (s.mcse_angular_error_deg.powi(2) + b.mcse_angular_error_deg.powi(2)).sqrt();
        let limit = b.mean_angular_error_deg + K * se;
        let ok = s.mean_angular_error_deg <= limit;
        item(
            "accuracy",
            subject.clone(),
            ok,
            format!(
                "mean error {:.4}° vs baseline {:.4}° (limit {:.4}° = baseline + {K}·{:.4}){}",
                s.mean_angular_error_deg,
                b.mean_angular_error_deg,
                limit,
                se,
                if ok {
                    String::new()
                } else {
                    format!(
                        ": worse by {:.1} combined MCSEs",
                        (s.mean_angular_error_deg - b.mean_angular_error_deg) / se
                    )
                }
            ),
        );
        let ratio = s.mcse_angular_error_deg / b.mcse_angular_error_deg;
        item(
            "mcse",
            subject,
            s.mcse_angular_error_deg > 0.0 && (1.0 / MCSE_RATIO..=MCSE_RATIO).contains(&ratio),
            format!(
                "MCSE {:.4}° vs baseline {:.4}° (ratio {:.2}, allowed 1/{MCSE_RATIO}..{MCSE_RATIO})",
                s.mcse_angular_error_deg, b.mcse_angular_error_deg, ratio
            ),
        );
    }
    for s in &run.summary {
        if !base
            .cells
            .iter()
            .any(|b| b.cell == s.cell && b.estimator == s.estimator)
        {
            item(
                "grid",
                format!("{} {}", s.cell, s.estimator),
                false,
                "in this run but not in the baseline".into(),
            );
        }
    }
    for b in &base.verdicts {
        match run.verdicts.iter().find(|v| v.key == b.key) {
            Some(v) => item(
                "verdict",
                b.key.clone(),
                v.pass == b.pass,
                format!("{} (baseline {}): {}", pf(v.pass), pf(b.pass), v.reason),
            ),
            None => item(
                "verdict",
                b.key.clone(),
                false,
                "verdict missing from this run".into(),
            ),
        }
    }
    for v in &run.verdicts {
        if !base.verdicts.iter().any(|b| b.key == v.key) {
            item(
                "verdict",
                v.key.clone(),
                false,
                format!("new verdict not in the baseline ({})", pf(v.pass)),
            );
        }
    }
    for (cell, k, same) in &run.replays {
        item(
            "replay",
            format!("{cell} rep {k}"),
            *same,
            if *same {
                "replayed alone: identical rows".into()
            } else {
                "replayed alone: rows differ from the parallel run (randomness depends on threads or order)".into()
            },
        );
    }
    items
}

fn pf(p: bool) -> &'static str {
    if p { "pass" } else { "fail" }
}

/// Markdown table of the items (all, or only the failed ones).
pub fn table(items: &[GateItem], failed_only: bool) -> String {
    let mut s = String::from("| check | subject | result | detail |\n|---|---|---|---|\n");
    for i in items.iter().filter(|i| !failed_only || !i.pass) {
        s += &format!(
            "| {} | {} | {} | {} |\n",
            i.check,
            i.subject,
            if i.pass { "pass" } else { "FAIL" },
            i.detail
        );
    }
    s
}

/// What [`check`] found.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    pub items: Vec<GateItem>,
    pub run: GateRun,
    pub wall_seconds: f64,
    /// Whether this run reproduced the baseline's runs.csv to the bit.
    pub identical_to_baseline: bool,
    pub baseline_updated: bool,
}

/// `signest check`: runs `exp_path`, writes its results into `out`, and compares them with
/// `baseline_path` (or, with `update`, rewrites the baseline from this run).
pub fn check(
    exp_path: &std::path::Path,
    baseline_path: &std::path::Path,
    out: &std::path::Path,
    update: bool,
    threads: Option<usize>,
) -> Result<CheckOutcome, TheoryError> {
    use signest_sweep::results::write_atomic;
    let t0 = std::time::Instant::now();
    let exp = Study::from_file(exp_path)?;
    let base: Option<Baseline> = if update {
        None
    } else {
        let text = std::fs::read_to_string(baseline_path).map_err(|e| {
            input(format!(
                "{}: cannot read the baseline ({e}); create it deliberately with --update-baseline",
                baseline_path.display()
            ))
        })?;
        Some(serde_json::from_str(&text).map_err(|e| {
            input(format!(
                "{}: not a baseline file: {e}",
                baseline_path.display()
            ))
        })?)
    };
    let unit = |e: &Experiment, c: &Cell, k: u64| signest_sweep::run_unit(e, c, k);
    let run = execute(&exp, &unit, threads)?;
    let wall = t0.elapsed().as_secs_f64();
    let rd = ResultsDir::new(out);
    rd.create()?;
    let w = |name: &str, bytes: &[u8]| rd.write(name, bytes);
    w(signest_sweep::results::RUNS, &csv_text(&run.rows)?)?;
    w(signest_sweep::results::SUMMARY, &csv_text(&run.summary)?)?;
    w(signest_sweep::results::TARGETS, &csv_text(&run.targets)?)?;
    rd.write_experiment(&exp.experiment)?;
    let audit = verdict::optimiser_audit(&exp, &run.rows);
    crate::files::write_verdicts(&exp, &run.verdicts, &audit, out)?;
    let manifest = serde_json::json!({
        "signest_version": env!("CARGO_PKG_VERSION"),
        "command": format!("signest check --experiment {} --update-baseline", exp_path.display()),
        "experiment_file": exp_path.display().to_string(),
        "git": signest_sweep::output::git_commit(),
        "created_unix": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()),
        "threads": rayon::current_num_threads(),
        "wall_seconds": wall,
        "k": K,
        "mcse_ratio": MCSE_RATIO,
    });
    let (items, identical, updated) = match base {
        Some(b) => {
            let items = compare(&exp, &run, &b);
            let same = runs_hash(&run.rows) == b.runs_hash;
            (items, same, false)
        }
        None => {
            let b = baseline_from(&exp, &run, manifest);
            if let Some(p) = baseline_path.parent() {
                std::fs::create_dir_all(p)
                    .map_err(|e| input(format!("cannot create {}: {e}", p.display())))?;
            }
            write_atomic(
                baseline_path,
                serde_json::to_string_pretty(&b).expect("json").as_bytes(),
            )?;
            let items = compare(&exp, &run, &b);
            (items, true, true)
        }
    };
    let report = format!(
        "# signest check\n\nExperiment `{}` against `{}`; k = {K} combined MCSEs, MCSE ratio within {MCSE_RATIO}. Identical to the baseline's runs: {}. Wall time {:.1} s.\n\n{}\ncheck: {} passed, {} failed\n",
        exp_path.display(),
        baseline_path.display(),
        if identical { "yes" } else { "no" },
        wall,
        table(&items, false),
        items.iter().filter(|i| i.pass).count(),
        items.iter().filter(|i| !i.pass).count()
    );
    w(signest_sweep::results::CHECK, report.as_bytes())?;
    Ok(CheckOutcome {
        items,
        run,
        wall_seconds: wall,
        identical_to_baseline: identical,
        baseline_updated: updated,
    })
}
