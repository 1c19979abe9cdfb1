//! `sign`: the sign estimator — minimise the (weighted) 0-1 loss over unit vectors
//! (Manski's maximum score without intercept, SPEC §2).
//!
//! The objective is piecewise constant, so the solvers are combinatorial or smoothed:
//! - [`SignSolver::Exact`]: d = 1 by enumeration, d = 2 by the angular [`sweep`], d ≥ 3 by
//!   branch and bound ([`bnb`]). Returns a [`Certificate`](crate::Certificate).
//! - [`SignSolver::Smooth`]: annealed smoothed 0-1 loss, several starts, 0-1 polish
//!   ([`smooth`]). Heuristic.

pub mod anneal;
pub mod bnb;
pub mod smooth;
pub mod sweep;
pub(crate) mod vertex;

use crate::numeric::{Width, by_width};
use crate::registry::{
    EstimatorKind, Family, NamedOptions, SettingError, SharedEstimator, SolverKind, random_starts,
};
use crate::{Certificate, Estimator, Fit, FitError, Status, check_nonempty};
use rayon::prelude::*;
use signest_core::Comparisons;
use signest_core::linalg::{dot, normalize};
use signest_core::metrics::loss01;
use std::sync::Arc;
use std::time::Instant;

pub use anneal::AnnealConfig;
pub use bnb::ExactConfig;
pub use smooth::SmoothConfig;

/// Which solver `sign` uses.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "solver", rename_all = "snake_case")]
pub enum SignSolver {
    Exact(ExactConfig),
    Smooth(SmoothConfig),
    Anneal(AnnealConfig),
}

/// The sign estimator.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sign {
    #[serde(flatten)]
    pub solver: SignSolver,
}

impl Sign {
    pub fn exact() -> Self {
        Sign {
            solver: SignSolver::Exact(ExactConfig::default()),
        }
    }
    pub fn smooth() -> Self {
        Sign {
            solver: SignSolver::Smooth(SmoothConfig::default()),
        }
    }
}

impl Default for Sign {
    fn default() -> Self {
        Sign::exact()
    }
}

impl Estimator for Sign {
    fn name(&self) -> &'static str {
        "sign"
    }

    /// Rows and their sort keys; branch and bound (d >= 3) may use up to its memory budget.
    fn memory_bytes(&self, n: usize, d: usize) -> u64 {
        let rows = 3 * (n as u64) * (d as u64 + 1) * 8;
        match &self.solver {
            SignSolver::Exact(cfg) if d >= 3 => rows + cfg.max_memory_mib.saturating_mul(1 << 20),
            _ => rows,
        }
    }

    /// `smooth`: starts, iterations per stage and polish rounds × factor; `anneal`: the same
    /// and its exploration paths. `exact` has no effort to raise.
    fn at_effort(&self, factor: f64) -> Option<SharedEstimator> {
        let up = |k: u32| ((k as f64) * factor).round().max(k as f64) as u32;
        let solver = match &self.solver {
            SignSolver::Exact(_) => return None,
            SignSolver::Smooth(c) => SignSolver::Smooth(SmoothConfig {
                random_starts: up(c.random_starts),
                iters_per_stage: up(c.iters_per_stage),
                polish_rounds: up(c.polish_rounds),
                polish_rounds_large: up(c.polish_rounds_large),
                ..c.clone()
            }),
            SignSolver::Anneal(c) => SignSolver::Anneal(AnnealConfig {
                random_starts: up(c.random_starts),
                iters_per_stage: up(c.iters_per_stage),
                polish_rounds: up(c.polish_rounds),
                paths: up(c.paths as u32) as usize,
                ..c.clone()
            }),
        };
        Some(Arc::new(Sign { solver }))
    }

    fn fit(&self, data: &Comparisons) -> Result<Fit, FitError> {
        let start = Instant::now();
        check_nonempty(data)?;
        let mut fit = match &self.solver {
            SignSolver::Exact(cfg) => match data.d() {
                1 => exact_1d(data),
                2 => exact_2d(data),
                _ => bnb::branch_and_bound(data, cfg)?,
            },
            SignSolver::Smooth(cfg) => smooth::smooth_fit(data, cfg)?,
            SignSolver::Anneal(cfg) => anneal::anneal_fit(data, cfg)?,
        };
        fit.fit_seconds = start.elapsed().as_secs_f64();
        Ok(fit)
    }
}

