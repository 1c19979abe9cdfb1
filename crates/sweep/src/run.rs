//! The sweep engine: work units, parallel execution, durable progress, resume, shards.

use crate::error::{SweepError, failure, input};
use crate::output::{Row, write_outputs};
use crate::plan::Experiment;
use crate::progress::Progress;
use crate::results::{LOCK, PROGRESS, ResultsDir, STATE};
use crate::spec::Cell;
use rayon::prelude::*;
use signest_core::Comparisons;
use signest_core::metrics::{
    angular_error_deg, disagreement_isotropic, disagreement_on, loss01, sigma_angle_deg,
};
use signest_core::seed::{SimRng, stream};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// `--shard K/N`: this run does the work units whose index i has i mod N = K − 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub k: u64,
    pub n: u64,
}

impl Shard {
    /// Parses `K/N` with 1 <= K <= N.
    pub fn parse(s: &str) -> Result<Shard, SweepError> {
        let bad = || input(format!("--shard: expected K/N with 1 <= K <= N, got '{s}'"));
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (k, n): (u64, u64) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if k < 1 || k > n {
            return Err(bad());
        }
        Ok(Shard { k, n })
    }
    pub fn owns(&self, unit: u64) -> bool {
        unit % self.n == self.k - 1
    }
}

/// Options of `signest run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub out: PathBuf,
    pub threads: Option<usize>,
    pub shard: Option<Shard>,
    pub resume: bool,
    /// Report progress on stderr (a bar on a terminal, periodic lines otherwise).
    pub progress: bool,
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub out: PathBuf,
    pub units_done: u64,
    pub units_resumed: u64,
    pub wall_seconds: f64,
    pub fit_seconds: f64,
}

/// Per-cell fixed inputs: the DGP, u*, the covariance Σ of z (for the Σ-weighted angle), and
/// the disagreement test set when the features are not Gaussian (for Gaussian features the
/// disagreement is exactly Σ-angle/180°, SPEC §3).
pub(crate) struct CellPlan {
    dgp: signest_sim::Dgp,
    u_star: Vec<f64>,
    cov: Vec<f64>,
    test_set: Option<Vec<f64>>,
}

pub(crate) fn plan_cell(exp: &Experiment, cell: &Cell) -> Result<CellPlan, SweepError> {
    let dgp = exp.dgp_for(cell)?;
    let u_star = dgp.u_star().ok_or_else(|| {
        input(format!(
            "cell {}: beta_bar = 0, there is no direction to estimate",
            cell.key
        ))
    })?;
    let test_set = (!dgp.features.is_gaussian()).then(|| {
        let mut rng = stream(exp.seed, &format!("{}/test", cell.key), 0);
        dgp.features.test_set(exp.test_size, &mut rng)
    });
    let cov = dgp.features.second_moment();
    Ok(CellPlan {
        dgp,
        u_star,
        cov,
        test_set,
    })
}

/// Runs one work unit (cell, replication): one data set, every estimator (common random
/// numbers), one row per estimator. This is all `replay` needs.
pub fn run_unit(exp: &Experiment, cell: &Cell, rep: u64) -> Result<Vec<Row>, SweepError> {
    let plan = plan_cell(exp, cell)?;
    Ok(unit_rows(exp, cell, rep, &plan))
}

/// Runs one work unit on data drawn from `rng` and passed through `perturb` before the fits.
/// [`run_unit`] is this with the unit's own stream `(seed, cell key, rep)` and no
/// perturbation. Other uses: robustness studies (for example label noise) and the planted-defect
/// tests of the accuracy gate (`signest-theory`).
pub fn run_unit_from(
    exp: &Experiment,
    cell: &Cell,
    rep: u64,
    rng: &mut SimRng,
    perturb: &dyn Fn(Comparisons, &mut SimRng) -> Comparisons,
) -> Result<Vec<Row>, SweepError> {
    let plan = plan_cell(exp, cell)?;
    let t = Instant::now();
    let data = perturb(plan.dgp.sample(exp.design(cell), rng), rng);
    Ok(fit_rows(
        exp,
        cell,
        rep,
        &plan,
        &data,
        t.elapsed().as_secs_f64(),
    ))
}

