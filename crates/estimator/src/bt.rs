//! `bt`: Bradley–Terry / logistic MLE without intercept (the RLHF reward-model loss).

use crate::logistic;
use crate::numeric::{add_diagonal_packed, add_outer_packed_rows, sigmoid, softplus};
use crate::par::{add_into, map_reduce};
use crate::registry::{
    EstimatorKind, Family, NamedOptions, SettingError, SharedEstimator, SolverKind, ridge_at_least,
};
use crate::{Estimator, Fit, FitError, Status, check_nonempty};
use nalgebra::{Cholesky, DMatrix, DVector, Dyn};
use signest_core::Comparisons;
use signest_core::linalg::{dot, norm};
use std::sync::Arc;
use std::time::Instant;

/// Rows whose Hessian terms `evaluate` adds in one blocked call ([`add_outer_packed_rows`]).
const HESS_BLOCK: usize = 64;

/// Minimises `Σ w_i log(1 + exp(−y_i θ'z_i)) + (ridge/2)|θ|²` by Newton's method with an
/// Armijo line search.
///
/// Guarantee: stops when `|∇| ≤ tol·|∇(0)|` (status `converged`). Separation: an iterate
/// that classifies every non-zero row strictly correctly *proves* the data separable (the MLE
/// does not exist); failing to converge within `max_iter` while |θ| grows is taken as
/// quasi-separation (a heuristic). In both cases the fit is redone with a ridge of
/// `separation_ridge · Σw` and its direction is returned with status `separable`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Bt {
    /// Ridge penalty λ (0 = the plain MLE of SPEC §2).
    pub ridge: f64,
    /// Relative gradient-norm tolerance.
    pub tol: f64,
    pub max_iter: u32,
    /// Ridge, relative to the total weight, used when separation is detected.
    pub separation_ridge: f64,
    /// Which Newton variant (both share the stopping rule and the separation handling).
    pub solver: BtSolver,
}

/// `bt`'s exact solvers (the registry's `newton` and `subsampled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BtSolver {
    /// Newton with the full Hessian at every trial point (the solver of every committed
    /// result: its bits are kept).
    #[default]
    Newton,
    /// Newton with fused single-exponential passes; the Hessian from a strided row sample
    /// while far from the optimum, then the full Hessian, reused while it still contracts
    /// the gradient tenfold per step ([`subsampled_newton`]).
    Subsampled,
}

impl Default for Bt {
    fn default() -> Self {
        Bt {
            ridge: 0.0,
            tol: 1e-10,
            max_iter: 100,
            separation_ridge: 1e-6,
            solver: BtSolver::Newton,
        }
    }
}

/// Result of one pass over the data at θ.
struct Eval {
    loss: f64,
    grad: Vec<f64>,
    /// Upper triangle of the Hessian, packed row by row (j ≤ k).
    hess: Vec<f64>,
    /// Rows with margin ≤ 0 (including all-zero rows, whose margin is always 0).
    nonpositive: usize,
}