/// Builds the fit of an exact solver: the loss is re-evaluated directly at `u`, and the fit
/// is certified only when that value meets the proven lower bound.
pub(crate) fn exact_fit(
    data: &Comparisons,
    u: Vec<f64>,
    lower_bound: f64,
    solver: &'static str,
    nodes: u64,
    budget_hit: bool,
    mut notes: Vec<String>,
) -> Fit {
    let achieved = loss01(data, &u).weighted;
    let tol = 1e-9 * data.total_weight().max(1.0);
    let lower_bound = lower_bound.min(achieved);
    let certified = achieved - lower_bound <= tol && !budget_hit;
    if !certified && !budget_hit {
        notes.push(format!(
            "direct evaluation {achieved} exceeds the solver's bound {lower_bound}: floating-point degeneracy, not certified"
        ));
    }
    Fit {
        estimator: "sign",
        solver,
        direction: u,
        coefficients: None,
        status: if certified {
            Status::CertifiedOptimal
        } else {
            Status::Gap
        },
        iterations: nodes,
        objective: achieved,
        certificate: Some(Certificate {
            lower_bound,
            upper_bound: achieved,
            nodes,
        }),
        fit_seconds: 0.0,
        notes,
    }
}

fn exact_1d(data: &Comparisons) -> Fit {
    let plus = loss01(data, &[1.0]).weighted;
    let minus = loss01(data, &[-1.0]).weighted;
    let (u, lb) = if plus <= minus {
        (vec![1.0], plus)
    } else {
        (vec![-1.0], minus)
    };
    exact_fit(data, u, lb, "enumeration", 0, false, Vec::new())
}

fn exact_2d(data: &Comparisons) -> Fit {
    let x = data.signed_rows();
    let a: Vec<f64> = x.chunks_exact(2).map(|r| r[0]).collect();
    let b: Vec<f64> = x.chunks_exact(2).map(|r| r[1]).collect();
    let r = sweep::circle_sweep(&a, &b, data.weights());
    let u = vec![r.angle.cos(), r.angle.sin()];
    exact_fit(data, u, r.loss, "sweep", 0, false, Vec::new())
}

/// The 0-1 loss (weighted sum) of `u` on signed rows `x` (row-major n×d).
pub(crate) fn loss_signed(x: &[f64], w: Option<&[f64]>, d: usize, u: &[f64]) -> f64 {
    loss_signed_with(x, w, d, u, dot)
}

/// [`loss_signed`] with a chosen inner product (`dot`, or `dot_lanes` in `anneal`), inlined,
/// with d a constant below 17 ([`by_width!`]: the same operations, the same bits).
pub(crate) fn loss_signed_with<D>(x: &[f64], w: Option<&[f64]>, d: usize, u: &[f64], dot: D) -> f64
where
    D: Fn(&[f64], &[f64]) -> f64 + Sync + Copy,
{
    by_width!(d, wd => loss_signed_in(wd, x, w, u, dot))
}

#[inline(always)]
fn loss_signed_in<W: Width, D>(wd: W, x: &[f64], w: Option<&[f64]>, u: &[f64], dot: D) -> f64
where
    D: Fn(&[f64], &[f64]) -> f64 + Sync + Copy,
{
    let d = wd.d();
    let u = &u[..d];
    crate::par::map_reduce(
        x.len() / d,
        |rows| {
            let mut l = 0.0;
            for i in rows {
                let m = dot(&x[i * d..(i + 1) * d], u);
                let wi = w.map_or(1.0, |w| w[i]);
                // Branch-free: the sign of m is a coin flip near the optimum, and adding
                // 0.0 leaves the sum's bits as they are (it is never −0.0).
                l += if m < 0.0 {
                    wi
                } else if m == 0.0 {
                    0.5 * wi
                } else {
                    0.0
                };
            }
            l
        },
        |p, q| p + q,
    )
    .unwrap_or(0.0)
}

