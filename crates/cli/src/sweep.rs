//! `signest run`, `signest replay`: thin wrappers over `signest-sweep`.

use crate::CliError;
use signest_sweep::{Experiment, RunOptions, Shard};
use std::path::{Path, PathBuf};

/// Reads, validates and resolves an experiment file, `[verify]` section included (it is
/// signest-theory's, checked here so that a bad one fails before any work).
fn load(path: &Path) -> Result<Experiment, CliError> {
    let exp = Experiment::from_file(path)?;
    signest_theory::VerifySpec::parse(&exp.text, &exp.file)?;
    Ok(exp)
}

/// Runs an experiment and prints where the results are and a short summary table.
pub fn run(
    path: &Path,
    out: Option<PathBuf>,
    threads: Option<usize>,
    shard: Option<&str>,
    resume: bool,
    reuse: Option<&Path>,
) -> Result<(), CliError> {
    let exp = load(path)?;
    let shard = shard.map(Shard::parse).transpose()?;
    let out = out.unwrap_or_else(|| PathBuf::from("results").join(&exp.name));
    let mut resume = resume;
    if let Some(old) = reuse {
        if shard.is_some() {
            return Err(CliError::input(
                "--reuse and --shard together are not supported: reuse into one directory, then shard nothing".to_string(),
            ));
        }
        let r = signest_sweep::reuse_from(&exp, old, &out, 3)?;
        eprintln!(
            "{}: reusing {} units from {} ({} recomputed and identical)",
            exp.name,
            r.units_reused,
            old.display(),
            r.units_checked
        );
        resume = true;
    }
    let s = execute(&exp, out, threads, shard, resume, true, None)?;
    print_summary(&exp, &s)
}

fn execute(
    exp: &Experiment,
    out: PathBuf,
    threads: Option<usize>,
    shard: Option<Shard>,
    resume: bool,
    progress: bool,
    observer: Option<signest_sweep::Observer>,
) -> Result<signest_sweep::run::RunSummary, CliError> {
    let opts = RunOptions {
        out,
        threads,
        shard,
        resume,
        progress,
    };
    Ok(signest_sweep::run_observed(exp, &opts, observer)?)
}

/// Runs (or resumes) an experiment file into `out` (default results/NAME) with an optional
/// observer and no output of its own: the call behind `signest.run` in Python.
pub fn run_with(
    path: &Path,
    out: Option<PathBuf>,
    threads: Option<usize>,
    resume: bool,
    progress: bool,
    observer: Option<signest_sweep::Observer>,
) -> Result<signest_sweep::run::RunSummary, CliError> {
    let exp = load(path)?;
    let out = out.unwrap_or_else(|| PathBuf::from("results").join(&exp.name));
    execute(&exp, out, threads, None, resume, progress, observer)
}

fn print_summary(exp: &Experiment, s: &signest_sweep::run::RunSummary) -> Result<(), CliError> {
    println!(
        "{}: {} work units ({} resumed) in {:.1} s; fits took {:.1} s of CPU time",
        exp.name, s.units_done, s.units_resumed, s.wall_seconds, s.fit_seconds
    );
    let summary = signest_sweep::ResultsDir::new(&s.out).summary()?;
    println!(
        "{:<44} {:<14} {:>26}",
        "cell", "estimator", "mean angular error (deg)"
    );
    for r in summary {
        println!(
            "{:<44} {:<14} {:>14.3} ± {:.3} (MCSE)",
            r.cell, r.estimator, r.mean_angular_error_deg, r.mcse_angular_error_deg
        );
    }
    println!(
        "results: {}/runs.csv, summary.csv, manifest.json",
        s.out.display()
    );
    Ok(())
}

/// `run --dry-run`: the cost plan (nothing written), as text.
pub fn dry_run(
    path: &Path,
    threads: Option<usize>,
    max_n: Option<usize>,
) -> Result<String, CliError> {
    let exp = load(path)?;
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |t| t.get()));
    let plan = signest_sweep::cost::cost_plan(&exp, threads, max_n)?;
    Ok(plan.render(&exp.name))
}