/// The training 0-1 loss (weighted fraction, SPEC §3) of the true direction u* on the unit's
/// own data set. A sign fit whose `loss01` is above this did not find the 0-1 minimum (u* is a
/// feasible point): an audit of heuristic solvers that needs no exact solver.
pub fn truth_loss01(exp: &Experiment, cell: &Cell, rep: u64) -> Result<f64, SweepError> {
    let plan = plan_cell(exp, cell)?;
    let data = unit_data(exp, cell, rep, &plan);
    Ok(loss01(&data, &plan.u_star).weighted_fraction())
}

/// The training data of one work unit (cell, replication), drawn from its own stream: what
/// every estimator of the unit sees. For benchmarks and external tools.
pub fn sample_unit(exp: &Experiment, cell: &Cell, rep: u64) -> Result<Comparisons, SweepError> {
    let plan = plan_cell(exp, cell)?;
    Ok(unit_data(exp, cell, rep, &plan))
}

/// The unit's data set, drawn from its own stream `(seed, cell key, rep)` (SPEC §7).
fn unit_data(exp: &Experiment, cell: &Cell, rep: u64, plan: &CellPlan) -> Comparisons {
    let mut rng = stream(exp.seed, &cell.key, rep);
    plan.dgp.sample(exp.design(cell), &mut rng)
}

pub(crate) fn unit_rows(exp: &Experiment, cell: &Cell, rep: u64, plan: &CellPlan) -> Vec<Row> {
    let t = Instant::now();
    let data = unit_data(exp, cell, rep, plan);
    let sample_seconds = t.elapsed().as_secs_f64();
    fit_rows(exp, cell, rep, plan, &data, sample_seconds)
}

fn fit_rows(
    exp: &Experiment,
    cell: &Cell,
    rep: u64,
    plan: &CellPlan,
    data: &Comparisons,
    sample_seconds: f64,
) -> Vec<Row> {
    let truth = loss01(data, &plan.u_star).weighted_fraction();
    exp.estimators
        .iter()
        .map(|e| {
            let mut row = Row::new(cell, rep, e);
            row.sample_seconds = sample_seconds;
            row.loss01_truth = Some(truth);
            match e.estimator.fit(data) {
                Ok(fit) => {
                    row.angular_error_deg = Some(angular_error_deg(&fit.direction, &plan.u_star));
                    let sig = sigma_angle_deg(&fit.direction, &plan.u_star, &plan.cov);
                    row.sigma_angle_deg = Some(sig);
                    let (dis, mcse) = match &plan.test_set {
                        // Isotropic: angle/180 exactly as before (bit-identical to older runs).
                        None if plan.dgp.features.is_rotationally_symmetric() => {
                            (disagreement_isotropic(&fit.direction, &plan.u_star), 0.0)
                        }
                        None => (sig / 180.0, 0.0),
                        Some(t) => {
                            let est = disagreement_on(t, cell.d, &fit.direction, &plan.u_star);
                            (est.mean, est.mcse)
                        }
                    };
                    row.disagreement = Some(dis);
                    row.disagreement_mcse = Some(mcse);
                    let l = loss01(data, &fit.direction).weighted_fraction();
                    row.loss01 = Some(l);
                    if e.kind.family == signest_estimator::Family::Sign {
                        row.shortfall = Some(l > truth);
                    }
                    row.certified = fit.certified();
                    row.status = fit.status.as_str().to_string();
                    row.fit_seconds = fit.fit_seconds;
                }
                Err(err) => {
                    row.status = "error".into();
                    row.error = err.to_string();
                }
            }
            row
        })
        .collect()
}

/// The directory's record of which run it holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct State {
    experiment_hash: String,
    shard: Option<Shard>,
}