fn evaluate(
    x: &[f64],
    w: Option<&[f64]>,
    d: usize,
    theta: &[f64],
    ridge: f64,
    with_hess: bool,
) -> Eval {
    let n = x.len() / d;
    let np = d * (d + 1) / 2;
    let (loss, mut part) = map_reduce(
        n,
        |rows| {
            let mut loss = 0.0;
            // grad (d) | hess (np) | nonpositive count (1)
            let mut acc = vec![0.0; d + if with_hess { np } else { 0 } + 1];
            // The Hessian's curvature weights of the rows since `first`, added by blocks of
            // HESS_BLOCK rows (each entry takes its terms in row order, as row by row).
            let mut curv = Vec::with_capacity(if with_hess { HESS_BLOCK } else { 0 });
            let mut first = rows.start;
            for i in rows.clone() {
                let xi = &x[i * d..(i + 1) * d];
                let wi = w.map_or(1.0, |w| w[i]);
                let m = dot(xi, theta);
                loss += wi * softplus(-m);
                let p = sigmoid(-m); // probability of the wrong sign
                let gcoef = -wi * p;
                for j in 0..d {
                    acc[j] += gcoef * xi[j];
                }
                if with_hess {
                    curv.push(wi * p * (1.0 - p));
                    if curv.len() == HESS_BLOCK || i + 1 == rows.end {
                        add_outer_packed_rows(
                            &mut acc[d..d + np],
                            &curv,
                            &x[first * d..(i + 1) * d],
                            d,
                        );
                        curv.clear();
                        first = i + 1;
                    }
                }
                if m <= 0.0 {
                    acc[d + if with_hess { np } else { 0 }] += 1.0;
                }
            }
            (loss, acc)
        },
        |(l1, a1), (l2, a2)| (l1 + l2, add_into(a1, a2)),
    )
    .expect("n > 0");
    let nonpositive = part.pop().expect("count slot") as usize;
    let mut grad: Vec<f64> = part[..d].to_vec();
    let mut hess: Vec<f64> = if with_hess {
        part[d..].to_vec()
    } else {
        Vec::new()
    };
    let mut loss = loss;
    if ridge > 0.0 {
        loss += 0.5 * ridge * dot(theta, theta);
        for j in 0..d {
            grad[j] += ridge * theta[j];
        }
        if with_hess {
            add_diagonal_packed(&mut hess, ridge, d);
        }
    }
    Eval {
        loss,
        grad,
        hess,
        nonpositive,
    }
}

/// Solves `H p = −g` (H packed upper triangle) by Cholesky, falling back to a tiny diagonal
/// shift when H is numerically singular.
pub(crate) fn newton_direction(hess: &[f64], grad: &[f64], d: usize) -> Vec<f64> {
    let mut h = DMatrix::<f64>::zeros(d, d);
    let mut k = 0;
    for a in 0..d {
        for b in a..d {
            h[(a, b)] = hess[k];
            h[(b, a)] = hess[k];
            k += 1;
        }
    }
    let g = DVector::from_column_slice(grad);
    let step = shifted_cholesky(&h, |ch| {
        let p = ch.solve(&(-&g));
        p.iter()
            .all(|v| v.is_finite())
            .then(|| p.as_slice().to_vec())
    });
    step.unwrap_or_else(|| {
        let scale = max_diagonal(&h);
        grad.iter().map(|v| -v / scale).collect()
    })
}

/// The largest |H_jj| (at least 1e-300).
fn max_diagonal(h: &DMatrix<f64>) -> f64 {
    (0..h.nrows())
        .map(|j| h[(j, j)].abs())
        .fold(0.0, f64::max)
        .max(1e-300)
}

/// `accept` of the Cholesky factor of `H + shift·I` for the smallest shift in {0, 1e-12·s,
/// 1e-10·s, …} (s = the largest |H_jj|, 20 tries) that factors and is accepted.
fn shifted_cholesky<T>(
    h: &DMatrix<f64>,
    accept: impl Fn(Cholesky<f64, Dyn>) -> Option<T>,
) -> Option<T> {
    let d = h.nrows();
    let scale = max_diagonal(h);
    let mut shift = 0.0;
    for _ in 0..20 {
        let mut hs = h.clone();
        for j in 0..d {
            hs[(j, j)] += shift;
        }
        if let Some(t) = hs.cholesky().and_then(&accept) {
            return Some(t);
        }
        shift = if shift == 0.0 {
            1e-12 * scale
        } else {
            shift * 100.0
        };
    }
    None
}

struct NewtonOut {
    theta: Vec<f64>,
    loss: f64,
    iterations: u64,
    converged: bool,
    separable_proof: bool,
    grad_rel: f64,
    /// Rows whose features are all zero.
    zero_rows: usize,
    /// `subsampled` only: how it spent its passes.
    hessians: Option<PassUse>,
}

