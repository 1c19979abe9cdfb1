//! `external`: a user's estimator, run as a long-lived worker process that speaks a line
//! protocol (docs/experiments.md, "External estimators"), so that a sweep can compare it with
//! the built-ins on the same data, targets and gate.
//!
//! **Protocol.** For each fit the harness writes the training data to `.npy` files in a fresh
//! temporary directory — `z.npy` (n × d, `<f8`, C order: the feature differences),
//! `y.npy` (n, `<f8`, ±1), and when present `w.npy` (n, `<f8`, weights) and `groups.npy`
//! (n, `<i8`, respondent ids) — and sends the worker one JSON line on its standard input:
//!
//! ```json
//! {"protocol": 1, "n": 1000, "d": 2, "z": "/tmp/.../z.npy", "y": "/tmp/.../y.npy", "w": null, "groups": null}
//! ```
//!
//! The worker answers one JSON line on its standard output: `{"direction": [..d numbers..]}`
//! (optionally with `"objective"`: a number and `"notes"`: a list of strings), or
//! `{"error": "message"}`. The files are deleted after the answer. Anything else the worker
//! prints must go to its standard error (kept: its last lines appear in failure messages).
//!
//! **Failures** are failed fits (an `error` row of runs.csv with the message; the sweep goes on
//! under `max_failures`): no answer within `timeout_seconds` (the worker is killed), the worker
//! exiting or closing its output (it is restarted for the next fit), an answer that is not
//! the JSON above, a direction of the wrong length, non-finite or zero. A malformed answer
//! leaves the worker running.
//!
//! **Workers.** One per concurrent fit, so at most one per sweep thread: a fit takes an idle
//! worker from the pool or starts one, and gives it back when it answered. Workers end when
//! the estimator is dropped (their standard input closes; they are killed if still alive).
//!
//! Guarantee: whatever the user's code guarantees; the harness checks only the answer's form.

use crate::registry::{
    EstimatorKind, Family, NamedOptions, SettingError, SharedEstimator, SolverKind,
};
use crate::{Estimator, Fit, FitError, Status};
use signest_core::Comparisons;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Default seconds a worker may take for one fit.
pub const DEFAULT_TIMEOUT_SECONDS: f64 = 600.0;
/// Bytes of a worker's standard error kept for failure messages.
const STDERR_TAIL: usize = 2000;

/// An estimator run by a worker process (see the module docs).
pub struct External {
    /// argv of the worker: program, then arguments.
    pub command: Vec<String>,
    pub timeout: Duration,
    idle: Mutex<Vec<Worker>>,
}

impl std::fmt::Debug for External {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("External")
            .field("command", &self.command)
            .field("timeout", &self.timeout)
            .finish()
    }
}

struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    /// The thread copying the worker's standard error into `stderr` (ends at its EOF).
    stderr_reader: std::thread::JoinHandle<()>,
}

impl Worker {
    fn start(command: &[String]) -> Result<Worker, String> {
        let mut child = Command::new(&command[0])
            .args(&command[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {:?}: {e}", command[0]))?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let tail = stderr.clone();
        let mut err = child.stderr.take().expect("piped");
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(k) = err.read(&mut buf) {
                if k == 0 {
                    return;
                }
                let mut t = tail.lock().expect("stderr tail");
                t.push_str(&String::from_utf8_lossy(&buf[..k]));
                if t.len() > 2 * STDERR_TAIL {
                    let cut = t.len() - STDERR_TAIL;
                    let cut = (cut..t.len())
                        .find(|&i| t.is_char_boundary(i))
                        .unwrap_or(cut);
                    t.drain(..cut);
                }
            }
        });
        Ok(Worker {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            stderr_reader,
        })
    }