/// Holds `DIR/.lock` for the life of a run.
struct Lock(PathBuf);

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn take_lock(dir: &Path, resume: bool) -> Result<Lock, SweepError> {
    let path = dir.join(LOCK);
    for _ in 0..2 {
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                let _ = writeln!(f, "{}", std::process::id());
                return Ok(Lock(path));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let pid: Option<u32> = fs::read_to_string(&path)
                    .ok()
                    .and_then(|s| s.trim().parse().ok());
                match pid {
                    Some(p) if pid_alive(p) => {
                        return Err(input(format!(
                            "{} is in use by another signest run (pid {p}, lock {})",
                            dir.display(),
                            path.display()
                        )));
                    }
                    _ if resume => {
                        let _ = fs::remove_file(&path); // stale: its process is gone
                    }
                    _ => {
                        return Err(input(format!(
                            "{} has a stale lock from an interrupted run: rerun with --resume to finish it",
                            dir.display()
                        )));
                    }
                }
            }
            Err(e) => return Err(input(format!("cannot create {}: {e}", path.display()))),
        }
    }
    Err(input(format!("cannot take the lock {}", path.display())))
}

/// Reads completed units from `progress.jsonl`; a torn last line (an interrupted write) is
/// dropped and the file truncated to its last complete line.
fn read_progress(path: &Path) -> Result<BTreeMap<u64, Vec<Row>>, SweepError> {
    let mut done = BTreeMap::new();
    let Ok(f) = File::open(path) else {
        return Ok(done);
    };
    let mut good_len = 0u64;
    let mut reader = BufReader::new(f);
    let mut line = String::new();
    loop {
        line.clear();
        let k = reader
            .read_line(&mut line)
            .map_err(|e| failure(format!("{}: {e}", path.display())))?;
        if k == 0 || !line.ends_with('\n') {
            break;
        }
        match serde_json::from_str::<UnitRecord>(line.trim_end()) {
            Ok(u) => {
                done.insert(u.unit, u.rows);
                good_len += k as u64;
            }
            Err(_) => break,
        }
    }
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| failure(format!("{}: {e}", path.display())))?;
    f.set_len(good_len)
        .map_err(|e| failure(format!("{}: {e}", path.display())))?;
    Ok(done)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct UnitRecord {
    unit: u64,
    rows: Vec<Row>,
}

/// What a worker writes: a [`UnitRecord`] without copying the rows.
#[derive(serde::Serialize)]
struct UnitRecordRef<'a> {
    unit: u64,
    rows: &'a [Row],
}

/// Runs (or resumes) an experiment into `opts.out`. Before anything is written, the thread
/// count and the run's memory estimate are checked ([`Experiment::check_memory`]): a run that
/// cannot fit leaves no directory behind.
pub fn run(exp: &Experiment, opts: &RunOptions) -> Result<RunSummary, SweepError> {
    run_observed(exp, opts, None)
}

/// What an [`Observer`] of a run is told after each unit it computes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tick {
    /// Units computed by this run so far (resumed ones not counted).
    pub done: u64,
    /// Units this run computes in all.
    pub total: u64,
}

/// Called after every unit (from the worker threads, in completion order). Returning `false`
/// stops the run: units in flight finish, every finished unit is kept in progress.jsonl, and
/// the run ends with an "interrupted" error (`resume` continues it). The Python package draws
/// its progress bar and honours Ctrl-C through this.
pub type Observer<'a> = &'a (dyn Fn(Tick) -> bool + Sync);