/// What `subsampled` did: the row stride of its sampled Hessian, the steps that used it, the
/// full Hessians it built and its passes over the data (each pass builds at most one Hessian).
#[derive(Clone, Copy)]
struct PassUse {
    stride: usize,
    sampled_steps: u64,
    full_hessians: u64,
    passes: u64,
}

fn newton(
    x: &[f64],
    w: Option<&[f64]>,
    d: usize,
    ridge: f64,
    tol: f64,
    max_iter: u32,
    zero_rows: usize,
) -> NewtonOut {
    let mut theta = vec![0.0; d];
    let mut cur = evaluate(x, w, d, &theta, ridge, true);
    let g0 = norm(&cur.grad).max(1e-300);
    let mut iterations = 0;
    loop {
        let gn = norm(&cur.grad);
        if gn <= tol * g0 {
            return NewtonOut {
                theta,
                loss: cur.loss,
                iterations,
                converged: true,
                separable_proof: false,
                grad_rel: gn / g0,
                zero_rows,
                hessians: None,
            };
        }
        if ridge == 0.0 && iterations > 0 && cur.nonpositive == zero_rows {
            // θ classifies every non-zero row strictly correctly: a proof of separation.
            return NewtonOut {
                theta,
                loss: cur.loss,
                iterations,
                converged: false,
                separable_proof: true,
                grad_rel: gn / g0,
                zero_rows,
                hessians: None,
            };
        }
        if iterations >= max_iter as u64 {
            return NewtonOut {
                theta,
                loss: cur.loss,
                iterations,
                converged: false,
                separable_proof: false,
                grad_rel: gn / g0,
                zero_rows,
                hessians: None,
            };
        }
        iterations += 1;
        let p = newton_direction(&cur.hess, &cur.grad, d);
        let slope = dot(&p, &cur.grad);
        let (p, slope) = if slope < 0.0 {
            (p, slope)
        } else {
            (cur.grad.iter().map(|g| -g).collect(), -gn * gn)
        };
        let mut alpha = 1.0;
        let mut accepted = None;
        for _ in 0..60 {
            let trial: Vec<f64> = theta.iter().zip(&p).map(|(t, s)| t + alpha * s).collect();
            let e = evaluate(x, w, d, &trial, ridge, true);
            // Armijo; near the optimum the predicted decrease falls below the rounding error
            // of the loss sum (all terms are positive, so that error is about ε·loss): then a
            // step that keeps the loss within rounding and lowers the gradient norm is taken.
            let noise = 8.0 * f64::EPSILON * cur.loss.abs();
            if e.loss <= cur.loss + 1e-4 * alpha * slope
                || (e.loss <= cur.loss + noise && norm(&e.grad) < gn)
            {
                accepted = Some((trial, e));
                break;
            }
            alpha *= 0.5;
        }
        match accepted {
            Some((t, e)) => {
                theta = t;
                cur = e;
            }
            None => {
                // No decrease representable in f64: we are at the optimum to machine precision.
                let gn = norm(&cur.grad);
                return NewtonOut {
                    theta,
                    loss: cur.loss,
                    iterations,
                    converged: gn <= 1e-6 * g0,
                    separable_proof: false,
                    grad_rel: gn / g0,
                    zero_rows,
                    hessians: None,
                };
            }
        }
    }
}

/// A Cholesky factor of `H` (shifted as little as [`shifted_cholesky`] allows) with a
/// finite L, or `None`.
fn factor(h: &DMatrix<f64>) -> Option<Cholesky<f64, Dyn>> {
    shifted_cholesky(h, |ch| {
        ch.l_dirty().iter().all(|v| v.is_finite()).then_some(ch)
    })
}

