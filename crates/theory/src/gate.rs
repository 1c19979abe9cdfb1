//! The accuracy gate (`signest check`): runs a small experiment (`experiments/ci.toml`) and
//! compares it with a committed baseline (`results/ci/baseline.json`).
//!
//! A *gate item* is one comparison; the gate fails when any item fails. Every numeric item
//! reports its value, the baseline's, and the change in the item's own units (an MCSE, a
//! bootstrap standard error, a target's stated numerical error):
//! - **grid**: every baseline (cell, estimator) exists with the same n, d, heterogeneity and
//!   type_weight, and the run has no (cell, estimator) the baseline lacks;
//! - **accuracy**: mean angular error ≤ baseline mean + k·√(MCSE² + MCSE_baseline²), with
//!   k = [`K`] = 4. Under a legitimate change that redraws all data, the difference is ≈ normal
//!   with that standard error, so one item false-alarms with probability 1 − Φ(4) = 3.2·10⁻⁵;
//!   over the 32 items of ci.toml the family-wise rate is ≤ 1.0·10⁻³;
//! - **mcse**: each MCSE is > 0 and within a factor 3 of the baseline's (the MCSE of an
//!   estimator over 80 replications varies by ~10–25% between independent runs; a factor 3 is
//!   far outside that, and catches an MCSE computed as zero or wrongly scaled);
//! - **target**: every population target (group, estimator) has the baseline's method, and its
//!   bias and direction equal the baseline's within the error the two targets state:
//!   deterministic routes (quadrature, gaussian, identified) within e + e_baseline (each value
//!   lies within its error of the truth) plus a rounding floor [`TARGET_FLOOR_DEG`]; the stream
//!   route within k·√(e² + e_baseline²) (its error is an MCSE). Targets do not depend on the
//!   experiment's seed, so a redraw cannot move them: these items false-alarm only if a stated
//!   error understates the true one;
//! - **statistic**: every verdict's statistic and interval ends (value, lo, hi) within
//!   k_s·√(se² + se_baseline²) of the baseline's, se the statistic's bootstrap standard error
//!   ([`crate::stats::Interval::se`]). k_s = Φ⁻¹(1 − α/(2N)) with α = [`STATISTIC_ALARM`] and
//!   N the numbers compared (Bonferroni, two-sided), so under a legitimate redraw all of them
//!   together false-alarm with probability ≤ 10⁻³. A statistic without a standard error (a
//!   crossover n, a grid point) must equal the baseline's;
//! - **verdict**: every baseline verdict exists and has the same pass/fail;
//! - **replay**: one replication per cell, recomputed alone on the calling thread, equals its
//!   rows in the parallel run (all columns but `*_seconds`): catches randomness that depends
//!   on threads or scheduling.
//!
//! **Expected changes.** The gate reruns a fixed seed: with the code unchanged every number
//! equals its baseline's to the bit (reported as "identical to the baseline"). A deliberate
//! change to a sampler, a solver or the data moves accuracy and statistic items by about one
//! standard error, well inside the bounds. A change to a verdict rule, a statistic or a
//! target's numerics moves its items far beyond them, and needs `signest check
//! --update-baseline --reason "..."`: the new baseline keeps the history of its predecessors
//! and records, per update, the reason, the commit, and which items the run moved outside the
//! previous baseline's bounds ([`BaselineChange`]).

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
/// Family-wise false-alarm rate of the statistic items under a legitimate redraw.
pub const STATISTIC_ALARM: f64 = 1e-3;
/// Rounding allowance (degrees) of a deterministic target: directions are stored with 12
/// decimals (≤ 1e-10° of angle), and floating-point sums differ across machines by far less.
pub const TARGET_FLOOR_DEG: f64 = 1e-9;

/// k_s of the statistic items: Φ⁻¹(1 − α/(2N)) for N numbers compared.
pub fn statistic_k(n_numbers: usize) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    let z = Normal::standard();
    z.inverse_cdf(1.0 - STATISTIC_ALARM / (2.0 * n_numbers.max(1) as f64))
}