/// [`run`] with an observer (see [`Observer`]).
pub fn run_observed(
    exp: &Experiment,
    opts: &RunOptions,
    observer: Option<Observer>,
) -> Result<RunSummary, SweepError> {
    let started = std::time::SystemTime::now();
    let git = crate::output::git_commit();
    let t0 = Instant::now();
    let pool = thread_pool(opts.threads)?;
    let threads = pool.current_num_threads();
    exp.check_memory(threads, crate::plan::available_memory_bytes())?;
    let results = ResultsDir::new(&opts.out);
    let dir = &opts.out;
    if results.is_finished() {
        return Err(input(format!(
            "{} holds a finished run (manifest.json): choose another --out or delete it",
            dir.display()
        )));
    }
    results.create()?;
    let _lock = take_lock(dir, opts.resume)?;
    let state = State {
        experiment_hash: exp.hash.clone(),
        shard: opts.shard,
    };
    let state_path = results.file(STATE);
    let progress_path = results.file(PROGRESS);
    if state_path.exists() || progress_path.exists() {
        if !opts.resume {
            return Err(input(format!(
                "{} holds partial results of an interrupted run: add --resume to finish it, or choose another --out",
                dir.display()
            )));
        }
        let old: State = fs::read_to_string(&state_path)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .ok_or_else(|| {
                input(format!(
                    "{}: unreadable state.json; cannot resume",
                    dir.display()
                ))
            })?;
        if old != state {
            return Err(input(format!(
                "{}: --resume needs the same experiment file and shard as the interrupted run (it had hash {} and shard {:?})",
                dir.display(),
                old.experiment_hash,
                old.shard
            )));
        }
    } else {
        results.write(
            STATE,
            serde_json::to_string_pretty(&state)
                .expect("state")
                .as_bytes(),
        )?;
    }
    // experiment.toml and the resolved persona panel: rewritten on resume too (same hash),
    // so a directory started before the panel was kept gains it.
    results.write_experiment(exp)?;
    let mut done = read_progress(&progress_path)?;
    let units_resumed = done.len() as u64;
    let r = exp.replications;
    let mine = || (0..exp.units()).filter(|u| opts.shard.is_none_or(|s| s.owns(*u)));
    let todo: Vec<u64> = mine().filter(|u| !done.contains_key(u)).collect();
    // Plans (DGPs, test sets) once per cell, in parallel.
    let plans: Vec<CellPlan> = pool.install(|| {
        exp.cells
            .par_iter()
            .map(|c| plan_cell(exp, c))
            .collect::<Result<_, _>>()
    })?;
    let plan_seconds = t0.elapsed().as_secs_f64();
    // Each unit's line is written at once (a killed process loses nothing written). The
    // flush to the device is done by a separate flusher thread, once a second: an fsync per
    // unit cost several percent of a fast sweep, and an fsync by a worker (holding the
    // writer lock) stalled both workers. Only a power cut can lose the last second.
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&progress_path)
        .map_err(|e| failure(format!("{}: {e}", progress_path.display())))?;
    let sync_handle = file
        .try_clone()
        .map_err(|e| failure(format!("{}: {e}", progress_path.display())))?;
    let writer = Mutex::new(file);
    let failures = AtomicU64::new(
        done.values()
            .flatten()
            .filter(|r| r.status == "error")
            .count() as u64,
    );
    let stop = AtomicBool::new(false);
    let interrupted = AtomicBool::new(false);
    let finished = AtomicBool::new(false);
    let completed = AtomicU64::new(0);
    let io_error: Mutex<Option<String>> = Mutex::new(None);
    let mut per_cell = vec![0u64; exp.cells.len()];
    for u in &todo {
        per_cell[(u / r) as usize] += 1;
    }
    let sizes: Vec<f64> = exp.cells.iter().map(|c| c.n as f64 * c.d as f64).collect();
    let progress = Progress::new(opts.progress, &exp.name, &per_cell, &sizes, threads);
    let t_run = Instant::now();
    let fresh: Vec<(u64, Vec<Row>)> = std::thread::scope(|scope| {
        let flusher = scope.spawn(|| {
            while !finished.load(Ordering::Acquire) {
                std::thread::park_timeout(Duration::from_secs(1));
                if let Err(e) = sync_handle.sync_data() {
                    *io_error.lock().expect("io") = Some(e.to_string());
                    stop.store(true, Ordering::SeqCst);
                    return;
                }
            }
        });
        let fresh = pool.install(|| {
            // One unit per rayon job: every pending unit stays stealable, so no worker idles
            // while the other works through a long sequential run of units (with rayon's
            // default splitting that idle time was ~5% of a 2-thread sweep).
            todo.par_iter()
                .with_max_len(1)
                .filter_map(|&u| {
                    if stop.load(Ordering::Relaxed) {
                        return None;
                    }
                    let cell = &exp.cells[(u / r) as usize];
                    let rows = unit_rows(exp, cell, u % r, &plans[cell.index]);
                    let nfail = rows.iter().filter(|x| x.status == "error").count() as u64;
                    if nfail > 0
                        && failures.fetch_add(nfail, Ordering::SeqCst) + nfail > exp.max_failures
                    {
                        stop.store(true, Ordering::SeqCst);
                    }
                    let mut line = serde_json::to_string(&UnitRecordRef {
                        unit: u,
                        rows: &rows,
                    })
                    .expect("rows serialise");
                    line.push('\n');
                    if let Err(e) = writer.lock().expect("writer").write_all(line.as_bytes()) {
                        *io_error.lock().expect("io") = Some(e.to_string());
                        stop.store(true, Ordering::SeqCst);
                    }
                    let busy = rows.first().map_or(0.0, |x| x.sample_seconds)
                        + rows.iter().map(|x| x.fit_seconds).sum::<f64>();
                    let done_now = completed.fetch_add(1, Ordering::SeqCst) + 1;
                    progress.unit_done(cell.index, busy, done_now);
                    if let Some(obs) = observer
                        && !obs(Tick {
                            done: done_now,
                            total: todo.len() as u64,
                        })
                    {
                        interrupted.store(true, Ordering::SeqCst);
                        stop.store(true, Ordering::SeqCst);
                    }
                    Some((u, rows))
                })
                .collect()
        });
        finished.store(true, Ordering::Release);
        flusher.thread().unpark();
        flusher.join().expect("flusher thread");
        fresh
    });
    progress.finish();
    if let Err(e) = writer.lock().expect("writer").sync_data() {
        *io_error.lock().expect("io") = Some(e.to_string());
    }
    let run_seconds = t_run.elapsed().as_secs_f64();
    if let Some(e) = io_error.lock().expect("io").take() {
        return Err(failure(format!(
            "{}: write failed: {e}",
            progress_path.display()
        )));
    }
    if interrupted.load(Ordering::SeqCst) {
        return Err(failure(format!(
            "run interrupted after {} of {} units: completed units are kept in {} (resume continues)",
            completed.load(Ordering::SeqCst),
            todo.len(),
            progress_path.display()
        )));
    }
    let total_failures = failures.load(Ordering::SeqCst);
    if total_failures > exp.max_failures {
        return Err(failure(format!(
            "{total_failures} fits failed, more than max_failures = {}: run stopped; completed units are kept in {} (see the error column; --resume continues)",
            exp.max_failures,
            progress_path.display()
        )));
    }
    let k = exp.estimators.len();
    let (fresh_fit, fresh_sample) = busy_seconds(fresh.iter().flat_map(|(_, rows)| rows), k);
    for (u, rows) in fresh {
        done.insert(u, rows);
    }
    let t_write = Instant::now();
    let units_this_run = mine().count() as u64;
    let rows: Vec<Row> = mine()
        .flat_map(|u| done.remove(&u).expect("every unit of this shard is done"))
        .collect();
    let (fit_seconds, sample_seconds) = busy_seconds(&rows, k);
    let meta = crate::output::RunMeta {
        threads,
        shard: opts.shard,
        started,
        plan_seconds,
        run_seconds,
        units_total: exp.units(),
        units_this_run,
        units_resumed,
        fit_seconds,
        sample_seconds,
        fresh_busy_seconds: fresh_fit + fresh_sample,
        inner_parallel: exp
            .cells
            .iter()
            .any(|c| c.n >= signest_estimator::par::PAR_MIN_ROWS),
        git,
    };
    write_outputs(exp, &results, &rows, &meta, t_write)?;
    let _ = fs::remove_file(&progress_path);
    let _ = fs::remove_file(&state_path);
    Ok(RunSummary {
        out: dir.clone(),
        units_done: units_this_run,
        units_resumed,
        wall_seconds: t0.elapsed().as_secs_f64(),
        fit_seconds,
    })
}