    /// After the worker exited: waits (at most 1 s) until its standard error has been read to
    /// EOF, so that the tail quoted in an error holds what it wrote before exiting.
    fn stderr_settled(&self) {
        let t = Instant::now();
        while !self.stderr_reader.is_finished() && t.elapsed() < Duration::from_secs(1) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn stderr_tail(&self) -> String {
        let t = self.stderr.lock().expect("stderr tail");
        let s = t.trim();
        if s.is_empty() {
            String::new()
        } else {
            let start = s.len().saturating_sub(400);
            let start = (start..s.len())
                .find(|&i| s.is_char_boundary(i))
                .unwrap_or(start);
            format!("; its standard error ends: {}", &s[start..])
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        drop(self.stdin.take());
        // A worker that ends on EOF gets a moment; then it is killed.
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(200) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh temporary directory for one fit's files, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir, String> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "signest-external-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `values` as a C-order `.npy` array of the given shape (`<f8` or `<i8`).
fn write_npy<T: npyz::AutoSerialize + Copy>(
    path: &Path,
    shape: &[u64],
    values: &[T],
) -> Result<(), String> {
    use npyz::WriterBuilder;
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    let f = std::fs::File::create(path).map_err(err)?;
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(std::io::BufWriter::new(f))
        .begin_nd()
        .map_err(err)?;
    w.extend(values.iter().copied()).map_err(err)?;
    w.finish().map_err(err)
}

#[derive(serde::Deserialize)]
struct Answer {
    #[serde(default)]
    direction: Option<Vec<f64>>,
    #[serde(default)]
    objective: Option<f64>,
    #[serde(default)]
    notes: Option<Vec<String>>,
    #[serde(default)]
    error: Option<String>,
}

impl External {
    pub fn new(command: Vec<String>, timeout: Duration) -> External {
        External {
            command,
            timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn request(&self, data: &Comparisons, dir: &TempDir) -> Result<String, String> {
        let (n, d) = (data.n(), data.d());
        let z = dir.0.join("z.npy");
        let y = dir.0.join("y.npy");
        write_npy(&z, &[n as u64, d as u64], data.z())?;
        write_npy(&y, &[n as u64], data.y())?;
        let w = match data.weights() {
            Some(w) => {
                let p = dir.0.join("w.npy");
                write_npy(&p, &[n as u64], w)?;
                Some(p)
            }
            None => None,
        };
        let groups = match data.respondents() {
            Some(r) => {
                let p = dir.0.join("groups.npy");
                let ids: Vec<i64> = r.iter().map(|v| *v as i64).collect();
                write_npy(&p, &[n as u64], &ids)?;
                Some(p)
            }
            None => None,
        };
        let path = |p: &Path| serde_json::Value::String(p.display().to_string());
        let msg = serde_json::json!({
            "protocol": 1,
            "n": n,
            "d": d,
            "z": path(&z),
            "y": path(&y),
            "w": w.as_deref().map(path),
            "groups": groups.as_deref().map(path),
        });
        Ok(msg.to_string())
    }
}

impl Estimator for External {
    fn name(&self) -> &'static str {
        "external"
    }

    fn fit(&self, data: &Comparisons) -> Result<Fit, FitError> {
        let start = Instant::now();
        let fail = |m: String| FitError::External(m);
        let dir = TempDir::new().map_err(fail)?;
        let line = self.request(data, &dir).map_err(fail)?;
        let idle = self.idle.lock().expect("worker pool").pop();
        let mut worker = match idle {
            Some(w) => w,
            None => Worker::start(&self.command).map_err(fail)?,
        };
        let sent = worker
            .stdin
            .as_mut()
            .map_or(Err(std::io::Error::other("closed")), |s| {
                s.write_all(line.as_bytes())
                    .and_then(|_| s.write_all(b"\n"))
                    .and_then(|_| s.flush())
            });
        if let Err(e) = sent {
            worker.stderr_settled();
            let tail = worker.stderr_tail();
            return Err(fail(format!(
                "the worker did not take the request ({e}): it has exited and is restarted for the next fit{tail}"
            )));
        }
        let answer = match worker.lines.recv_timeout(self.timeout) {
            Ok(a) => a,
            Err(RecvTimeoutError::Timeout) => {
                return Err(fail(format!(
                    "no answer within {} s: the worker was killed and is restarted for the next fit",
                    self.timeout.as_secs_f64()
                )));
            }
            Err(RecvTimeoutError::Disconnected) => {
                // Give the exit status a moment to appear.
                let mut status = None;
                for _ in 0..50 {
                    if let Ok(Some(s)) = worker.child.try_wait() {
                        status = Some(s);
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                if status.is_some() {
                    worker.stderr_settled();
                }
                let tail = worker.stderr_tail();
                return Err(fail(format!(
                    "the worker exited before answering ({}): it is restarted for the next fit{tail}",
                    status.map_or("still running, output closed".to_string(), |s| s
                        .to_string())
                )));
            }
        };
        // The worker answered: it goes back to the pool, whatever the answer says.
        let parsed: Result<Answer, _> = serde_json::from_str(&answer);
        self.idle.lock().expect("worker pool").push(worker);
        let short = |s: &str| -> String { s.chars().take(200).collect() };
        let a = parsed.map_err(|e| {
            fail(format!(
                "malformed answer ({e}): expected one JSON line {{\"direction\": [...]}} or {{\"error\": \"...\"}}, got '{}'",
                short(&answer)
            ))
        })?;
        if let Some(e) = a.error {
            return Err(fail(format!("the worker reported: {}", short(&e))));
        }
        let dvec = a.direction.ok_or_else(|| {
            fail(format!(
                "the answer has no \"direction\": '{}'",
                short(&answer)
            ))
        })?;
        if dvec.len() != data.d() {
            return Err(fail(format!(
                "the direction has {} entries for d = {}",
                dvec.len(),
                data.d()
            )));
        }
        if let Some(j) = dvec.iter().position(|v| !v.is_finite()) {
            return Err(fail(format!("the direction's entry {j} is not finite")));
        }
        let direction = signest_core::linalg::normalized(&dvec)
            .ok_or_else(|| fail("the direction is zero".to_string()))?;
        Ok(Fit {
            estimator: "external",
            solver: "worker",
            direction,
            coefficients: Some(dvec),
            status: Status::Heuristic,
            iterations: 0,
            objective: a.objective.unwrap_or(f64::NAN),
            certificate: None,
            fit_seconds: start.elapsed().as_secs_f64(),
            notes: a.notes.unwrap_or_default(),
        })
    }
}

/// The registry entry of `external` (see [`crate::registry`]).
pub const KIND: EstimatorKind = EstimatorKind {
    name: "external",
    family: Family::External,
    solvers: &[SolverKind {
        name: "worker",
        settings: &["command", "timeout_seconds"],
        guarantee: "the user's own: the harness checks the answer's form only (a finite non-zero direction of length d)",
        colour: [110, 110, 110],
    }],
    needs_panel: false,
    plain_default_label: true,
    build,
};

fn build(_solver: &str, o: &NamedOptions) -> Result<SharedEstimator, SettingError> {
    let command = match &o.command {
        Some(c) if !c.is_empty() && !c[0].is_empty() => c.clone(),
        _ => {
            return Err(SettingError::new(
                "command",
                "external needs command = [\"program\", \"arg\", ...] (the worker's argv)",
            ));
        }
    };
    let t = o.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
    if !(t.is_finite() && t > 0.0 && t <= 86_400.0) {
        return Err(SettingError::new(
            "timeout_seconds",
            format!("timeout_seconds must be > 0 and at most 86400, got {t}"),
        ));
    }
    Ok(Arc::new(External::new(command, Duration::from_secs_f64(t))))
}