/// The committed reference of the gate.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Baseline {
    pub experiment: String,
    pub experiment_hash: String,
    pub k: f64,
    pub cells: Vec<BaseCell>,
    pub verdicts: Vec<BaseVerdict>,
    /// Population targets of the run (absent from baselines made before they were compared).
    #[serde(default)]
    pub targets: Vec<BaseTarget>,
    /// Why the baseline was set, oldest first.
    #[serde(default)]
    pub changes: Vec<BaselineChange>,
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
    /// The statistic, its interval ends and its standard error (None: NaN, or a baseline made
    /// before statistics were compared).
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(default)]
    pub lo: Option<f64>,
    #[serde(default)]
    pub hi: Option<f64>,
    #[serde(default)]
    pub se: Option<f64>,
}

/// One population target of the baseline.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BaseTarget {
    pub group: String,
    pub estimator: String,
    pub method: String,
    pub bias_deg: f64,
    pub error_deg: f64,
    /// Unit direction, as targets.csv writes it.
    pub direction: String,
}

/// One deliberate rewrite of the baseline.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BaselineChange {
    pub reason: String,
    pub git: serde_json::Value,
    pub created_unix: f64,
    /// Whether the run reproduced the previous baseline's runs.csv to the bit (None: there was
    /// no readable previous baseline).
    pub identical_runs: Option<bool>,
    /// Items of the run that failed against the previous baseline, as `check subject`.
    pub moved: Vec<String>,
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
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
    /// experiment, grid, accuracy, mcse, target, statistic, verdict, replay.
    pub check: String,
    pub subject: String,
    pub pass: bool,
    /// The run's number, the baseline's, the change in `unit`s and the largest allowed change
    /// in those units (all NaN for an item that compares no number).
    pub value: f64,
    pub baseline: f64,
    pub change: f64,
    pub allowed: f64,
    /// What one unit of `change` is: "combined MCSE", "ratio", "bootstrap SE", "stated error",
    /// "exact" (must be equal), or empty.
    pub unit: String,
    pub detail: String,
}

/// The numbers of a numeric gate item.
#[derive(Debug, Clone, Copy)]
struct Num {
    value: f64,
    baseline: f64,
    change: f64,
    allowed: f64,
    unit: &'static str,
}

const NONE: Num = Num {
    value: f64::NAN,
    baseline: f64::NAN,
    change: f64::NAN,
    allowed: f64::NAN,
    unit: "",
};

/// Compares one number with its baseline in units of `se` (two-sided, within `k`): equal
/// NaNs agree; a number without a standard error must equal the baseline's (to `floor`).
fn two_sided(new: f64, base: f64, se: f64, k: f64, floor: f64, unit: &'static str) -> (bool, Num) {
    let d = new - base;
    let (pass, change, allowed, unit) = if new.is_nan() || base.is_nan() {
        let both = new.is_nan() && base.is_nan();
        (both, if both { 0.0 } else { f64::INFINITY }, 0.0, unit)
    } else if se.is_finite() && se > 0.0 {
        (d.abs() <= k * se + floor, d / se, k, unit)
    } else {
        (d.abs() <= floor, d, floor, "exact")
    };
    let n = Num {
        value: new,
        baseline: base,
        change,
        allowed,
        unit,
    };
    (pass, n)
}

/// Angle (degrees) between two directions written as space-separated coordinates; NaN when
/// either does not parse or their lengths differ.
fn direction_angle(a: &str, b: &str) -> f64 {
    let p =
        |s: &str| -> Option<Vec<f64>> { s.split_whitespace().map(|x| x.parse().ok()).collect() };
    match (p(a), p(b)) {
        (Some(x), Some(y)) if x.len() == y.len() && !x.is_empty() => {
            signest_core::metrics::fine_angle_deg(&x, &y)
        }
        _ => f64::NAN,
    }
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
                value: finite(v.value),
                lo: finite(v.lo),
                hi: finite(v.hi),
                se: finite(v.se),
            })
            .collect(),
        targets: run
            .targets
            .iter()
            .map(|t| BaseTarget {
                group: t.group.clone(),
                estimator: t.estimator.clone(),
                method: t.method.clone(),
                bias_deg: t.bias_deg,
                error_deg: t.error_deg,
                direction: t.direction.clone(),
            })
            .collect(),
        changes: Vec::new(),
        runs_hash: runs_hash(&run.rows),
        manifest,
    }
}