/// Total fit seconds and sampling seconds of `rows` from units of `k` estimators each. Every
/// row of a unit carries the unit's sampling time, so it is counted once per unit.
fn busy_seconds<'a>(rows: impl IntoIterator<Item = &'a Row>, k: usize) -> (f64, f64) {
    let (fit, sample) = rows.into_iter().fold((0.0, 0.0), |(f, s), r| {
        (f + r.fit_seconds, s + r.sample_seconds)
    });
    (fit, sample / k as f64)
}

/// The run's thread pool (`--threads`, default all cores).
fn thread_pool(threads: Option<usize>) -> Result<rayon::ThreadPool, SweepError> {
    let mut b = rayon::ThreadPoolBuilder::new();
    if let Some(t) = threads {
        if t == 0 {
            return Err(input("--threads must be at least 1"));
        }
        if t > 1024 {
            return Err(input(format!("--threads must be at most 1024, got {t}")));
        }
        b = b.num_threads(t);
    }
    b.build().map_err(|e| failure(format!("thread pool: {e}")))
}

pub use crate::results::write_atomic;

/// What [`reuse_from`] took over.
#[derive(Debug, Clone, PartialEq)]
pub struct ReuseReport {
    /// Units copied from the old directory (they count as resumed in the manifest).
    pub units_reused: u64,
    /// Units recomputed and compared bit for bit (apart from `*_seconds`) before trusting the
    /// rest.
    pub units_checked: u64,
}