/// [`newton`]'s contract (same stopping rule, separation proof and iteration cap), at a cost
/// of a few passes over the data:
///
/// - every trial point costs one fused pass ([`logistic::loss_grad_hessian`]: loss, gradient,
///   the count of non-positive margins, one polynomial exponential and log1p per row), which
///   also packs the Hessian at that point that the next step is guessed to want, while its
///   rows are in cache (a wrong guess of sampled against full changes the next step's kind,
///   never accuracy, and costs no pass; only a chord step that was expected but not earned
///   needs one more pass, for the full Hessian);
/// - while the relative gradient exceeds [`SAMPLE_UNTIL`] and d ≥ [`SAMPLE_MIN_D`], that
///   Hessian comes from 1 row in s (about [`SAMPLE_ROWS_PER_D`]·d rows, scaled by the weight
///   ratio): far from the optimum a rough Hessian gives nearly the same step;
/// - near the optimum the full Hessian, whose factor is reused for the next step while the
///   last step cut the gradient at least [`REUSE_CONTRACTION`]-fold (a chord step, which
///   costs one pass instead of a Hessian);
/// - no n-sized buffer: nothing but the data is read, nothing of size n written.
///
/// Every direction is a descent direction (a positive definite matrix, else −∇), so the
/// Armijo search converges as in [`newton`]; the stopping test is on the full gradient.
fn subsampled_newton(rows: logistic::Rows<'_>, ridge: f64, tol: f64, max_iter: u32) -> NewtonOut {
    let (n, d, w) = (rows.n(), rows.d, rows.w);
    let total_w = w.map_or(n as f64, |w| w.iter().sum());
    let sample_stride = if d >= SAMPLE_MIN_D {
        (n / (SAMPLE_ROWS_PER_D * d).max(SAMPLE_MIN_ROWS)).max(1)
    } else {
        1
    };
    // A pass can also pack the Hessian at its point (a stride, or none), so that the next
    // step need not read the data again for it: `plan` guesses which one the next step will
    // want. A wrong guess of sampled against full changes which kind of step comes next (see
    // `sampled` below), never accuracy, and costs no pass; when a chord step was expected
    // (nothing packed) but not earned, the full Hessian takes one more pass.
    type Hess = Option<(usize, (Vec<f64>, f64))>;
    let passes = std::cell::Cell::new(0u64);
    let eval = |theta: &[f64], fuse: Option<usize>| {
        passes.set(passes.get() + 1);
        let (mut e, h) = logistic::loss_grad_hessian(rows, theta, fuse);
        if ridge > 0.0 {
            e.loss += 0.5 * ridge * dot(theta, theta);
            for (g, t) in e.grad.iter_mut().zip(theta) {
                *g += ridge * t;
            }
        }
        let h: Hess = fuse.zip(h);
        (e.loss, e.grad, e.nonpositive, e.zero_rows, h)
    };
    // The Hessian the next step will likely build: after a sampled step, a sampled one while
    // the gradient is predicted to stay above SAMPLE_UNTIL (the step is predicted to shrink
    // it as much as the last sampled step did, fivefold before any); after a full one taken
    // too far out to be reused, another full one; after one that can be reused (a chord step
    // next), none.
    let plan = |rel_now: f64, sampled_step: bool, full_rel: f64, shrink: f64| -> Option<usize> {
        if sampled_step {
            Some(if rel_now * shrink > SAMPLE_UNTIL {
                sample_stride
            } else {
                1
            })
        } else if full_rel > REUSE_BELOW {
            Some(1)
        } else {
            None
        }
    };
    // Near the optimum the predicted decrease falls below the rounding error of the loss sum
    // (positive terms summed in chunks of `par::CHUNK`: about √n·ε·loss; 4√n·ε·loss is
    // allowed): a step that keeps the loss within it and lowers the gradient norm is taken.
    let noise_rel = 4.0 * (n as f64).sqrt().max(8.0) * f64::EPSILON;
    let mut theta = vec![0.0; d];
    // At θ = 0 the relative gradient is 1: the first step is sampled whenever d allows.
    let (mut loss, mut grad, mut nonpositive, zero_rows, mut packed) =
        eval(&theta, Some(sample_stride));
    let g0 = norm(&grad).max(1e-300);
    let mut iterations = 0;
    // The full Hessian's factor and whether the last step earned its reuse.
    let mut full: Option<Cholesky<f64, Dyn>> = None;
    let mut reuse = false;
    // The relative gradient where that Hessian was taken: a chord step with it contracts
    // the gradient by about this much again.
    let mut full_rel = f64::INFINITY;
    let (mut sampled_steps, mut full_hessians) = (0u64, 0u64);
    let pass_use = |sampled_steps, full_hessians| PassUse {
        stride: sample_stride,
        sampled_steps,
        full_hessians,
        passes: passes.get(),
    };
    // How much the last sampled step shrank the relative gradient (a guess before the first).
    let mut shrink = 0.2;
    // The Hessian at the current point with the given stride: the one its pass packed, else
    // (a wrong guess) from one more pass there. No n-sized buffer is kept: on this kind of
    // machine fresh memory costs more to touch than a pass costs to recompute it.
    let hessian_at = |packed: &mut Hess, theta: &[f64], stride: usize| -> (Vec<f64>, f64) {
        match packed.take() {
            Some((s, h)) if s == stride => h,
            _ => eval(theta, Some(stride)).4.expect("asked for").1,
        }
    };
    loop {
        let gn = norm(&grad);
        let out = |theta: Vec<f64>, converged, separable_proof| NewtonOut {
            theta,
            loss,
            iterations,
            converged,
            separable_proof,
            grad_rel: gn / g0,
            zero_rows,
            hessians: Some(pass_use(sampled_steps, full_hessians)),
        };
        if gn <= tol * g0 {
            return out(theta, true, false);
        }
        if ridge == 0.0 && iterations > 0 && nonpositive == zero_rows {
            return out(theta, false, true);
        }
        if iterations >= max_iter as u64 {
            return out(theta, false, false);
        }
        iterations += 1;
        let rel = gn / g0;
        // A sampled step while the gradient is above SAMPLE_UNTIL, and also below it when the
        // last pass packed the sampled Hessian (`plan` guessed wrong): that step costs nothing
        // extra and shrinks the gradient several-fold, where building the full Hessian would
        // cost a pass that moves nowhere. A packed full Hessian (the opposite wrong guess) is
        // used as it is: a better step, also at no extra cost.
        let packed_stride = packed.as_ref().map(|(s, _)| *s);
        let sampled = sample_stride > 1
            && packed_stride != Some(1)
            && (rel > SAMPLE_UNTIL || packed_stride == Some(sample_stride));
        let ch = if sampled {
            let (h, ws) = hessian_at(&mut packed, &theta, sample_stride);
            let scale = if ws > 0.0 { total_w / ws } else { 1.0 };
            let mut h = DMatrix::from_row_slice(d, d, &h) * scale;
            for j in 0..d {
                h[(j, j)] += ridge;
            }
            full = None;
            sampled_steps += 1;
            factor(&h)
        } else {
            if !(reuse && full.is_some()) {
                let (h, _) = hessian_at(&mut packed, &theta, 1);
                let mut h = DMatrix::from_row_slice(d, d, &h);
                for j in 0..d {
                    h[(j, j)] += ridge;
                }
                full = factor(&h);
                full_rel = rel;
                full_hessians += 1;
            }
            full.clone()
        };
        let g = DVector::from_column_slice(&grad);
        let p: Vec<f64> = match ch {
            Some(ch) => ch.solve(&(-&g)).as_slice().to_vec(),
            None => grad.iter().map(|v| -v).collect(),
        };
        let slope = dot(&p, &grad);
        let (p, slope) = if slope < 0.0 && p.iter().all(|v| v.is_finite()) {
            (p, slope)
        } else {
            (grad.iter().map(|g| -g).collect(), -gn * gn)
        };
        let noise = noise_rel * loss.abs();
        let fuse = plan(rel, sampled, full_rel, shrink);
        let mut alpha = 1.0;
        let mut accepted = None;
        for _ in 0..60 {
            let trial: Vec<f64> = theta.iter().zip(&p).map(|(t, s)| t + alpha * s).collect();
            let (l, g, k, _, h) = eval(&trial, fuse);
            if l <= loss + 1e-4 * alpha * slope || (l <= loss + noise && norm(&g) < gn) {
                accepted = Some((trial, l, g, k, h));
                break;
            }
            alpha *= 0.5;
        }
        match accepted {
            Some((t, l, g, k, h)) => {
                if sampled {
                    shrink = (norm(&g) / gn).min(1.0);
                }
                reuse =
                    alpha == 1.0 && full_rel <= REUSE_BELOW && norm(&g) <= gn / REUSE_CONTRACTION;
                theta = t;
                loss = l;
                grad = g;
                nonpositive = k;
                packed = h;
            }
            None => {
                let gn = norm(&grad);
                return NewtonOut {
                    theta,
                    loss,
                    iterations,
                    converged: gn <= 1e-6 * g0,
                    separable_proof: false,
                    grad_rel: gn / g0,
                    zero_rows,
                    hessians: Some(pass_use(sampled_steps, full_hessians)),
                };
            }
        }
    }
}

