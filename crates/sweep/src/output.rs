//! Result files: `runs.csv` (tidy, one row per cell × replication × estimator),
//! `summary.csv` (per cell × estimator, with MCSEs) and `manifest.json`.

use crate::error::SweepError;
use crate::plan::Experiment;
use crate::results::{GitInfo, Host, Manifest, ManifestExperiment, ResultsDir, Stages};
use crate::run::Shard;
use crate::spec::Cell;
use signest_estimator::EstimatorEntry;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// One row of `runs.csv`. Timings are in the `*_seconds` columns only, so that comparing two
/// runs means dropping those columns; every other column is reproducible to the bit.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Row {
    pub cell: String,
    pub n: usize,
    pub d: usize,
    pub heterogeneity: f64,
    pub type_weight: Option<f64>,
    pub replication: u64,
    pub estimator: String,
    pub solver: String,
    pub angular_error_deg: Option<f64>,
    /// The Σ-weighted angle ∠(Σ^½ û, Σ^½ u*) in degrees, Σ the covariance of z (SPEC §3; for
    /// resampled features, the pool's second moment).
    #[serde(default)]
    pub sigma_angle_deg: Option<f64>,
    pub disagreement: Option<f64>,
    pub disagreement_mcse: Option<f64>,
    pub loss01: Option<f64>,
    /// The training 0-1 loss (weighted fraction) of the true direction u* on the same data:
    /// the same on every row of a unit. A sign fit above it has provably not found the
    /// minimum (u* is a feasible point with a lower loss).
    #[serde(default)]
    pub loss01_truth: Option<f64>,
    /// Sign-family fits only: `loss01 > loss01_truth`, a proven optimiser shortfall. Empty
    /// for other estimators (their objective is not the 0-1 loss).
    #[serde(default)]
    pub shortfall: Option<bool>,
    pub certified: bool,
    pub status: String,
    pub error: String,
    pub fit_seconds: f64,
    /// Time to draw the unit's data set (the same on every row of a unit).
    pub sample_seconds: f64,
}

impl Row {
    /// The rows with their timing fields (`*_seconds`) zeroed: what must agree between two
    /// computations of the same units (threads, shards, resume, reuse, replay).
    pub fn without_timings(rows: &[Row]) -> Vec<Row> {
        rows.iter()
            .cloned()
            .map(|mut r| {
                r.fit_seconds = 0.0;
                r.sample_seconds = 0.0;
                r
            })
            .collect()
    }

    /// Whether recomputed rows equal stored ones, timings aside. A column the stored file was
    /// written without (`sigma_angle_deg` in runs.csv files older than it) is not compared;
    /// every other column must be bit-identical.
    pub fn same_units(fresh: &[Row], stored: &[Row]) -> bool {
        if fresh.len() != stored.len() {
            return false;
        }
        let fresh: Vec<Row> = Row::without_timings(fresh)
            .into_iter()
            .zip(stored)
            .map(|(mut f, s)| {
                if s.sigma_angle_deg.is_none() {
                    f.sigma_angle_deg = None;
                }
                f
            })
            .collect();
        fresh == Row::without_timings(stored)
    }

    pub(crate) fn new(cell: &Cell, rep: u64, e: &EstimatorEntry) -> Row {
        Row {
            cell: cell.key.clone(),
            n: cell.n,
            d: cell.d,
            heterogeneity: cell.heterogeneity,
            type_weight: cell.type_weight,
            replication: rep,
            estimator: e.label.clone(),
            solver: e.solver.name.to_string(),
            angular_error_deg: None,
            sigma_angle_deg: None,
            disagreement: None,
            disagreement_mcse: None,
            loss01: None,
            loss01_truth: None,
            shortfall: None,
            certified: false,
            status: String::new(),
            error: String::new(),
            fit_seconds: 0.0,
            sample_seconds: 0.0,
        }
    }
}