/// Prepares `out` so that `run` with `resume = true` computes only the units that `old` (a
/// finished run with runs.csv, or an interrupted one with progress.jsonl) lacks. A unit is
/// taken over when `old` has its (cell key, replication) — so an experiment can gain
/// replications or grid points, or keep a subset of them, without recomputing anything.
///
/// Rows depend only on the master seed, the cell, the replication, the DGP and the estimators
/// (SPEC §7), and the first two are checked here (same seed, same estimator labels). The rest is
/// checked by recomputation: `check` reused units (in the cells of smallest n, deterministic
/// choice) are replayed and must equal the old rows apart from timings; otherwise nothing is
/// written and the error names the unit.
pub fn reuse_from(
    exp: &Experiment,
    old: &Path,
    out: &Path,
    check: usize,
) -> Result<ReuseReport, SweepError> {
    let threads = rayon::current_num_threads();
    exp.check_memory(threads, crate::plan::available_memory_bytes())?;
    for f in [crate::results::MANIFEST, STATE, PROGRESS] {
        if out.join(f).exists() {
            return Err(input(format!(
                "{}: --reuse needs a new output directory (it holds {f})",
                out.display()
            )));
        }
    }
    let old_exp = ResultsDir::new(old).spec().map_err(|e| {
        input(format!(
            "--reuse {}: not a results directory ({e})",
            old.display()
        ))
    })?;
    if old_exp.seed != exp.seed {
        return Err(input(format!(
            "--reuse {}: master seed {} differs from this experiment's {}: no unit can be reused",
            old.display(),
            old_exp.seed,
            exp.seed
        )));
    }
    if old_exp.labels() != exp.labels() {
        return Err(input(format!(
            "--reuse {}: estimators {:?} differ from this experiment's {:?}",
            old.display(),
            old_exp.labels(),
            exp.labels()
        )));
    }
    let old_rows: Vec<Row> = if old.join(crate::results::RUNS).exists() {
        ResultsDir::new(old).runs()?
    } else if old.join(PROGRESS).exists() {
        read_progress(&old.join(PROGRESS))?
            .into_values()
            .flatten()
            .collect()
    } else {
        return Err(input(format!(
            "--reuse {}: neither runs.csv nor progress.jsonl",
            old.display()
        )));
    };
    let mut by_unit: BTreeMap<(String, u64), Vec<Row>> = BTreeMap::new();
    for r in old_rows {
        by_unit
            .entry((r.cell.clone(), r.replication))
            .or_default()
            .push(r);
    }
    let k = exp.estimators.len();
    let r = exp.replications;
    let mut taken: BTreeMap<u64, Vec<Row>> = BTreeMap::new();
    for cell in &exp.cells {
        for rep in 0..r {
            if let Some(rows) = by_unit.remove(&(cell.key.clone(), rep))
                && rows.len() == k
            {
                taken.insert(cell.index as u64 * r + rep, rows);
            }
        }
    }
    // Replay a few reused units, cheapest cells first, spreading the replications.
    let mut order: Vec<u64> = taken.keys().copied().collect();
    order.sort_by_key(|u| (exp.cells[(u / r) as usize].n, (u % r) * 7919 % r.max(1), *u));
    let mut checked = 0u64;
    for &u in order.iter().take(check) {
        let cell = &exp.cells[(u / r) as usize];
        let plan = plan_cell(exp, cell)?;
        let fresh = unit_rows(exp, cell, u % r, &plan);
        if !Row::same_units(&fresh, &taken[&u]) {
            return Err(input(format!(
                "--reuse {}: cell {} replication {} recomputed differs from the old row: the experiments differ in more than the grid and the replications (DGP, test set or estimator settings); nothing reused",
                old.display(),
                cell.key,
                u % r
            )));
        }
        checked += 1;
    }
    let out_dir = ResultsDir::new(out);
    out_dir.create()?;
    let mut lines = String::new();
    for (u, rows) in &taken {
        lines += &serde_json::to_string(&UnitRecordRef { unit: *u, rows }).expect("rows serialise");
        lines.push('\n');
    }
    out_dir.write_experiment(exp)?;
    out_dir.write(PROGRESS, lines.as_bytes())?;
    let state = State {
        experiment_hash: exp.hash.clone(),
        shard: None,
    };
    out_dir.write(
        STATE,
        serde_json::to_string_pretty(&state)
            .expect("state")
            .as_bytes(),
    )?;
    Ok(ReuseReport {
        units_reused: taken.len() as u64,
        units_checked: checked,
    })
}

