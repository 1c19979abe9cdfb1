//! `signest merge`: combines the outputs of the shards of one experiment into one complete
//! results directory (experiment file, resolved persona panel, runs, summary, manifest), on
//! which `signest verify` and `signest report` work as on a single run's.

use crate::error::{SweepError, input};
use crate::output::Row;
use crate::plan::Experiment;
use crate::results::{Manifest, MergedShard, ResultsDir};
use std::path::{Path, PathBuf};

/// Merges shard directories into `out`: checks that they ran the same experiment file and that
/// shards 1..N are each present once, then writes experiment.toml (and the persona panel the
/// shards ran with), `runs.csv` (rows in the order of a single run), `summary.csv` and a
/// `manifest.json` listing the shard manifests.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<usize, SweepError> {
    if dirs.is_empty() {
        return Err(input("merge: give at least one shard directory"));
    }
    let out_dir = ResultsDir::new(out);
    if out_dir.is_finished() {
        return Err(input(format!(
            "{} holds a finished run (manifest.json): choose another --out",
            out.display()
        )));
    }
    let mut shards: Vec<(ResultsDir, Manifest)> = Vec::new();
    for d in dirs {
        let rd = ResultsDir::open(d)?;
        let m = rd.manifest()?;
        shards.push((rd, m));
    }
    let first = &shards[0].1;
    let hash = first.experiment.hash_fnv1a64.clone();
    let total = first.shard_of().1;
    let mut seen = vec![false; total as usize];
    for (d, m) in &shards {
        if m.experiment.hash_fnv1a64 != hash {
            return Err(input(format!(
                "{}: ran a different experiment file than {}",
                d.path().display(),
                shards[0].0.path().display()
            )));
        }
        let (k, n) = m.shard_of();
        if n != total {
            return Err(input(format!(
                "{}: shard {k}/{n}, but {} is one of {total}",
                d.path().display(),
                shards[0].0.path().display()
            )));
        }
        if std::mem::replace(&mut seen[(k - 1) as usize], true) {
            return Err(input(format!(
                "{}: shard {k}/{n} given twice",
                d.path().display()
            )));
        }
    }
    if let Some(k) = seen.iter().position(|s| !s) {
        return Err(input(format!("shard {}/{total} is missing", k + 1)));
    }
    // The experiment as the first shard ran it (its own copies of any persona panel).
    let exp: Experiment = shards[0].0.experiment()?;
    let mut rows: Vec<Row> = Vec::new();
    for (d, _) in &shards {
        rows.extend(d.runs()?);
    }
    // Order of a single run: cell index, replication, estimator order.
    let cell_index = |key: &str| exp.cell(key).map_or(usize::MAX, |c| c.index);
    let est_index = |label: &str| {
        exp.estimators
            .iter()
            .position(|e| e.label == label)
            .unwrap_or(usize::MAX)
    };
    rows.sort_by_key(|r| (cell_index(&r.cell), r.replication, est_index(&r.estimator)));
    let expected = exp.units() as usize * exp.estimators.len();
    if rows.len() != expected {
        return Err(input(format!(
            "merged shards hold {} rows, the experiment has {expected}",
            rows.len()
        )));
    }
    out_dir.create()?;
    out_dir.write_experiment(&exp)?;
    let mut m = first.clone();
    m.shard = None;
    m.threads = None;
    m.units_this_run = Some(rows.len() as u64 / exp.estimators.len() as u64);
    m.units_total = Some(exp.units());
    m.units_resumed = None;
    m.started_unix = shards
        .iter()
        .filter_map(|s| s.1.started_unix)
        .reduce(f64::min);
    m.finished_unix = shards
        .iter()
        .filter_map(|s| s.1.finished_unix)
        .reduce(f64::max);
    m.stages_seconds = None;
    m.harness_overhead_fraction = None;
    m.fit_seconds_total = Some(shards.iter().filter_map(|s| s.1.fit_seconds_total).sum());
    m.sample_seconds_total = Some(shards.iter().filter_map(|s| s.1.sample_seconds_total).sum());
    m.merged_from = shards
        .iter()
        .map(|(d, m)| MergedShard {
            dir: d.path().display().to_string(),
            manifest: Box::new(m.clone()),
        })
        .collect();
    out_dir.write_results(&rows, || m)?;
    Ok(rows.len())
}
