//! `signest._signest`: the Rust fits behind the Python package `signest` (PyO3 + numpy).
//!
//! One entry point, [`fit`]: numpy arrays in, a dict out. Estimators are built by the same
//! registry as `signest fit` and `[[estimator]]` (so settings are checked the same way and the
//! messages are the same), the data go through `Comparisons` validation, and the GIL is
//! released for the fit. Every error is a `ValueError` carrying the Rust message. The
//! scikit-learn-style classes live in `python/signest/__init__.py`.

use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use signest_core::Comparisons;
use signest_core::metrics::loss01;
use signest_estimator::{NameError, NamedOptions, Registry};
use std::collections::HashMap;

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Fits one estimator (`bt`, `sign`, `hinge`, `em`, `peruser`) on `z` (n × d, float64) and
/// `y` (n, ±1) with optional `sample_weight` (n, > 0) and `groups` (n, integer respondent ids;
/// needed by `em` and `peruser`). Settings are those of `[[estimator]]` (docs/experiments.md);
/// unset ones take the estimator's defaults, and a setting the solver does not take is an error.
#[pyfunction]
#[pyo3(signature = (estimator, z, y, sample_weight=None, groups=None, solver=None, seed=None,
    random_starts=None, classes=None, ridge=None, c=None, max_nodes=None, time_limit=None,
    max_memory_mib=None, profile=None))]
#[allow(clippy::too_many_arguments)]
fn fit<'py>(
    py: Python<'py>,
    estimator: &str,
    z: PyReadonlyArray2<'py, f64>,
    y: PyReadonlyArray1<'py, f64>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    groups: Option<PyReadonlyArray1<'py, i64>>,
    solver: Option<String>,
    seed: Option<u64>,
    random_starts: Option<u32>,
    classes: Option<usize>,
    ridge: Option<f64>,
    c: Option<f64>,
    max_nodes: Option<u64>,
    time_limit: Option<f64>,
    max_memory_mib: Option<u64>,
    profile: Option<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let opts = NamedOptions {
        solver,
        max_nodes,
        time_limit_seconds: time_limit,
        max_memory_mib,
        seed,
        random_starts,
        classes,
        ridge,
        c,
        profile,
        ..NamedOptions::default()
    };
    let est = Registry::builtin()
        .build(estimator, &opts)
        .map_err(|e| {
            // Name the Python parameter, as `signest fit` names its flag.
            let key = |k: &str| {
                match k {
                    "classes" => "k",
                    "c" => "C",
                    "time_limit_seconds" => "time_limit",
                    other => other,
                }
                .to_string()
            };
            value_error(match &e {
                NameError::UnknownEstimator { .. } => format!("estimator: {e}"),
                NameError::UnknownSolver { .. } => format!("solver: {e}"),
                NameError::NotApplicable { key: k, .. } => format!("{}: {e}", key(k)),
                NameError::BadSetting(s) => format!("{}: {e}", key(s.key)),
            })
        })?
        .estimator;
    let zv = z.as_array();
    let (n, d) = (zv.nrows(), zv.ncols());
    if y.len()? != n {
        return Err(value_error(format!(
            "y has {} entries for {n} rows of Z",
            y.len()?
        )));
    }
    let zs: Vec<f64> = zv.iter().copied().collect();
    let ys: Vec<f64> = y.as_array().iter().copied().collect();
    let mut data = Comparisons::new(d, zs, ys).map_err(value_error)?;
    if let Some(w) = sample_weight {
        if w.len()? != n {
            return Err(value_error(format!(
                "sample_weight has {} entries for {n} rows",
                w.len()?
            )));
        }
        data = data
            .with_weights(w.as_array().to_vec())
            .map_err(value_error)?;
    }
    if let Some(g) = groups {
        if g.len()? != n {
            return Err(value_error(format!(
                "groups has {} entries for {n} rows",
                g.len()?
            )));
        }
        let mut ids: HashMap<i64, u32> = HashMap::new();
        let r: Vec<u32> = g
            .as_array()
            .iter()
            .map(|v| {
                let next = ids.len() as u32;
                *ids.entry(*v).or_insert(next)
            })
            .collect();
        data = data.with_respondents(r).map_err(value_error)?;
    }
    let (f, l) = py
        .detach(|| {
            est.fit(&data).map(|f| {
                let l = loss01(&data, &f.direction);
                (f, l)
            })
        })
        .map_err(value_error)?;
    let out = PyDict::new(py);
    out.set_item("estimator", f.estimator)?;
    out.set_item("solver", f.solver)?;
    out.set_item("direction", PyArray1::from_vec(py, f.direction.clone()))?;
    out.set_item(
        "coefficients",
        f.coefficients.clone().map(|v| PyArray1::from_vec(py, v)),
    )?;
    out.set_item("loss01", l.weighted_fraction())?;
    out.set_item("status", f.status.as_str())?;
    out.set_item("certified", f.certified())?;
    out.set_item("gap", f.certificate.map(|c| c.gap()))?;
    out.set_item("lower_bound", f.certificate.map(|c| c.lower_bound))?;
    out.set_item("iterations", f.iterations)?;
    out.set_item("objective", f.objective)?;
    out.set_item("fit_seconds", f.fit_seconds)?;
    out.set_item("notes", f.notes.clone())?;
    Ok(out)
}