/// The 0-1 loss of u* on one unit's data (`replay --truth`).
pub fn truth_loss01(path: &Path, cell: &str, rep: u64) -> Result<f64, CliError> {
    let exp = load(path)?;
    let c = exp
        .cell(cell)
        .ok_or_else(|| CliError::input(format!("no cell '{cell}' in {}", path.display())))?;
    Ok(signest_sweep::truth_loss01(&exp, c, rep)?)
}

/// The CSV text (header and rows) of one replayed unit, as in runs.csv.
pub fn replay(path: &Path, cell: &str, rep: u64) -> Result<String, CliError> {
    let exp = load(path)?;
    let c = exp.cell(cell).ok_or_else(|| {
        CliError::input(format!(
            "no cell '{cell}' in {}; cells are: {}",
            path.display(),
            exp.cells
                .iter()
                .map(|c| c.key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    if rep >= exp.replications {
        return Err(CliError::input(format!(
            "--rep {rep}: the experiment has replications 0..{}",
            exp.replications
        )));
    }
    let rows = signest_sweep::run_unit(&exp, c, rep)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in &rows {
        w.serialize(r).map_err(|e| CliError {
            code: 1,
            message: e.to_string(),
        })?;
    }
    Ok(String::from_utf8(w.into_inner().map_err(|e| CliError {
        code: 1,
        message: e.to_string(),
    })?)
    .expect("utf8"))
}

/// `signest effort DIR`: the effort check; writes DIR/effort.csv (atomically) and returns the
/// table with a summary line.
pub fn effort(dir: &Path, units: usize, factor: f64, max_size: u64) -> Result<String, CliError> {
    let rd = signest_sweep::ResultsDir::open(dir)?;
    let t = std::time::Instant::now();
    let rows = signest_sweep::effort_check(&rd, units, factor, max_size)?;
    let mut s = String::new();
    for r in &rows {
        s += &format!(
            "{} rep {} {}: loss01 {:.6} -> {:.6} at {}x effort (drop {:+.6}; u* {:.6})\n",
            r.cell,
            r.replication,
            r.estimator,
            r.loss01,
            r.loss01_effort,
            r.factor,
            r.drop(),
            r.loss01_truth
        );
    }
    let drops: Vec<f64> = rows.iter().map(|r| r.drop()).collect();
    let mean = drops.iter().sum::<f64>() / drops.len().max(1) as f64;
    let max = drops.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    s += &format!(
        "effort: {}: {} sign fits refitted at {factor}x in {:.1} s; 0-1 loss dropped in {} (mean drop {mean:.6}, max {:.6}), rose in {}\n",
        dir.display(),
        rows.len(),
        t.elapsed().as_secs_f64(),
        drops.iter().filter(|d| **d > 0.0).count(),
        if rows.is_empty() { 0.0 } else { max },
        drops.iter().filter(|d| **d < 0.0).count(),
    );
    let bytes = signest_sweep::results::csv_bytes(&rows)?;
    signest_sweep::results::write_atomic(&rd.file(signest_sweep::results::EFFORT), &bytes)?;
    Ok(s)
}

/// `signest audit DIR`: replays a sample of units from the directory alone and compares them
/// with runs.csv; errors (exit 1) when one differs.
pub fn audit(dir: &Path, units: usize, max_size: u64) -> Result<String, CliError> {
    let rd = signest_sweep::ResultsDir::open(dir)?;
    let t = std::time::Instant::now();
    let a = signest_sweep::audit(&rd, units, max_size)?;
    let mut s = String::new();
    for (cell, rep, same) in &a.units {
        s += &format!(
            "{cell} rep {rep}: {}\n",
            if *same { "identical" } else { "DIFFERS" }
        );
    }
    let bad = a.units.iter().filter(|u| !u.2).count();
    s += &format!(
        "audit: {}: {} units replayed in {:.1} s, {} identical, {bad} differ\n",
        dir.display(),
        a.units.len(),
        t.elapsed().as_secs_f64(),
        a.units.len() - bad
    );
    if bad > 0 {
        print!("{s}");
        return Err(CliError {
            code: 1,
            message: format!(
                "{bad} replayed unit(s) differ from {}/runs.csv",
                dir.display()
            ),
        });
    }
    Ok(s)
}