/// What [`audit`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditReport {
    /// (cell key, replication, identical) for every unit replayed.
    pub units: Vec<(String, u64, bool)>,
}

impl AuditReport {
    pub fn all_identical(&self) -> bool {
        self.units.iter().all(|u| u.2)
    }
}

/// Replays `k` units of a finished results directory from the directory alone (its
/// experiment file and resolved panel) and compares each with its rows in runs.csv, every
/// column but `*_seconds`. Units come from cells with n·d ≤ `max_size` (cost), spread over
/// those cells and over the replications by a fixed rule, so the same call picks the same
/// units.
pub fn audit(dir: &ResultsDir, k: usize, max_size: u64) -> Result<AuditReport, SweepError> {
    let exp = dir.experiment()?;
    let rows = dir.runs()?;
    let mut units = Vec::new();
    for (c, rep) in sample_units(dir, &exp, k, max_size)? {
        let fresh = run_unit(&exp, c, rep)?;
        let old: Vec<Row> = rows
            .iter()
            .filter(|x| x.cell == c.key && x.replication == rep)
            .cloned()
            .collect();
        let same = Row::same_units(&fresh, &old);
        units.push((c.key.clone(), rep, same));
    }
    Ok(AuditReport { units })
}

/// One sign fit of the effort check: the committed fit's 0-1 loss and the same unit's at
/// `factor` times the effort (weighted fractions, SPEC §3), and u*'s.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EffortRow {
    pub cell: String,
    pub replication: u64,
    pub estimator: String,
    pub factor: f64,
    pub loss01: f64,
    pub loss01_effort: f64,
    pub loss01_truth: f64,
}

impl EffortRow {
    /// How much the 0-1 loss still dropped at the higher effort (≥ 0 when it helped).
    pub fn drop(&self) -> f64 {
        self.loss01 - self.loss01_effort
    }
}

/// The effort check (issue 17): for a sample of `k` units (chosen as by [`audit`]) each
/// heuristic sign fit is redone at `factor` times its effort ([`Estimator::at_effort`]) on the
/// unit's own data, and its 0-1 loss compared with the committed row's. A large drop says the
/// default effort stops short; exact solvers are skipped.
pub fn effort_check(
    dir: &ResultsDir,
    k: usize,
    factor: f64,
    max_size: u64,
) -> Result<Vec<EffortRow>, SweepError> {
    if !(factor.is_finite() && factor >= 1.0) {
        return Err(input(format!(
            "--factor must be a number >= 1, got {factor}"
        )));
    }
    let exp = dir.experiment()?;
    let rows = dir.runs()?;
    let mut out = Vec::new();
    for (c, rep) in sample_units(dir, &exp, k, max_size)? {
        let plan = plan_cell(&exp, c)?;
        let data = unit_data(&exp, c, rep, &plan);
        let truth = loss01(&data, &plan.u_star).weighted_fraction();
        for e in &exp.estimators {
            let Some(big) = e.estimator.at_effort(factor) else {
                continue;
            };
            let Some(committed) = rows
                .iter()
                .find(|x| x.cell == c.key && x.replication == rep && x.estimator == e.label)
                .and_then(|x| x.loss01)
            else {
                continue;
            };
            let Ok(fit) = big.fit(&data) else {
                continue;
            };
            out.push(EffortRow {
                cell: c.key.clone(),
                replication: rep,
                estimator: e.label.clone(),
                factor,
                loss01: committed,
                loss01_effort: loss01(&data, &fit.direction).weighted_fraction(),
                loss01_truth: truth,
            });
        }
    }
    Ok(out)
}

