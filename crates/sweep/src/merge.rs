//! `signest merge`: combines the outputs of the shards of one experiment.

use crate::output::{Row, csv_bytes, read_runs, summarise};
use crate::run::{RunError, write_atomic};
use std::path::{Path, PathBuf};

fn input(message: impl Into<String>) -> RunError {
    RunError {
        code: 2,
        message: message.into(),
    }
}

/// Merges shard directories into `out`: checks that they ran the same experiment file and that
/// shards 1..N are each present once, then writes `runs.csv` (rows in the order of a single
/// run), `summary.csv` and a `manifest.json` listing the shard manifests.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<usize, RunError> {
    if dirs.is_empty() {
        return Err(input("merge: give at least one shard directory"));
    }
    let mut manifests = Vec::new();
    for d in dirs {
        let p = d.join("manifest.json");
        let text = std::fs::read_to_string(&p)
            .map_err(|e| input(format!("{}: {e} (is this a finished shard?)", p.display())))?;
        let m: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| input(format!("{}: {e}", p.display())))?;
        manifests.push((d.clone(), m));
    }
    let hash = manifests[0].1["experiment"]["hash_fnv1a64"].clone();
    let total = manifests[0].1["shard"]["n"].as_u64().unwrap_or(1);
    let mut seen = vec![false; total as usize];
    for (d, m) in &manifests {
        if m["experiment"]["hash_fnv1a64"] != hash {
            return Err(input(format!(
                "{}: ran a different experiment file than {}",
                d.display(),
                manifests[0].0.display()
            )));
        }
        let (k, n) = (
            m["shard"]["k"].as_u64().unwrap_or(1),
            m["shard"]["n"].as_u64().unwrap_or(1),
        );
        if n != total {
            return Err(input(format!(
                "{}: shard {k}/{n}, but {} is one of {total}",
                d.display(),
                manifests[0].0.display()
            )));
        }
        if std::mem::replace(&mut seen[(k - 1) as usize], true) {
            return Err(input(format!("{}: shard {k}/{n} given twice", d.display())));
        }
    }
    if let Some(k) = seen.iter().position(|s| !s) {
        return Err(input(format!("shard {}/{total} is missing", k + 1)));
    }
    let text = manifests[0].1["experiment"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let exp = crate::Experiment::parse(&text, "merged experiment")
        .map_err(|e| input(format!("the shards' experiment text does not parse: {e}")))?;
    let mut rows: Vec<Row> = Vec::new();
    for d in dirs {
        rows.extend(read_runs(&d.join("runs.csv"))?);
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
    std::fs::create_dir_all(out)
        .map_err(|e| input(format!("cannot create {}: {e}", out.display())))?;
    if out.join("manifest.json").exists() {
        return Err(input(format!(
            "{} holds a finished run (manifest.json): choose another --out",
            out.display()
        )));
    }
    write_atomic(&out.join("runs.csv"), &csv_bytes(&rows)?)?;
    write_atomic(&out.join("summary.csv"), &csv_bytes(&summarise(&rows))?)?;
    let m = serde_json::json!({
        "signest_version": env!("CARGO_PKG_VERSION"),
        "complete": true,
        "merged_from": manifests.iter().map(|(d, m)| serde_json::json!({ "dir": d.display().to_string(), "manifest": m })).collect::<Vec<_>>(),
        "experiment": manifests[0].1["experiment"],
        "master_seed": manifests[0].1["master_seed"],
    });
    write_atomic(
        &out.join("manifest.json"),
        serde_json::to_string_pretty(&m).expect("json").as_bytes(),
    )?;
    Ok(rows.len())
}