/// One row of `summary.csv`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SummaryRow {
    pub cell: String,
    pub n: usize,
    pub d: usize,
    pub heterogeneity: f64,
    pub type_weight: Option<f64>,
    pub estimator: String,
    pub solver: String,
    /// Replications with a successful fit.
    pub n_reps: usize,
    pub mean_angular_error_deg: f64,
    /// Monte Carlo standard error of the mean: sd / sqrt(n_reps).
    pub mcse_angular_error_deg: f64,
    pub median_angular_error_deg: f64,
    pub q10_angular_error_deg: f64,
    pub q90_angular_error_deg: f64,
    /// Mean Σ-weighted angle (degrees) and its MCSE; NaN in summaries written before it.
    #[serde(default = "nan")]
    pub mean_sigma_angle_deg: f64,
    #[serde(default = "nan")]
    pub mcse_sigma_angle_deg: f64,
    pub mean_disagreement: f64,
    pub mcse_disagreement: f64,
    pub mean_loss01: f64,
    /// Mean 0-1 loss of u* on the same data sets.
    #[serde(default = "nan")]
    pub mean_loss01_truth: f64,
    /// Sign-family estimators: the share of successful fits with `loss01 > loss01_truth`
    /// (proven optimiser shortfalls); NaN for the others.
    #[serde(default = "nan")]
    pub shortfall_fraction: f64,
    pub certified_fraction: f64,
    pub failures: usize,
    pub mean_fit_seconds: f64,
}

fn nan() -> f64 {
    f64::NAN
}

/// Quantile with linear interpolation between order statistics (R's type 7).
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Sample variance (n − 1 denominator); NaN with fewer than two values.
pub fn sample_variance(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return f64::NAN;
    }
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    x.iter().map(|a| (a - m).powi(2)).sum::<f64>() / (n - 1.0)
}

fn mean_mcse(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    if x.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = x.iter().sum::<f64>() / n;
    (m, (sample_variance(x) / n).sqrt())
}

/// Summaries per (cell, estimator), in the order rows first appear.
pub fn summarise(rows: &[Row]) -> Vec<SummaryRow> {
    let mut keys: Vec<(String, String)> = Vec::new();
    let mut groups: std::collections::HashMap<(String, String), Vec<&Row>> =
        std::collections::HashMap::new();
    for r in rows {
        let k = (r.cell.clone(), r.estimator.clone());
        if !groups.contains_key(&k) {
            keys.push(k.clone());
        }
        groups.entry(k).or_default().push(r);
    }
    keys.into_iter()
        .map(|k| {
            let g = &groups[&k];
            let ok: Vec<&&Row> = g.iter().filter(|r| r.angular_error_deg.is_some()).collect();
            let mut err: Vec<f64> = ok.iter().map(|r| r.angular_error_deg.unwrap()).collect();
            let (m, se) = mean_mcse(&err);
            err.sort_by(f64::total_cmp);
            let dis: Vec<f64> = ok.iter().filter_map(|r| r.disagreement).collect();
            let (dm, dse) = mean_mcse(&dis);
            let sig: Vec<f64> = ok.iter().filter_map(|r| r.sigma_angle_deg).collect();
            let (sm, sse) = mean_mcse(&sig);
            let loss: Vec<f64> = ok.iter().filter_map(|r| r.loss01).collect();
            let truth: Vec<f64> = g.iter().filter_map(|r| r.loss01_truth).collect();
            let short: Vec<bool> = ok.iter().filter_map(|r| r.shortfall).collect();
            let first = g[0];
            SummaryRow {
                cell: first.cell.clone(),
                n: first.n,
                d: first.d,
                heterogeneity: first.heterogeneity,
                type_weight: first.type_weight,
                estimator: first.estimator.clone(),
                solver: first.solver.clone(),
                n_reps: ok.len(),
                mean_angular_error_deg: m,
                mcse_angular_error_deg: se,
                median_angular_error_deg: quantile(&err, 0.5),
                q10_angular_error_deg: quantile(&err, 0.1),
                q90_angular_error_deg: quantile(&err, 0.9),
                mean_sigma_angle_deg: sm,
                mcse_sigma_angle_deg: sse,
                mean_disagreement: dm,
                mcse_disagreement: dse,
                mean_loss01: mean_mcse(&loss).0,
                mean_loss01_truth: mean_mcse(&truth).0,
                shortfall_fraction: if short.is_empty() {
                    f64::NAN
                } else {
                    short.iter().filter(|s| **s).count() as f64 / short.len() as f64
                },
                certified_fraction: ok.iter().filter(|r| r.certified).count() as f64
                    / ok.len().max(1) as f64,
                failures: g.len() - ok.len(),
                mean_fit_seconds: g.iter().map(|r| r.fit_seconds).sum::<f64>() / g.len() as f64,
            }
        })
        .collect()
}