/// Compares a run with the baseline, item by item.
pub fn compare(exp: &Study, run: &GateRun, base: &Baseline) -> Vec<GateItem> {
    let mut items = Vec::new();
    let mut item = |check: &str, subject: String, pass: bool, n: Num, detail: String| {
        items.push(GateItem {
            check: check.into(),
            subject,
            pass,
            value: n.value,
            baseline: n.baseline,
            change: n.change,
            allowed: n.allowed,
            unit: n.unit.into(),
            detail,
        });
    };
    item(
        "experiment",
        exp.name.clone(),
        exp.hash == base.experiment_hash,
        NONE,
        if exp.hash == base.experiment_hash {
            "experiment file unchanged since the baseline".into()
        } else {
            format!(
                "experiment hash {} but the baseline was made from {}: update the baseline deliberately (--update-baseline --reason)",
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
                NONE,
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
            NONE,
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
            Num {
                value: s.mean_angular_error_deg,
                baseline: b.mean_angular_error_deg,
                change: (s.mean_angular_error_deg - b.mean_angular_error_deg) / se,
                allowed: K,
                unit: "combined MCSE",
            },
            format!(
                "mean error (deg); one-sided: worse by at most {K}·{se:.4}° = {:.4}°",
                K * se
            ),
        );
        let ratio = s.mcse_angular_error_deg / b.mcse_angular_error_deg;
        item(
            "mcse",
            subject,
            s.mcse_angular_error_deg > 0.0 && (1.0 / MCSE_RATIO..=MCSE_RATIO).contains(&ratio),
            Num {
                value: s.mcse_angular_error_deg,
                baseline: b.mcse_angular_error_deg,
                change: ratio,
                allowed: MCSE_RATIO,
                unit: "ratio",
            },
            format!("MCSE (deg); ratio within 1/{MCSE_RATIO}..{MCSE_RATIO}"),
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
                NONE,
                "in this run but not in the baseline".into(),
            );
        }
    }
    for b in &base.targets {
        let subject = format!("{} {}", b.group, b.estimator);
        let Some(t) = run
            .targets
            .iter()
            .find(|t| t.group == b.group && t.estimator == b.estimator)
        else {
            item(
                "target",
                subject,
                false,
                NONE,
                "target missing from this run".into(),
            );
            continue;
        };
        let stream = b.method == "stream";
        // Deterministic routes: |Δ| ≤ e + e_b (+ rounding floor); stream: k combined MCSEs.
        let (se, k) = if stream {
            ((t.error_deg.powi(2) + b.error_deg.powi(2)).sqrt(), K)
        } else {
            (t.error_deg + b.error_deg, 1.0)
        };
        let unit = if stream {
            "combined MCSE"
        } else {
            "stated error"
        };
        let (ok_bias, n) = two_sided(t.bias_deg, b.bias_deg, se, k, TARGET_FLOOR_DEG, unit);
        let moved = direction_angle(&t.direction, &b.direction);
        let dir_limit = k * se + TARGET_FLOOR_DEG;
        let ok_dir = moved <= dir_limit;
        let ok_method = t.method == b.method;
        item(
            "target",
            subject,
            ok_bias && ok_dir && ok_method,
            n,
            format!(
                "bias (deg), {} (baseline {}), error {:.1e}° (baseline {:.1e}°); direction moved {:.2e}° (allowed {:.2e}°)",
                t.method, b.method, t.error_deg, b.error_deg, moved, dir_limit
            ),
        );
    }
    for t in &run.targets {
        if !base.targets.is_empty()
            && !base
                .targets
                .iter()
                .any(|b| b.group == t.group && b.estimator == t.estimator)
        {
            item(
                "target",
                format!("{} {}", t.group, t.estimator),
                false,
                NONE,
                "new target not in the baseline".into(),
            );
        }
    }
    // Statistic items: three numbers per verdict that has them in the baseline.
    let compared: Vec<(&BaseVerdict, &Verdict)> = base
        .verdicts
        .iter()
        .filter(|b| b.value.is_some() || b.se.is_some())
        .filter_map(|b| run.verdicts.iter().find(|v| v.key == b.key).map(|v| (b, v)))
        .collect();
    let n_numbers = 3 * compared
        .iter()
        .filter(|(b, _)| b.se.is_some_and(|x| x > 0.0))
        .count();
    let ks = statistic_k(n_numbers);
    for (b, v) in &compared {
        let se_b = b.se.unwrap_or(f64::NAN);
        let se = (v.se.powi(2) + se_b.powi(2)).sqrt();
        let nan = |x: Option<f64>| x.unwrap_or(f64::NAN);
        for (what, new, old) in [
            ("value", v.value, nan(b.value)),
            ("lo", v.lo, nan(b.lo)),
            ("hi", v.hi, nan(b.hi)),
        ] {
            let (ok, n) = two_sided(new, old, se, ks, 0.0, "bootstrap SE");
            item(
                "statistic",
                format!("{} [{what}]", b.key),
                ok,
                n,
                format!(
                    "se {:.3e} (baseline {:.3e}); two-sided within k_s = {ks:.2} combined SEs",
                    v.se, se_b
                ),
            );
        }
    }
    for b in &base.verdicts {
        match run.verdicts.iter().find(|v| v.key == b.key) {
            Some(v) => item(
                "verdict",
                b.key.clone(),
                v.pass == b.pass,
                NONE,
                format!("{} (baseline {}): {}", pf(v.pass), pf(b.pass), v.reason),
            ),
            None => item(
                "verdict",
                b.key.clone(),
                false,
                NONE,
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
                NONE,
                format!("new verdict not in the baseline ({})", pf(v.pass)),
            );
        }
    }
    for (cell, k, same) in &run.replays {
        item(
            "replay",
            format!("{cell} rep {k}"),
            *same,
            NONE,
            if *same {
                "replayed alone: identical rows".into()
            } else {
                "replayed alone: rows differ from the parallel run (randomness depends on threads or order)".into()
            },
        );
    }
    items
}