/// `k` units spread evenly over the cells with n·d ≤ `max_size` (cheapest and costliest
/// included), replications spread by a multiplicative step; duplicates dropped.
fn sample_units<'a>(
    dir: &ResultsDir,
    exp: &'a Experiment,
    k: usize,
    max_size: u64,
) -> Result<Vec<(&'a Cell, u64)>, SweepError> {
    let mut cells: Vec<&Cell> = exp
        .cells
        .iter()
        .filter(|c| c.n as u64 * c.d as u64 <= max_size)
        .collect();
    cells.sort_by_key(|c| (c.n as u64 * c.d as u64, c.index));
    if cells.is_empty() {
        return Err(input(format!(
            "{}: no cell has n·d <= {max_size}: raise --max-size",
            dir.path().display()
        )));
    }
    let r = exp.replications;
    let mut units: Vec<(&Cell, u64)> = Vec::new();
    for j in 0..k {
        let c = cells[if k == 1 {
            0
        } else {
            j * (cells.len() - 1) / (k - 1)
        }];
        let rep = (c.index as u64 * 7919 + j as u64 * 104_729) % r;
        if units.iter().any(|(u, rp)| u.key == c.key && *rp == rep) {
            continue;
        }
        units.push((c, rep));
    }
    Ok(units)
}

/// Fills the `loss01_truth` and `shortfall` columns of a finished results directory written
/// before they existed: each unit's data set is drawn again from its own stream (no fit is
/// redone; the data are what replay draws, so the values equal a fresh run's), and runs.csv
/// and summary.csv are rewritten atomically. Returns the number of units filled; a directory
/// that already has the columns is left as it is (0).
pub fn backfill_truth(dir: &ResultsDir) -> Result<u64, SweepError> {
    let exp = dir.experiment()?;
    let mut rows = dir.runs()?;
    if rows.iter().all(|r| r.loss01_truth.is_some()) {
        return Ok(0);
    }
    let r = exp.replications;
    let units: Vec<(usize, u64)> = exp
        .cells
        .iter()
        .flat_map(|c| (0..r).map(move |k| (c.index, k)))
        .collect();
    let plans: Vec<CellPlan> = exp
        .cells
        .par_iter()
        .map(|c| plan_cell(&exp, c))
        .collect::<Result<_, _>>()?;
    let truths: Vec<((String, u64), f64)> = units
        .par_iter()
        .with_max_len(1)
        .map(|&(c, k)| {
            let cell = &exp.cells[c];
            let data = unit_data(&exp, cell, k, &plans[c]);
            (
                (cell.key.clone(), k),
                loss01(&data, &plans[c].u_star).weighted_fraction(),
            )
        })
        .collect();
    let truths: BTreeMap<(String, u64), f64> = truths.into_iter().collect();
    for row in &mut rows {
        let t = *truths
            .get(&(row.cell.clone(), row.replication))
            .ok_or_else(|| {
                input(format!(
                    "{}: runs.csv has cell {} replication {}, which the experiment does not",
                    dir.path().display(),
                    row.cell,
                    row.replication
                ))
            })?;
        row.loss01_truth = Some(t);
        let sign = exp
            .estimator(&row.estimator)
            .is_some_and(|e| e.kind.family == signest_estimator::Family::Sign);
        row.shortfall = match (sign, row.loss01) {
            (true, Some(l)) => Some(l > t),
            _ => None,
        };
    }
    dir.write_rows(&rows)?;
    Ok(truths.len() as u64)
}