/// Reads a `runs.csv`.
pub fn read_runs(path: &Path) -> Result<Vec<Row>, SweepError> {
    crate::results::read_csv(path)
}

/// Facts about a run recorded in the manifest.
pub(crate) struct RunMeta {
    pub threads: usize,
    pub shard: Option<Shard>,
    pub started: SystemTime,
    pub plan_seconds: f64,
    pub run_seconds: f64,
    pub units_total: u64,
    pub units_this_run: u64,
    pub units_resumed: u64,
    pub fit_seconds: f64,
    pub sample_seconds: f64,
    /// Fit and sampling seconds of the units computed by this run (not resumed or reused).
    pub fresh_busy_seconds: f64,
    /// Whether some cell has enough rows for fits to run in parallel inside
    /// ([`signest_estimator::par::PAR_MIN_ROWS`]): fit times then overlap.
    pub inner_parallel: bool,
    /// [`git_commit`] read when the run started (the code that ran, not the tree at the end).
    pub git: Option<GitInfo>,
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `{commit, dirty}` of the git work tree in the current directory, or `None` outside one.
pub fn git_commit() -> Option<GitInfo> {
    git_commit_in(Path::new("."))
}

fn memory_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = s
        .lines()
        .find(|l| l.starts_with("MemTotal:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// See the `harness_overhead_fraction` key of [`manifest`].
fn overhead_fraction(meta: &RunMeta, wall: f64) -> Option<f64> {
    let fresh = meta.units_this_run - meta.units_resumed;
    let single = !meta.inner_parallel || meta.threads == 1;
    (fresh > 0 && single).then(|| 1.0 - meta.fresh_busy_seconds / (meta.threads as f64 * wall))
}

pub(crate) fn manifest(exp: &Experiment, meta: &RunMeta, write_seconds: f64) -> Manifest {
    let wall = meta.plan_seconds + meta.run_seconds + write_seconds;
    Manifest {
        signest_version: env!("CARGO_PKG_VERSION").to_string(),
        complete: true,
        experiment: ManifestExperiment {
            name: exp.name.clone(),
            description: exp.description.clone(),
            hash_fnv1a64: exp.hash.clone(),
            text: exp.text.clone(),
        },
        master_seed: exp.seed,
        replications: Some(exp.replications),
        cells: Some(exp.cells.len()),
        git: meta.git.clone(),
        threads: Some(meta.threads),
        shard: meta.shard,
        units_total: Some(meta.units_total),
        units_this_run: Some(meta.units_this_run),
        units_resumed: Some(meta.units_resumed),
        started_unix: Some(unix(meta.started)),
        finished_unix: Some(unix(SystemTime::now())),
        host: Some(Host {
            cores: std::thread::available_parallelism().map_or(0, |c| c.get()),
            memory_bytes: memory_bytes(),
        }),
        stages_seconds: Some(Stages {
            plan: meta.plan_seconds,
            run: meta.run_seconds,
            write: write_seconds,
            total: wall,
        }),
        fit_seconds_total: Some(meta.fit_seconds),
        sample_seconds_total: Some(meta.sample_seconds),
        harness_overhead_fraction: overhead_fraction(meta, wall),
        extra: serde_json::Value::Null,
        merged_from: Vec::new(),
    }
}

pub(crate) fn write_outputs(
    exp: &Experiment,
    dir: &ResultsDir,
    rows: &[Row],
    meta: &RunMeta,
    t_write: Instant,
) -> Result<(), SweepError> {
    // The manifest's write time covers the two CSVs.
    dir.write_results(rows, || {
        manifest(exp, meta, t_write.elapsed().as_secs_f64())
    })
}

/// The rows of a CSV text (header first) with every `*_seconds` column removed: the one rule
/// for comparing two runs of the same experiment, which must then agree exactly.
pub fn drop_seconds_columns(csv_text: &str) -> Vec<String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv_text.as_bytes());
    let mut keep: Vec<bool> = Vec::new();
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let Ok(rec) = rec else { break };
        if i == 0 {
            keep = rec.iter().map(|h| !h.ends_with("_seconds")).collect();
        }
        out.push(
            rec.iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(f, _)| f)
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    out
}

/// [`git_commit`] of the work tree at `dir`.
pub fn git_commit_in(dir: &Path) -> Option<GitInfo> {
    let out = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    out(&["rev-parse", "HEAD"]).map(|commit| GitInfo {
        commit,
        dirty: out(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(threads: usize, resumed: u64, inner_parallel: bool) -> RunMeta {
        RunMeta {
            threads,
            shard: None,
            started: SystemTime::now(),
            plan_seconds: 0.0,
            run_seconds: 10.0,
            units_total: 100,
            units_this_run: 100,
            units_resumed: resumed,
            fit_seconds: 500.0, // includes resumed units: must not enter the fraction
            sample_seconds: 1.0,
            fresh_busy_seconds: 19.0,
            inner_parallel,
            git: None,
        }
    }

    #[test]
    fn overhead_counts_this_runs_units_and_is_null_when_undefined() {
        // 2 threads × 10 s = 20 thread-seconds, 19 busy: 5% overhead.
        let f = overhead_fraction(&meta(2, 40, false), 10.0).unwrap();
        assert!((f - 0.05).abs() < 1e-12, "{f}");
        // Nothing computed by this run: no overhead to report.
        assert_eq!(overhead_fraction(&meta(2, 100, false), 10.0), None);
        // Fits parallel inside overlap in time: undefined at 2 threads, fine at 1.
        assert_eq!(overhead_fraction(&meta(2, 0, true), 10.0), None);
        let f1 = overhead_fraction(&meta(1, 0, true), 20.0).unwrap();
        assert!((f1 - 0.05).abs() < 1e-12, "{f1}");
    }
}

#[cfg(test)]
mod same_units_tests {
    use super::Row;

    fn row(angle: f64, sigma: Option<f64>) -> Row {
        Row {
            cell: "c".into(),
            n: 10,
            d: 2,
            heterogeneity: 1.0,
            type_weight: None,
            replication: 0,
            estimator: "bt".into(),
            solver: "newton".into(),
            angular_error_deg: Some(angle),
            sigma_angle_deg: sigma,
            disagreement: Some(angle / 180.0),
            disagreement_mcse: Some(0.0),
            loss01: Some(0.3),
            loss01_truth: Some(0.3),
            shortfall: None,
            certified: false,
            status: "converged".into(),
            error: String::new(),
            fit_seconds: 1.0,
            sample_seconds: 1.0,
        }
    }

    /// A stored file written before `sigma_angle_deg` existed still regenerates; any other
    /// difference, a different Σ-angle where one is stored, or a missing row does not.
    #[test]
    fn same_units_skips_only_columns_the_stored_file_lacks() {
        let fresh = vec![row(10.0, Some(9.0))];
        let mut timed = row(10.0, None);
        timed.fit_seconds = 5.0;
        assert!(Row::same_units(&fresh, &[timed]));
        assert!(Row::same_units(&fresh, &[row(10.0, Some(9.0))]));
        assert!(!Row::same_units(&fresh, &[row(10.0, Some(9.5))]));
        assert!(!Row::same_units(&fresh, &[row(10.5, None)]));
        assert!(!Row::same_units(&fresh, &[]));
        assert!(!Row::same_units(
            &[row(10.0, None), row(10.0, None)],
            &[row(10.0, None)]
        ));
    }
}

#[cfg(test)]
mod summary_tests {
    use super::*;

    /// Type-7 quantiles and the n − 1 variance on numbers whose answers are worked by hand
    /// (R: quantile(c(1, 2, 3, 4), c(0.1, 0.5, 0.9)) = 1.3, 2.5, 3.7; var = 5/3).
    #[test]
    fn quantile_and_variance_by_hand() {
        let x = [1.0, 2.0, 3.0, 4.0];
        for (p, want) in [(0.0, 1.0), (0.1, 1.3), (0.5, 2.5), (0.9, 3.7), (1.0, 4.0)] {
            assert!((quantile(&x, p) - want).abs() < 1e-12, "p = {p}");
        }
        assert!(quantile(&[], 0.5).is_nan());
        assert!((sample_variance(&x) - 5.0 / 3.0).abs() < 1e-15);
        assert_eq!(sample_variance(&[1.0, 3.0]), 2.0);
        assert!(sample_variance(&[1.0]).is_nan());
        let (m, se) = mean_mcse(&x);
        assert_eq!(m, 2.5);
        assert!((se - (5.0 / 12.0_f64).sqrt()).abs() < 1e-15);
    }

    fn srow(cell: &str, est: &str, rep: u64, err: Option<f64>) -> Row {
        Row {
            cell: cell.into(),
            n: 100,
            d: 2,
            heterogeneity: 1.0,
            type_weight: None,
            replication: rep,
            estimator: est.into(),
            solver: "s".into(),
            angular_error_deg: err,
            sigma_angle_deg: err.map(|e| 2.0 * e),
            disagreement: err.map(|e| e / 100.0),
            disagreement_mcse: Some(0.0),
            loss01: err.map(|_| 0.25),
            loss01_truth: Some(0.5),
            shortfall: err.map(|e| e > 2.5),
            certified: err.is_some_and(|e| e < 1.5),
            status: if err.is_some() { "converged" } else { "failed" }.into(),
            error: String::new(),
            fit_seconds: 1.0 + rep as f64,
            sample_seconds: 0.0,
        }
    }

    /// Every column of a summary from rows whose answers are worked by hand: a cell of one
    /// estimator with errors 1, 2, 3, 4 and one failed fit; the keys in the order rows first
    /// appear; a cell with no successful fit.
    #[test]
    fn summarise_by_hand() {
        let mut rows: Vec<Row> = (0..4)
            .map(|r| srow("c1", "a", r, Some(r as f64 + 1.0)))
            .collect();
        rows.insert(1, srow("c0", "b", 0, None));
        rows.push(srow("c1", "a", 4, None));
        let s = summarise(&rows);
        assert_eq!(
            s.iter()
                .map(|r| (r.cell.as_str(), r.estimator.as_str()))
                .collect::<Vec<_>>(),
            [("c1", "a"), ("c0", "b")]
        );
        let a = &s[0];
        assert_eq!((a.n_reps, a.failures), (4, 1));
        assert_eq!(a.mean_angular_error_deg, 2.5);
        assert!((a.mcse_angular_error_deg - (5.0 / 12.0_f64).sqrt()).abs() < 1e-15);
        assert!((a.median_angular_error_deg - 2.5).abs() < 1e-12);
        assert!((a.q10_angular_error_deg - 1.3).abs() < 1e-12);
        assert!((a.q90_angular_error_deg - 3.7).abs() < 1e-12);
        assert_eq!(a.mean_sigma_angle_deg, 5.0);
        assert!((a.mcse_sigma_angle_deg - 2.0 * (5.0 / 12.0_f64).sqrt()).abs() < 1e-15);
        assert!((a.mean_disagreement - 0.025).abs() < 1e-15);
        assert_eq!(a.mean_loss01, 0.25);
        assert_eq!(a.mean_loss01_truth, 0.5);
        // Shortfalls among the successful fits: errors 3 and 4 of 4.
        assert_eq!(a.shortfall_fraction, 0.5);
        // Certified: error 1 only, of the 4 successful fits.
        assert_eq!(a.certified_fraction, 0.25);
        // Fit seconds over all 5 rows, failed included: (1 + 2 + 3 + 4 + 5) / 5.
        assert_eq!(a.mean_fit_seconds, 3.0);
        let b = &s[1];
        assert_eq!((b.n_reps, b.failures), (0, 1));
        assert!(b.mean_angular_error_deg.is_nan() && b.shortfall_fraction.is_nan());
        assert_eq!(b.certified_fraction, 0.0);
        // A summary written before a column existed reads it back as NaN.
        let mut v = serde_json::to_value(a).unwrap();
        v.as_object_mut().unwrap().remove("shortfall_fraction");
        let back: SummaryRow = serde_json::from_value(v).unwrap();
        assert!(back.shortfall_fraction.is_nan());
    }

    #[test]
    fn drop_seconds_columns_removes_exactly_those() {
        let got = drop_seconds_columns("cell,fit_seconds,x,sample_seconds\nc,1.5,7,2\n");
        assert_eq!(got, ["cell,x", "c,7"]);
    }

    /// The manifest's stage times add up, its clock is the Unix epoch's, and the host's memory
    /// is read from /proc/meminfo (Linux: more than 64 MiB).
    #[test]
    fn manifest_times_and_host() {
        let exp = Experiment::parse(
            "name = \"m\"\nseed = 1\nreplications = 2\n[dgp]\npopulation = \"two_type\"\nbeta_bar = [1.0, 0.5]\nv = [2.0, -0.5]\nheterogeneity = 0.0\n[grid]\nn = [50]\n[[estimator]]\nname = \"bt\"\n",
            "m.toml",
        )
        .unwrap();
        let mut m = RunMeta {
            threads: 1,
            shard: None,
            started: SystemTime::now(),
            plan_seconds: 0.0,
            run_seconds: 10.0,
            units_total: 2,
            units_this_run: 2,
            units_resumed: 0,
            fit_seconds: 1.0,
            sample_seconds: 1.0,
            fresh_busy_seconds: 1.0,
            inner_parallel: false,
            git: None,
        };
        m.plan_seconds = 1.0;
        m.started = UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let man = manifest(&exp, &m, 0.5);
        let st = man.stages_seconds.unwrap();
        assert_eq!(st.total, 11.5);
        assert_eq!(man.started_unix, Some(1.7e9));
        let mem = man.host.unwrap().memory_bytes.unwrap();
        assert!(mem > 64 << 20 && mem.is_multiple_of(1024), "{mem}");
    }

    /// A fresh git work tree: clean after a commit, dirty after an edit; no tree, no info.
    #[test]
    fn git_commit_reads_commit_and_dirty_flag() {
        let dir = std::env::temp_dir().join(format!("signest-git-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(git_commit_in(&dir), None);
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git")
                .arg("-C")
                .arg(&dir)
                .args([
                    "-c",
                    "user.name=t",
                    "-c",
                    "user.email=t@t",
                    "-c",
                    "commit.gpgsign=false",
                ])
                .args(args)
                .output()
                .map(|o| o.status.success());
            assert_eq!(ok.ok(), Some(true), "git {args:?}");
        };
        git(&["init", "-q"]);
        std::fs::write(dir.join("f"), "1").unwrap();
        git(&["add", "f"]);
        git(&["commit", "-q", "-m", "one"]);
        let clean = git_commit_in(&dir).expect("a work tree");
        assert_eq!(clean.commit.len(), 40);
        assert!(!clean.dirty);
        std::fs::write(dir.join("f"), "2").unwrap();
        assert!(git_commit_in(&dir).unwrap().dirty);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