/// `subsampled`: the Hessian comes from a row sample while the relative gradient exceeds this.
const SAMPLE_UNTIL: f64 = 5e-3;
/// `subsampled`: below this d the full Hessian costs about as much as the pass and is always
/// used.
const SAMPLE_MIN_D: usize = 12;
/// `subsampled`: rows per dimension in the sampled Hessian (at least [`SAMPLE_MIN_ROWS`]).
const SAMPLE_ROWS_PER_D: usize = 64;
const SAMPLE_MIN_ROWS: usize = 2048;
/// `subsampled`: the full Hessian's factor is reused while each step cuts the gradient by at
/// least this factor, if it was taken where the relative gradient was at most
/// [`REUSE_BELOW`].
const REUSE_CONTRACTION: f64 = 10.0;
const REUSE_BELOW: f64 = 1e-2;

impl Estimator for Bt {
    fn name(&self) -> &'static str {
        "bt"
    }

    fn fit(&self, data: &Comparisons) -> Result<Fit, FitError> {
        let start = Instant::now();
        check_nonempty(data)?;
        if !(self.ridge >= 0.0 && self.tol > 0.0 && self.separation_ridge > 0.0) {
            return Err(FitError::Config(
                "bt: ridge >= 0, tol > 0 and separation_ridge > 0 are required".into(),
            ));
        }
        let d = data.d();
        let w = data.weights();
        // newton reads a copy of the signed rows (its committed bits come from it);
        // subsampled reads z and y in place.
        let x = match self.solver {
            BtSolver::Newton => data.signed_rows(),
            BtSolver::Subsampled => Vec::new(),
        };
        let rows = logistic::Rows {
            z: data.z(),
            y: data.y(),
            w,
            d,
        };
        let zero_rows = match self.solver {
            BtSolver::Newton => x
                .chunks_exact(d)
                .filter(|r| r.iter().all(|v| *v == 0.0))
                .count(),
            BtSolver::Subsampled => 0,
        };
        let solve = |ridge: f64, zero_rows: usize| match self.solver {
            BtSolver::Newton => newton(&x, w, d, ridge, self.tol, self.max_iter, zero_rows),
            BtSolver::Subsampled => subsampled_newton(rows, ridge, self.tol, self.max_iter),
        };
        let out = solve(self.ridge, zero_rows);
        if out.zero_rows == data.n() {
            return Err(FitError::Degenerate("every comparison has z = 0".into()));
        }
        let mut notes = Vec::new();
        if let Some(PassUse {
            stride,
            sampled_steps,
            full_hessians,
            passes,
        }) = out.hessians
        {
            notes.push(if sampled_steps > 0 {
                format!(
                    "sampled Hessian (1 row in {stride}) in {sampled_steps} of {} steps; full Hessian {full_hessians} times; {passes} passes over the data",
                    out.iterations
                )
            } else {
                format!(
                    "full Hessian {full_hessians} times in {} steps; {passes} passes over the data",
                    out.iterations
                )
            });
        }
        let (theta, loss, iterations, status) = if out.converged {
            (out.theta, out.loss, out.iterations, Status::Converged)
        } else if out.separable_proof || self.ridge == 0.0 {
            if out.separable_proof {
                notes.push(format!(
                    "data are separable: iteration {} classifies every row correctly, so the MLE does not exist",
                    out.iterations
                ));
            } else {
                notes.push(format!(
                    "no convergence in {} Newton steps (relative gradient {:.2e}, |θ| = {:.3e}): treated as quasi-separable",
                    out.iterations,
                    out.grad_rel,
                    norm(&out.theta)
                ));
            }
            let lam = self.separation_ridge * data.total_weight();
            let r = solve(lam, out.zero_rows);
            notes.push(format!("direction from a ridge fit with λ = {lam:.3e}"));
            (
                r.theta,
                r.loss,
                out.iterations + r.iterations,
                Status::Separable,
            )
        } else {
            notes.push(format!(
                "relative gradient {:.2e} after {} steps",
                out.grad_rel, out.iterations
            ));
            (out.theta, out.loss, out.iterations, Status::MaxIterations)
        };
        let direction = signest_core::linalg::normalized(&theta).ok_or_else(|| {
            FitError::Degenerate(
                "the fitted θ is 0: the data are balanced in every direction".into(),
            )
        })?;
        Ok(Fit {
            estimator: "bt",
            solver: match self.solver {
                BtSolver::Newton => "newton",
                BtSolver::Subsampled => "subsampled",
            },
            direction,
            coefficients: Some(theta),
            status,
            iterations,
            objective: loss,
            certificate: None,
            fit_seconds: start.elapsed().as_secs_f64(),
            notes,
        })
    }
}