/// The statistic items' k_s for these items (NaN when there are none).
pub fn statistic_k_of(items: &[GateItem]) -> f64 {
    items
        .iter()
        .find(|i| i.check == "statistic" && i.unit == "bootstrap SE")
        .map_or(f64::NAN, |i| i.allowed)
}

fn pf(p: bool) -> &'static str {
    if p { "pass" } else { "fail" }
}

fn num(x: f64) -> String {
    if x.is_nan() {
        "—".into()
    } else if x == 0.0 || (1e-3..1e6).contains(&x.abs()) {
        format!("{x:.4}")
    } else {
        format!("{x:.3e}")
    }
}

/// Markdown table of the items (all, or only the failed ones): per item the number, its
/// baseline, the change in the item's own units and the largest allowed change.
pub fn table(items: &[GateItem], failed_only: bool) -> String {
    let mut s = String::from(
        "| check | subject | value | baseline | change | allowed | unit | result | detail |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for i in items.iter().filter(|i| !failed_only || !i.pass) {
        s += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            i.check,
            i.subject,
            num(i.value),
            num(i.baseline),
            num(i.change),
            num(i.allowed),
            i.unit,
            if i.pass { "pass" } else { "FAIL" },
            i.detail
        );
    }
    s
}

/// The gate's false-alarm rates under a legitimate redraw, for the report.
pub fn false_alarm_text(items: &[GateItem]) -> String {
    let count = |c: &str| items.iter().filter(|i| i.check == c).count();
    let n_acc = count("accuracy");
    let p_acc = 1.0 - crate::quad::normal_cdf(K);
    let n_stat = items
        .iter()
        .filter(|i| i.check == "statistic" && i.unit == "bootstrap SE")
        .count();
    format!(
        "False alarms under a legitimate change that redraws the data: accuracy, one-sided at k = {K}: {:.1e} per item, ≤ {:.1e} over its {n_acc} items; statistic, two-sided at k_s = {:.2} (Bonferroni over its {n_stat} numbers with a bootstrap SE): ≤ {STATISTIC_ALARM:.0e} together; target: none from a redraw (targets do not depend on the seed), deterministic routes within the sum of the stated errors + {TARGET_FLOOR_DEG:.0e}°; mcse: a factor {MCSE_RATIO} is far outside the 10–25% run-to-run spread of an MCSE over 80 replications. With the code unchanged every number equals its baseline's (change 0).\n",
        p_acc,
        p_acc * n_acc as f64,
        statistic_k_of(items),
    )
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

fn read_baseline(path: &std::path::Path) -> Result<Baseline, TheoryError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        input(format!(
            "{}: cannot read the baseline ({e}); create it deliberately with --update-baseline --reason",
            path.display()
        ))
    })?;
    serde_json::from_str(&text)
        .map_err(|e| input(format!("{}: not a baseline file: {e}", path.display())))
}