/// Great-circle coordinate descent on the exact 0-1 loss: for each coordinate axis e_k, the
/// circle through u and e_k (orthonormalised) is minimised exactly by the [`sweep`]; a move
/// is kept only when it strictly lowers the loss. Never increases the loss. Stops after
/// `rounds` rounds or a round without improvement. Returns (direction, loss, sweeps run).
pub fn polish(
    x: &[f64],
    w: Option<&[f64]>,
    d: usize,
    u0: &[f64],
    rounds: u32,
) -> (Vec<f64>, f64, u64) {
    let n = x.len() / d;
    let mut u = u0.to_vec();
    normalize(&mut u);
    let mut best = loss_signed(x, w, d, &u);
    let mut sweeps = 0;
    let mut a = vec![0.0; n];
    let mut b = vec![0.0; n];
    for _ in 0..rounds {
        let mut improved = false;
        for k in 0..d {
            // e = e_k − (e_k'u) u, normalised.
            let mut e: Vec<f64> = u.iter().map(|ui| -u[k] * ui).collect();
            e[k] += 1.0;
            if !normalize(&mut e) || dot(&e, &u).abs() > 1e-9 {
                continue;
            }
            sweeps += 1;
            if let Some((v, l)) = circle_step(x, w, d, &u, &e, best, &mut a, &mut b, dot) {
                best = l;
                u = v;
                improved = true;
            }
        }
        if !improved {
            break;
        }
    }
    (u, best, sweeps)
}

/// One exact move of the polish: the 0-1 loss minimised over the great circle through unit
/// u and the unit tangent e (circle sweep), accepted only when the direct evaluation is
/// strictly below `best`. `a`, `b` are scratch buffers of n values. Returns the new point and
/// its loss.
/// Rows per parallel task when projecting onto a circle's two axes.
const PROJECT_CHUNK: usize = 8192;

#[allow(clippy::too_many_arguments)]
pub(crate) fn circle_step(
    x: &[f64],
    w: Option<&[f64]>,
    d: usize,
    u: &[f64],
    e: &[f64],
    best: f64,
    a: &mut [f64],
    b: &mut [f64],
    dot: fn(&[f64], &[f64]) -> f64,
) -> Option<(Vec<f64>, f64)> {
    let project = |c: usize, ac: &mut [f64], bc: &mut [f64]| {
        for (k, (ai, bi)) in ac.iter_mut().zip(bc.iter_mut()).enumerate() {
            let i = c * PROJECT_CHUNK + k;
            let xi = &x[i * d..(i + 1) * d];
            *ai = dot(xi, u);
            *bi = dot(xi, e);
        }
    };
    // Each value is computed on its own, so serial and parallel fills are identical; small n
    // stays serial (no task overhead).
    let n = x.len() / d;
    if n >= 2 * PROJECT_CHUNK {
        a[..n]
            .par_chunks_mut(PROJECT_CHUNK)
            .zip(b[..n].par_chunks_mut(PROJECT_CHUNK))
            .enumerate()
            .for_each(|(c, (ac, bc))| project(c, ac, bc));
    } else {
        project(0, &mut a[..n], &mut b[..n]);
    }
    let r = sweep::circle_sweep(a, b, w);
    if r.loss >= best - 1e-12 * best.max(1.0) {
        return None;
    }
    let mut cand: Vec<f64> = u
        .iter()
        .zip(e)
        .map(|(p, q)| r.angle.cos() * p + r.angle.sin() * q)
        .collect();
    normalize(&mut cand);
    let l = loss_signed_with(x, w, d, &cand, dot);
    (l < best).then_some((cand, l))
}

/// Every k-th row of the signed rows (and weights), starting at row `offset_share·k` of the
/// first block, with k the smallest step that keeps at most `max_rows` rows; `None` when all
/// rows fit. The subsample of the annealing solvers.
pub(crate) fn subsample(
    x: &[f64],
    w: Option<&[f64]>,
    d: usize,
    max_rows: usize,
    path: usize,
    paths: usize,
) -> Option<(Vec<f64>, Option<Vec<f64>>)> {
    let n = x.len() / d;
    let step = n.div_ceil(max_rows.max(1)).max(1);
    if step == 1 {
        return None;
    }
    let offset = path * step / paths.max(1);
    let rows: Vec<usize> = (offset..n).step_by(step).collect();
    Some((
        gather_rows(x, d, &rows),
        w.map(|w| rows.iter().map(|&i| w[i]).collect()),
    ))
}