/// The `bt` objective's gradient at θ, from signed rows `x_i = y_i z_i` (row-major n×d, see
/// [`Comparisons::signed_rows`]): one pass over the data. For tests, diagnostics and benches.
pub fn bt_gradient(x: &[f64], w: Option<&[f64]>, d: usize, theta: &[f64], ridge: f64) -> Vec<f64> {
    evaluate(x, w, d, theta, ridge, false).grad
}

/// The registry entry of `bt` (see [`crate::registry`]).
pub const KIND: EstimatorKind = EstimatorKind {
    name: "bt",
    family: Family::Bt,
    solvers: &[
        SolverKind {
            name: "newton",
            settings: &["ridge"],
            guarantee: "relative gradient norm < 1e-10; separable data detected and reported, direction from a tiny ridge",
            colour: [0, 114, 178],
        },
        SolverKind {
            name: "subsampled",
            settings: &["ridge"],
            guarantee: "as newton (relative gradient norm < 1e-10, separation detected), in a few fused passes: Hessian from a strided row sample far from the optimum, the full one near it",
            colour: [0, 73, 120],
        },
        SolverKind {
            name: "sgd",
            settings: &["seed"],
            guarantee: "heuristic: minibatch Adam on the logistic loss, 20 epochs from w = 0 (no convergence test); reports the achieved log-loss",
            colour: [51, 34, 136],
        },
    ],
    needs_panel: false,
    plain_default_label: true,
    build,
};

fn build(solver: &str, o: &NamedOptions) -> Result<SharedEstimator, SettingError> {
    if solver == "sgd" {
        return Ok(Arc::new(crate::Sgd {
            loss: crate::SgdLoss::Logistic,
            config: crate::SgdConfig {
                seed: o.seed.unwrap_or(0),
                ..crate::SgdConfig::default()
            },
        }));
    }
    Ok(Arc::new(Bt {
        ridge: ridge_at_least(o, 0.0, false)?,
        solver: if solver == "subsampled" {
            BtSolver::Subsampled
        } else {
            BtSolver::Newton
        },
        ..Bt::default()
    }))
}