/// The registry: estimator name → list of (solver, settings, guarantee), default solver first.
#[pyfunction]
fn estimators<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    let reg = Registry::builtin();
    for name in reg.names() {
        let kind = reg.get(name).expect("listed");
        let solvers: Vec<(String, Vec<String>, String)> = kind
            .solvers
            .iter()
            .map(|s| {
                (
                    s.name.to_string(),
                    s.settings.iter().map(|k| k.to_string()).collect(),
                    s.guarantee.to_string(),
                )
            })
            .collect();
        out.set_item(name, solvers)?;
    }
    Ok(out)
}

fn cli_error(e: signest::CliError) -> PyErr {
    value_error(e.message)
}

/// Runs (or resumes) an experiment file into `out` (default results/NAME). The sweep runs on
/// its own thread without the GIL; this (calling) thread waits for its ticks and calls
/// `callback(done, total)` after each unit — on the calling thread, so a tqdm bar in Jupyter
/// works — and checks for Ctrl-C. A callback returning False, raising, or a KeyboardInterrupt
/// stops the run: units in flight finish, every finished unit is kept (`resume=True`
/// continues), and the exception (or an "interrupted" ValueError) is raised. `progress` turns
/// on the Rust bar on stderr. Returns the output directory.
#[pyfunction]
#[pyo3(signature = (experiment, out=None, threads=None, resume=false, progress=false, callback=None))]
fn run(
    py: Python<'_>,
    experiment: std::path::PathBuf,
    out: Option<std::path::PathBuf>,
    threads: Option<usize>,
    resume: bool,
    progress: bool,
    callback: Option<Py<PyAny>>,
) -> PyResult<String> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;
    let stop = AtomicBool::new(false);
    let (tx, rx) = std::sync::mpsc::channel::<signest_sweep::Tick>();
    // Behind a mutex only so that the wait can run without the GIL (`detach` needs Sync).
    let rx = std::sync::Mutex::new(rx);
    let mut failed: Option<PyErr> = None;
    let result = std::thread::scope(|s| {
        let stop = &stop;
        let worker = s.spawn(move || {
            let observe = move |t: signest_sweep::Tick| {
                let _ = tx.send(t);
                !stop.load(Ordering::SeqCst)
            };
            signest::sweep::run_with(&experiment, out, threads, resume, progress, Some(&observe))
        });
        loop {
            let got = py.detach(|| {
                rx.lock()
                    .expect("one waiter")
                    .recv_timeout(Duration::from_millis(100))
            });
            match got {
                Ok(t) => {
                    if failed.is_none()
                        && let Some(cb) = &callback
                    {
                        match cb.call1(py, (t.done, t.total)) {
                            Ok(v) if !v.is_none(py) && !v.is_truthy(py).unwrap_or(true) => {
                                stop.store(true, Ordering::SeqCst);
                            }
                            Ok(_) => {}
                            Err(e) => {
                                failed = Some(e);
                                stop.store(true, Ordering::SeqCst);
                            }
                        }
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if failed.is_none()
                && let Err(e) = py.check_signals()
            {
                failed = Some(e);
                stop.store(true, Ordering::SeqCst);
            }
        }
        py.detach(|| worker.join())
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let r = result.map_err(|_| value_error("the sweep thread panicked"))?;
    Ok(r.map_err(cli_error)?.out.display().to_string())
}

/// Verdicts for a finished run (writes verdicts.md, verdicts.json, and targets.csv if missing);
/// returns the text `signest verify` prints. An expected verdict that fails raises.
#[pyfunction]
#[pyo3(signature = (dir, experiment=None))]
fn verify(
    py: Python<'_>,
    dir: std::path::PathBuf,
    experiment: Option<std::path::PathBuf>,
) -> PyResult<String> {
    py.detach(|| signest::theory::verify(&dir, experiment.as_deref()))
        .map_err(cli_error)
}

/// Figures and report.md for a finished run (or the headline table of a directory of runs).
#[pyfunction]
#[pyo3(signature = (dir, formats="png,svg"))]
fn report(py: Python<'_>, dir: std::path::PathBuf, formats: &str) -> PyResult<String> {
    py.detach(|| signest::theory::report(&dir, formats))
        .map_err(cli_error)
}

#[pymodule]
fn _signest(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(report, m)?)?;
    m.add_function(wrap_pyfunction!(estimators, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