/// Rows `rows` of the row-major `x` (d columns), copied next to each other in that order: one
/// slice copy per row into a buffer of the final size (an iterator of single values would
/// grow the buffer and test its capacity value by value).
pub(crate) fn gather_rows(x: &[f64], d: usize, rows: &[usize]) -> Vec<f64> {
    let mut out = Vec::with_capacity(rows.len() * d);
    for &i in rows {
        out.extend_from_slice(&x[i * d..(i + 1) * d]);
    }
    out
}

/// The registry entry of `sign` (see [`crate::registry`]): a new solver is one more
/// [`SolverKind`] here and one arm in `build`.
pub const KIND: EstimatorKind = EstimatorKind {
    name: "sign",
    family: Family::Sign,
    solvers: &[
        SolverKind {
            name: "exact",
            settings: &["max_nodes", "time_limit_seconds", "max_memory_mib"],
            guarantee: "certified optimum (d = 2 sweep; d >= 3 branch and bound), or best found with a proven gap when the budget runs out",
            colour: [213, 94, 0],
        },
        SolverKind {
            name: "smooth",
            settings: &["seed", "random_starts"],
            guarantee: "heuristic: annealed smoothed 0-1 loss, several starts, 0-1 polish; reports the achieved 0-1 loss",
            colour: [230, 159, 0],
        },
        SolverKind {
            name: "anneal",
            settings: &["seed", "random_starts", "profile"],
            guarantee: "heuristic: smoothed 0-1 loss annealed by L-BFGS on the sphere (subsample, then all rows), 0-1 polish along the steps taken; reports the achieved 0-1 loss",
            colour: [204, 51, 17],
        },
        SolverKind {
            name: "sgd",
            settings: &["seed"],
            guarantee: "heuristic: minibatch Adam on the smoothed 0-1 loss, temperature annealed per epoch (20 epochs); reports the achieved 0-1 loss",
            colour: [136, 34, 85],
        },
    ],
    needs_panel: false,
    plain_default_label: false,
    build,
};

fn build(solver: &str, o: &NamedOptions) -> Result<SharedEstimator, SettingError> {
    if solver == "sgd" {
        return Ok(Arc::new(crate::Sgd {
            loss: crate::SgdLoss::Smoothed01,
            config: crate::SgdConfig {
                seed: o.seed.unwrap_or(0),
                ..crate::SgdConfig::default()
            },
        }));
    }
    Ok(Arc::new(match solver {
        "exact" => {
            let d = ExactConfig::default();
            let max_nodes = o.max_nodes.unwrap_or(d.max_nodes);
            if max_nodes < 1 {
                return Err(SettingError::new(
                    "max_nodes",
                    "max_nodes must be at least 1, got 0",
                ));
            }
            let t = o.time_limit_seconds.unwrap_or(d.time_limit_seconds);
            if !(t > 0.0 && t.is_finite()) {
                return Err(SettingError::new(
                    "time_limit_seconds",
                    format!("time_limit_seconds must be a positive number of seconds, got {t}"),
                ));
            }
            let max_memory_mib = o.max_memory_mib.unwrap_or(d.max_memory_mib);
            if max_memory_mib < 1 {
                return Err(SettingError::new(
                    "max_memory_mib",
                    "max_memory_mib must be at least 1 (MiB), got 0",
                ));
            }
            Sign {
                solver: SignSolver::Exact(ExactConfig {
                    max_nodes,
                    time_limit_seconds: t,
                    max_memory_mib,
                    ..d
                }),
            }
        }
        "smooth" => Sign {
            solver: SignSolver::Smooth(SmoothConfig {
                seed: o.seed.unwrap_or(0),
                random_starts: random_starts(o, SmoothConfig::default().random_starts)?,
                ..SmoothConfig::default()
            }),
        },
        "anneal" => {
            let base = match o.profile.as_deref() {
                None | Some("thorough") => AnnealConfig::default(),
                Some("fast") => AnnealConfig::fast(),
                Some(other) => {
                    return Err(SettingError::new(
                        "profile",
                        format!(
                            "profile must be \"thorough\" (the default) or \"fast\", got \"{other}\""
                        ),
                    ));
                }
            };
            Sign {
                solver: SignSolver::Anneal(AnnealConfig {
                    seed: o.seed.unwrap_or(0),
                    random_starts: random_starts(o, base.random_starts)?,
                    ..base
                }),
            }
        }
        other => {
            return Err(SettingError::new(
                "solver",
                format!("sign has no solver '{other}'"),
            ));
        }
    }))
}