/// `signest check`: runs `exp_path`, writes its results into `out`, and compares them with
/// `baseline_path` (or, with `update = Some(reason)`, rewrites the baseline from this run,
/// keeping the previous baseline's history and recording the reason and what moved).
pub fn check(
    exp_path: &std::path::Path,
    baseline_path: &std::path::Path,
    out: &std::path::Path,
    update: Option<&str>,
    threads: Option<usize>,
) -> Result<CheckOutcome, TheoryError> {
    use signest_sweep::results::write_atomic;
    let t0 = std::time::Instant::now();
    if update.is_some_and(|r| r.trim().is_empty()) {
        return Err(input(
            "--update-baseline needs a non-empty --reason (what changed and why the numbers may move)",
        ));
    }
    let exp = Study::from_file(exp_path)?;
    // Updating: the previous baseline, if readable, is compared with and its history kept.
    let (base, previous) = match update {
        None => (Some(read_baseline(baseline_path)?), None),
        Some(_) => (None, read_baseline(baseline_path).ok()),
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
        "command": format!("signest check --experiment {} --update-baseline --reason {:?}", exp_path.display(), update.unwrap_or_default()),
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
            let mut b = baseline_from(&exp, &run, manifest.clone());
            let (identical_runs, moved, mut changes) = match &previous {
                Some(p) => (
                    Some(runs_hash(&run.rows) == p.runs_hash),
                    compare(&exp, &run, p)
                        .into_iter()
                        .filter(|i| !i.pass)
                        .map(|i| format!("{} {}", i.check, i.subject))
                        .collect(),
                    p.changes.clone(),
                ),
                None => (None, Vec::new(), Vec::new()),
            };
            changes.push(BaselineChange {
                reason: update.unwrap_or_default().trim().to_string(),
                git: manifest["git"].clone(),
                created_unix: manifest["created_unix"].as_f64().unwrap_or(0.0),
                identical_runs,
                moved,
            });
            b.changes = changes;
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
        "# signest check\n\nExperiment `{}` against `{}`; rules: `signest-theory` gate module docs and docs/theory.md. Identical to the baseline's runs: {}. Wall time {:.1} s.\n\n{}\n{}\ncheck: {} passed, {} failed\n",
        exp_path.display(),
        baseline_path.display(),
        if identical { "yes" } else { "no" },
        wall,
        false_alarm_text(&items),
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

#[cfg(test)]
mod tests {
    //! The gate's comparison rules on hand-made numbers (survivors of `just mutants gate`,
    //! docs/mutants.md).
    use super::*;

    /// k_s against published normal quantiles: z(1 − 0.0005) = 3.2905 (N = 1) and
    /// z(1 − 0.00005) = 3.8906 (N = 10); more numbers, a larger k.
    #[test]
    fn statistic_k_is_the_bonferroni_normal_quantile() {
        assert!(
            (statistic_k(1) - 3.290_527).abs() < 1e-5,
            "{}",
            statistic_k(1)
        );
        assert!(
            (statistic_k(10) - 3.890_592).abs() < 1e-5,
            "{}",
            statistic_k(10)
        );
        assert_eq!(statistic_k(0), statistic_k(1));
        assert!(statistic_k(42) > statistic_k(10));
    }

    /// With a standard error: pass within k·se + floor, the change in SE units, the allowed
    /// bound k. A NaN on one side only fails; NaN on both agrees.
    #[test]
    fn two_sided_with_a_standard_error() {
        let (pass, n) = two_sided(1.3, 1.0, 0.1, 4.0, 0.0, "bootstrap SE");
        assert!(pass);
        assert!((n.change - 3.0).abs() < 1e-12, "{}", n.change);
        assert_eq!(
            (n.value, n.baseline, n.allowed, n.unit),
            (1.3, 1.0, 4.0, "bootstrap SE")
        );
        assert!(!two_sided(1.41, 1.0, 0.1, 4.0, 0.0, "u").0);
        assert!(!two_sided(0.59, 1.0, 0.1, 4.0, 0.0, "u").0, "two-sided");
        // The floor widens the bound: 0.45 beyond 4·0.1 fails alone, passes with floor 0.1.
        assert!(!two_sided(1.45, 1.0, 0.1, 4.0, 0.0, "u").0);
        assert!(two_sided(1.45, 1.0, 0.1, 4.0, 0.1, "u").0);
        // NaN on one side only is a change; on both, agreement.
        for (a, b) in [(f64::NAN, 1.0), (1.0, f64::NAN)] {
            let (pass, n) = two_sided(a, b, 0.1, 4.0, 0.0, "u");
            assert!(!pass && n.change == f64::INFINITY, "{a} {b}");
        }
        let (pass, n) = two_sided(f64::NAN, f64::NAN, 0.1, 4.0, 0.0, "u");
        assert!(pass && n.change == 0.0);
    }

    /// Without a standard error (NaN or 0) the number must equal the baseline's to the floor,
    /// and the change is reported in the number's own unit, marked "exact".
    #[test]
    fn two_sided_without_a_standard_error_is_exact() {
        for se in [0.0, f64::NAN] {
            let (pass, n) = two_sided(1000.0, 1000.0, se, 4.0, 0.0, "SE");
            assert!(pass && n.unit == "exact" && n.change == 0.0, "{se}");
            let (pass, n) = two_sided(3000.0, 1000.0, se, 4.0, 0.0, "SE");
            assert!(!pass, "{se}");
            assert_eq!((n.change, n.allowed, n.unit), (2000.0, 0.0, "exact"));
        }
    }

    /// Directions of different lengths, empty or unparsable do not compare (NaN, which fails
    /// a target item); equal ones are 0° apart, orthogonal ones 90°.
    #[test]
    fn direction_angle_parses_and_refuses_mismatches() {
        assert_eq!(direction_angle("1 0", "1 0"), 0.0);
        assert!((direction_angle("1 0", "0 2") - 90.0).abs() < 1e-12);
        assert!(direction_angle("1 0", "1 0 0").is_nan());
        assert!(direction_angle("1 0 0", "1 0").is_nan());
        assert!(direction_angle("", "").is_nan());
        assert!(direction_angle("1 x", "1 0").is_nan());
    }

    fn it(check: &str, pass: bool, value: f64, unit: &str) -> GateItem {
        GateItem {
            check: check.into(),
            subject: format!("{check} subject"),
            pass,
            value,
            baseline: 1.0,
            change: 0.0,
            allowed: 4.5,
            unit: unit.into(),
            detail: format!("{} (baseline pass)", pf(pass)),
        }
    }

    /// Numbers in the report: a dash for NaN, four decimals in [1e-3, 1e6) and for 0,
    /// scientific outside.
    #[test]
    fn report_numbers() {
        assert_eq!(num(f64::NAN), "—");
        assert_eq!(num(0.0), "0.0000");
        assert_eq!(num(-12.5), "-12.5000");
        assert_eq!(num(1e-5), "1.000e-5");
        assert_eq!(num(2.5e6), "2.500e6");
        assert_eq!((pf(true), pf(false)), ("pass", "fail"));
    }

    /// The table has one row per item (only the failed ones when asked), with the numbers and
    /// PASS/FAIL; `statistic_k_of` reads k_s from the first bootstrap-SE statistic item.
    #[test]
    fn report_table_and_k() {
        let items = vec![
            it("accuracy", true, 2.0, "combined MCSE"),
            it("statistic", false, 0.25, "bootstrap SE"),
            it("statistic", true, 7.0, "exact"),
        ];
        let all = table(&items, false);
        assert_eq!(all.lines().count(), 2 + 3, "{all}");
        assert!(all.contains("| accuracy | accuracy subject | 2.0000 | 1.0000 | 0.0000 | 4.5000 | combined MCSE | pass | pass (baseline pass) |"), "{all}");
        let bad = table(&items, true);
        assert_eq!(bad.lines().count(), 2 + 1, "{bad}");
        assert!(
            bad.contains("| 0.2500 |") && bad.contains("| FAIL |"),
            "{bad}"
        );
        assert_eq!(statistic_k_of(&items), 4.5);
        assert!(statistic_k_of(&items[..1]).is_nan());
    }

    /// The false-alarm text states the accuracy rate 1 − Φ(K) per item (3.2e-5 at K = 4) and
    /// over its items, and counts the statistic numbers that have a bootstrap SE.
    #[test]
    fn false_alarm_text_states_the_rates() {
        let mut items = vec![it("accuracy", true, 1.0, "combined MCSE"); 10];
        items.push(it("statistic", true, 1.0, "bootstrap SE"));
        items.push(it("statistic", true, 1.0, "bootstrap SE"));
        items.push(it("statistic", true, 1.0, "exact"));
        let t = false_alarm_text(&items);
        assert!(
            t.contains("3.2e-5 per item, ≤ 3.2e-4 over its 10 items"),
            "{t}"
        );
        assert!(
            t.contains("k_s = 4.50 (Bonferroni over its 2 numbers"),
            "{t}"
        );
    }
}
