//! `sign`, solver `anneal`: the smoothed maximum score annealed by L-BFGS on the sphere, for
//! high dimension (tens to hundreds of features) and large n.
//!
//! Minimises `S_h(u) = Σ w_i σ(−x_i'u / h)` (x_i = y_i z_i) over unit u for a geometric
//! schedule of bandwidths h from `h_start·s` to `h_end·s` (s the mean |x_i'u| at the start),
//! each by Riemannian L-BFGS (tangent-space two-loop recursion, vector transport by
//! projection, Armijo backtracking on the retraction u ← (u + a p)/|u + a p|).
//!
//! Cost is kept to a few hundred passes over the rows, each cheap:
//! - **Subsamples that grow with the bandwidth**: stage i runs on every k-th row, `subsample`
//!   rows at the first bandwidth and ∝ 1/h after (the rows near the boundary, which carry the
//!   gradient, stay about as many); all rows once that reaches n, and in the last
//!   `full_stages` stages.
//! - **Fused passes**: loss and gradient in one sweep, the inner product summed in lanes
//!   ([`dot_lanes`]), rows with |x'u|/h > `cut` ([`CUT`] by default) adding their weight or
//!   nothing without a gradient term or an `exp`; by blocks of [`BLOCK`] rows (margins, then
//!   the sigmoids of the band, then the sums in row order: the row-by-row bits).
//! - **Active sets** (`Evaluator`): at small h only rows near the boundary matter; they are
//!   copied into one compact block valid for every u within a radius of the point it was built
//!   at (Cauchy–Schwarz bound), when that block holds at most a quarter of the rows.
//!
//! Then an exact 0-1 polish along *informative* great circles — through u and each of the
//! last L-BFGS steps, the last smoothed gradients, and (d ≤ 16) the coordinate axes — each
//! move minimising the 0-1 loss exactly over an arc of half-width `polish_window`
//! ([`window_sweep`]: only rows whose sign changes inside the arc are sorted); a move is kept
//! only when it strictly lowers the directly evaluated 0-1 loss.
//!
//! Starts: the `bt` direction and the mean signed row (the one with the lower 0-1 loss is
//! annealed). Only when n ≤ `subsample`, where restarts are cheap and pay, `random_starts`
//! uniform directions from the solver's own stream are annealed too (each entering the
//! schedule at a different stage, as in `smooth`), every start is polished on the whole
//! circle, and the best is kept. The returned direction is the one of lowest 0-1 loss among the starts, the annealed and the
//! polished points. Results do not depend on the thread count (fixed chunks, folded in order).
//!
//! Profiles: the default (the bits of every committed result) and [`AnnealConfig::fast`]
//! (the `subsampled` bt start, a smaller `cut`, one polish round, stages before the last
//! stopped at short steps: about half the time at n = 10^6, d = 10 and 128, the same 0-1
//! loss to ±5e−4 at d = 64, 128; results/bench/anneal_speed.txt), meant to become the default
//! when the committed results are regenerated.
//!
//! Guarantee: heuristic. The reported objective is the achieved 0-1 loss (direct evaluation).

use super::sweep::MIN_ARC;
use super::{circle_step, subsample};
use crate::numeric::{Width, avx2_dispatch, by_width, sigmoid};
use crate::par::add_into;
use crate::{Bt, BtSolver, Estimator, Fit, FitError, Status};
use rand::distr::Distribution;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use signest_core::Comparisons;
use signest_core::linalg::{dot, dot_lanes, norm, normalize, normalized};
use std::f64::consts::FRAC_PI_4;

/// The default of [`AnnealConfig::cut`]: |t| beyond which σ(t) is taken as exactly 0 or 1
/// (e^−36 ≈ 2e−16, below f64's resolution of 1).
const CUT: f64 = 36.0;

/// Rows per block of [`smoothed_rows`]: margins first, then the sigmoids of the rows in the
/// band, then the sums in row order.
const BLOCK: usize = 64;

avx2_dispatch! {
/// S_h and its Euclidean gradient at u over rows `rows` of x (serial).
///
/// Row by row this is: t = −x_i'u/h; a row with t > `cut` adds its weight, one with
/// t < −`cut` nothing, any other (NaN included) w_i σ(t) to S_h and −w_i σ(t)(1 − σ(t))/h · x_i
/// to the gradient. It runs by blocks of [`BLOCK`] rows in three loops — the margins, the
/// sigmoids of the rows in the band, then the sums — so that the summing loop calls no
/// function and keeps its accumulator in a register; the sums are still taken in row order,
/// so the result is the row-by-row one bit for bit (tested against it). Where the CPU has
/// AVX2 the margins run as AVX2 code: the same operations in the same order, wider.
fn smoothed_rows / smoothed_rows_portable(
    x: &[f64],
    w: Option<&[f64]>,
    d: usize,
    u: &[f64],
    h: f64,
    cut: f64,
    rows: std::ops::Range<usize>,
) -> (f64, Vec<f64>) {
    by_width!(d, wd => smoothed_rows_in(wd, x, w, u, h, cut, rows))
}
}

/// The body of [`smoothed_rows`], for d a constant or not ([`by_width!`]: the same bits).
#[inline(always)]
fn smoothed_rows_in<W: Width>(
    wd: W,
    x: &[f64],
    w: Option<&[f64]>,
    u: &[f64],
    h: f64,
    cut: f64,
    rows: std::ops::Range<usize>,
) -> (f64, Vec<f64>) {
    let d = wd.d();
    let u = &u[..d];
    let mut f = 0.0;
    let mut g = vec![0.0; d];
    let mut t = [0.0f64; BLOCK];
    let mut s = [0.0f64; BLOCK];
    let mut start = rows.start;
    while start < rows.end {
        let end = (start + BLOCK).min(rows.end);
        let m = end - start;
        let xb = &x[start * d..end * d];
        for (tk, xi) in t[..m].iter_mut().zip(xb.chunks_exact(d)) {
            *tk = -dot_lanes(xi, u) / h;
        }
        // Far from the boundary σ is 0 or 1 to within e^−CUT and its slope below that: the
        // row adds its weight or nothing, and no gradient term (which is most rows at small
        // h, and spares exp its slow subnormal path).
        for (sk, &tk) in s[..m].iter_mut().zip(&t[..m]) {
            if !(tk > cut || tk < -cut) {
                *sk = sigmoid(tk);
            }
        }
        f = sum_block(
            wd,
            f,
            &mut g,
            xb,
            w.map(|w| &w[start..end]),
            &t[..m],
            &s[..m],
            h,
            cut,
        );
        start = end;
    }
    (f, g)
}

/// The summing loop of [`smoothed_rows`] over one block: adds each row's term to `f` and
/// `g` in row order and returns `f`. Apart, and not inlined, so that `f` stays in a register
/// (a loop that also calls `exp` keeps it on the stack).
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn sum_block<W: Width>(
    wd: W,
    mut f: f64,
    g: &mut [f64],
    xb: &[f64],
    w: Option<&[f64]>,
    t: &[f64],
    s: &[f64],
    h: f64,
    cut: f64,
) -> f64 {
    let d = wd.d();
    let g = &mut g[..d];
    for (k, (&tk, &sk)) in t.iter().zip(s).enumerate() {
        let wi = w.map_or(1.0, |w| w[k]);
        let band = !(tk > cut || tk < -cut);
        // Adding 0.0 (a row below the band) leaves the sum's bits as they are (it is never
        // −0.0); selecting instead of branching spares a mispredicted branch on about every
        // other row.
        f += if tk > cut {
            wi
        } else if band {
            wi * sk
        } else {
            0.0
        };
        if band {
            let c = -wi * sk * (1.0 - sk) / h;
            for (gj, xj) in g.iter_mut().zip(&xb[k * d..(k + 1) * d]) {
                *gj += c * xj;
            }
        }
    }
    f
}

/// The row-by-row form of [`smoothed_rows`] (the reference its blocks are tested against).
#[cfg(test)]
fn smoothed_rows_reference(
    x: &[f64],
    w: Option<&[f64]>,
    d: usize,
    u: &[f64],
    h: f64,
    cut: f64,
    rows: std::ops::Range<usize>,
) -> (f64, Vec<f64>) {
    let mut f = 0.0;
    let mut g = vec![0.0; d];
    for i in rows {
        let xi = &x[i * d..(i + 1) * d];
        let wi = w.map_or(1.0, |w| w[i]);
        let t = -dot_lanes(xi, u) / h;
        if t > cut {
            f += wi;
            continue;
        }
        if t < -cut {
            continue;
        }
        let s = sigmoid(t);
        f += wi * s;
        let c = -wi * s * (1.0 - s) / h;
        for (gj, xj) in g.iter_mut().zip(xi) {
            *gj += c * xj;
        }
    }
    (f, g)
}

/// Rows per task of the evaluator's parallel passes (fixed, so results do not depend on the
/// thread count: partials are folded in chunk order).
const EVAL_CHUNK: usize = 4096;

/// S_h and its Euclidean gradient at u in one pass over the rows: `smooth::smoothed` with the
/// lane-summed inner product ([`dot_lanes`]) and the [`CUT`] rule.
fn smoothed(
    x: &[f64],
    w: Option<&[f64]>,
    d: usize,
    u: &[f64],
    h: f64,
    cut: f64,
) -> (f64, Vec<f64>) {
    let n = x.len() / d;
    let chunks = n.div_ceil(EVAL_CHUNK);
    let part = |c: usize| {
        smoothed_rows(
            x,
            w,
            d,
            u,
            h,
            cut,
            c * EVAL_CHUNK..((c + 1) * EVAL_CHUNK).min(n),
        )
    };
    let parts: Vec<(f64, Vec<f64>)> = if chunks > 1 {
        (0..chunks).into_par_iter().map(part).collect()
    } else {
        (0..chunks).map(part).collect()
    };
    parts
        .into_iter()
        .reduce(|(f1, g1), (f2, g2)| (f1 + f2, add_into(g1, g2)))
        .unwrap_or((0.0, vec![0.0; d]))
}

/// Evaluates S_h (and its gradient) on an *active set*: the rows that can lie within
/// CUT·h of the boundary for any u within `radius` of the reference point u₀. A row left out
/// has |x'u₀| > CUT·h + |x|·radius, so by Cauchy–Schwarz |x'u| > CUT·h for every such u and
/// its term is exactly its weight (x'u < 0) or nothing, as in the full pass: the evaluation
/// equals [`smoothed`] up to summation order. The active rows are copied next to each other
/// (one compact block), and the set is rebuilt (one full pass) when u leaves the ball.
struct Evaluator<'a> {
    x: &'a [f64],
    w: Option<&'a [f64]>,
    d: usize,
    h: f64,
    /// [`AnnealConfig::cut`].
    cut: f64,
    /// |x_i| per row.
    norms: &'a [f64],
    active: Option<Active>,
    /// Full-data-equivalent passes so far.
    passes: f64,
}

/// The current ball: reference point, radius, and the compact block of active rows (their
/// weights, and the weight of the rows fixed at σ = 1); no block when more than a quarter of the
/// rows are active (then the ball is evaluated on all rows).
struct Active {
    u0: Vec<f64>,
    radius: f64,
    block: Option<(Vec<f64>, Option<Vec<f64>>, f64)>,
}

/// |x_i| of each row.
fn row_norms(x: &[f64], d: usize) -> Vec<f64> {
    x.par_chunks(d).map(|r| dot_lanes(r, r).sqrt()).collect()
}

impl<'a> Evaluator<'a> {
    fn new(
        x: &'a [f64],
        w: Option<&'a [f64]>,
        d: usize,
        h: f64,
        cut: f64,
        norms: &'a [f64],
    ) -> Self {
        Evaluator {
            x,
            w,
            d,
            h,
            cut,
            norms,
            active: None,
            passes: 0.0,
        }
    }

    /// S_h and gradient at u; `radius` is the ball to build a new set for if u is outside
    /// the current one.
    fn eval(&mut self, u: &[f64], radius: f64) -> (f64, Vec<f64>) {
        let (x, w, d, h, cut) = (self.x, self.w, self.d, self.h, self.cut);
        let n = x.len() / d;
        let inside = self.active.as_ref().is_some_and(|a| {
            let dist: f64 =
                a.u0.iter()
                    .zip(u)
                    .map(|(p, q)| (p - q) * (p - q))
                    .sum::<f64>()
                    .sqrt();
            dist <= a.radius
        });
        if !inside && radius == f64::INFINITY {
            self.active = Some(Active {
                u0: u.to_vec(),
                radius,
                block: None,
            });
        } else if !inside {
            let margins: Vec<f64> = x.par_chunks(d).map(|r| dot_lanes(r, u)).collect();
            self.passes += 1.0;
            let band = |i: usize| cut * h + self.norms[i] * radius;
            let keep: Vec<usize> = (0..n).filter(|&i| margins[i].abs() <= band(i)).collect();
            let block = (4 * keep.len() <= n).then(|| {
                let fixed: f64 = (0..n)
                    .filter(|&i| margins[i] < -band(i))
                    .map(|i| w.map_or(1.0, |w| w[i]))
                    .sum();
                let rows = super::gather_rows(x, d, &keep);
                let ws = w.map(|w| keep.iter().map(|&i| w[i]).collect());
                (rows, ws, fixed)
            });
            // Without a block, try again only after u has moved 8 radii (a rebuild that
            // finds no block costs a pass for nothing).
            self.active = Some(Active {
                u0: u.to_vec(),
                radius: if block.is_some() {
                    radius
                } else {
                    8.0 * radius
                },
                block,
            });
        }
        match &self.active.as_ref().expect("built above").block {
            Some((rows, ws, fixed)) => {
                self.passes += (rows.len() / d) as f64 / n as f64;
                let (f, g) = smoothed(rows, ws.as_deref(), d, u, h, cut);
                (f + fixed, g)
            }
            None => {
                self.passes += 1.0;
                smoothed(x, w, d, u, h, cut)
            }
        }
    }
}

/// The weighted 0-1 loss of u on signed rows (ties count ½), with [`dot_lanes`].
fn loss_signed(x: &[f64], w: Option<&[f64]>, d: usize, u: &[f64]) -> f64 {
    super::loss_signed_with(x, w, d, u, dot_lanes)
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnnealConfig {
    /// First bandwidth, relative to the mean |x'u| at the start.
    pub h_start: f64,
    /// Last bandwidth, same units.
    pub h_end: f64,
    /// Number of bandwidths in the geometric schedule.
    pub stages: u32,
    /// Of which the last ones run on all rows.
    pub full_stages: u32,
    /// L-BFGS iterations per bandwidth at most.
    pub iters_per_stage: u32,
    /// L-BFGS memory (pairs kept).
    pub memory: usize,
    /// Rows of the subsample at the first bandwidth (growing ∝ 1/h in later stages).
    pub subsample: usize,
    /// Rounds of great-circle 0-1 polish (a round without improvement ends it).
    pub polish_rounds: u32,
    /// Half-width (radians) of the arc each polish move searches exactly when n > `subsample`;
    /// π/4 or more searches the whole circle (always done when n ≤ `subsample`).
    pub polish_window: f64,
    /// Exploration paths (n > `subsample` only): the stages before the last `full_stages` are
    /// annealed from the start on this many different subsamples (rows i ≡ offset mod step),
    /// in parallel; the path whose end point has the lowest full-data 0-1 loss continues.
    pub paths: usize,
    /// Random starts besides bt and the mean signed row, used only when n ≤ `subsample`
    /// (where restarts are cheap and pay): each runs the whole schedule and is polished.
    pub random_starts: u32,
    /// Seed of the solver's own stream (random starts).
    pub seed: u64,
    /// Evaluate on active sets (see `Evaluator`); false evaluates every pass on all rows.
    pub active_set: bool,
    /// The `bt` solver of the bt start (both are exact and reach the same optimum to within
    /// 1e-6°; `newton`, the default, keeps the committed results' bits, `subsampled` costs a
    /// few passes instead of a Hessian per trial point).
    pub start_solver: BtSolver,
    /// |x'u|/h beyond which a row's σ is taken as exactly 0 or 1, with no gradient term and no
    /// `exp`: the smoothed loss is changed by at most e^−cut per such row. The default 36
    /// (e^−36 ≈ 2e−16) changes nothing in f64; a smaller one (e.g. 16, 1e−7) leaves fewer rows
    /// in the band, so fewer exponentials and earlier active sets.
    pub cut: f64,
    /// Every stage but the last ends at an accepted step shorter than `stage_tol` times its
    /// relative bandwidth over √d (radians: the finer resolution of more coordinates); 0, the
    /// default, runs each to the last stage's rule (steps below 1e-10, or no relative
    /// decrease above 1e-12, or `iters_per_stage`).
    pub stage_tol: f64,
}

impl Default for AnnealConfig {
    fn default() -> Self {
        AnnealConfig {
            h_start: 1.0,
            h_end: 1e-3,
            stages: 8,
            full_stages: 4,
            iters_per_stage: 40,
            memory: 8,
            subsample: 20_000,
            polish_rounds: 3,
            polish_window: 0.1,
            paths: 1,
            random_starts: 8,
            seed: 0,
            active_set: true,
            start_solver: BtSolver::Newton,
            cut: CUT,
            stage_tol: 0.0,
        }
    }
}

impl AnnealConfig {
    /// The faster profile of issue 17 (`anneal_tune`, results/bench/anneal_speed.txt): the
    /// `subsampled` bt start, `cut` 18 (σ's tails below 1.5e−8 dropped), one polish round,
    /// and stages before the last ending at steps below 0.1·h/√d. It changes the bits of
    /// every fit, so it is not the default while committed results are made with the
    /// default; it is meant to become the default together with their regeneration.
    pub fn fast() -> Self {
        AnnealConfig {
            start_solver: BtSolver::Subsampled,
            cut: 18.0,
            polish_rounds: 1,
            stage_tol: 0.1,
            ..AnnealConfig::default()
        }
    }
}

/// Bounds of the active set's radius (radians, roughly: distances on the unit sphere).
const RADIUS_MIN: f64 = 1e-4;
const RADIUS_MAX: f64 = 0.05;

/// Projects v onto the tangent space at unit u.
fn tangent(v: &[f64], u: &[f64]) -> Vec<f64> {
    let c = dot(v, u);
    v.iter().zip(u).map(|(a, b)| a - c * b).collect()
}

/// One bandwidth: Riemannian L-BFGS from u. Returns the point, the passes over the rows it
/// took, and the steps it made (tangent vectors at the end point, for the polish).
fn lbfgs_stage(
    x: &[f64],
    w: Option<&[f64]>,
    d: usize,
    norms: &[f64],
    u0: &[f64],
    h: f64,
    min_step: f64,
    cfg: &AnnealConfig,
) -> (Vec<f64>, f64, Vec<Vec<f64>>) {
    let mut u = u0.to_vec();
    let mut ev = Evaluator::new(x, w, d, h, cfg.cut, norms);
    // The active set's ball: a few times the last step, so that a stage's small late steps
    // reuse one compact block.
    let mut radius = if cfg.active_set {
        RADIUS_MAX
    } else {
        f64::INFINITY
    };
    let (mut f, g) = ev.eval(&u, radius);
    let mut rg = tangent(&g, &u);
    let mut mem: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::new(); // (s, y, 1/(s'y))
    for _ in 0..cfg.iters_per_stage {
        let gn = norm(&rg);
        if gn == 0.0 || !gn.is_finite() {
            break;
        }
        // Two-loop recursion for p = −H rg.
        let mut q = rg.clone();
        let mut alphas = Vec::with_capacity(mem.len());
        for (s, y, rho) in mem.iter().rev() {
            let a = rho * dot(s, &q);
            for j in 0..d {
                q[j] -= a * y[j];
            }
            alphas.push(a);
        }
        let gamma = mem
            .last()
            .map_or(0.1 / gn, |(s, y, _)| dot(s, y) / dot(y, y).max(1e-300));
        for v in q.iter_mut() {
            *v *= gamma;
        }
        for ((s, y, rho), a) in mem.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &q);
            for j in 0..d {
                q[j] += (a - b) * s[j];
            }
        }
        let mut p: Vec<f64> = tangent(&q, &u).iter().map(|v| -v).collect();
        let mut slope = dot(&p, &rg);
        if slope.is_nan() || slope >= 0.0 {
            mem.clear();
            p = rg.iter().map(|v| -0.1 / gn * v).collect();
            slope = dot(&p, &rg);
        }
        // Steps longer than ~0.5 rad are cut: the retraction distorts them.
        let pn = norm(&p);
        let mut a = if pn > 0.5 { 0.5 / pn } else { 1.0 };
        let mut accepted = None;
        for _ in 0..30 {
            let mut cand: Vec<f64> = u.iter().zip(&p).map(|(ui, pi)| ui + a * pi).collect();
            normalize(&mut cand);
            let (fc, gc) = ev.eval(&cand, radius);
            if fc <= f + 1e-4 * a * slope {
                accepted = Some((cand, fc, gc));
                break;
            }
            a *= 0.5;
        }
        let Some((cand, fc, gc)) = accepted else {
            break;
        };
        let rg_new = tangent(&gc, &cand);
        let s = tangent(
            &cand.iter().zip(&u).map(|(p, q)| p - q).collect::<Vec<_>>(),
            &cand,
        );
        let y: Vec<f64> = rg_new
            .iter()
            .zip(tangent(&rg, &cand))
            .map(|(a, b)| a - b)
            .collect();
        let sy = dot(&s, &y);
        // Transport the memory to the new tangent space.
        for (ms, my, _) in mem.iter_mut() {
            *ms = tangent(ms, &cand);
            *my = tangent(my, &cand);
        }
        let step = norm(&s);
        if cfg.active_set {
            radius = (4.0 * step).clamp(RADIUS_MIN, RADIUS_MAX);
        }
        let decrease = f - fc;
        u = cand;
        f = fc;
        rg = rg_new;
        if sy > 1e-12 * step * norm(&y) {
            mem.push((s, y, 1.0 / sy));
            if mem.len() > cfg.memory {
                mem.remove(0);
            }
        }
        if step < min_step.max(1e-10) || decrease <= 1e-12 * f.abs().max(1e-300) {
            break;
        }
    }
    let mut dirs: Vec<Vec<f64>> = mem.into_iter().rev().map(|(s, _, _)| s).collect();
    dirs.push(rg);
    (u, ev.passes, dirs)
}

/// The 0-1 loss minimised exactly over the arc u(t) = cos t·u + sin t·e, |t| < `window`
/// (0 < window ≤ π/4), e a unit tangent at u: one fused pass computes each row's value at
/// t = −window and, for the rows whose sign changes inside the arc (critical angle
/// t_i = atan(−a_i/b_i), a_i = x_i'u, b_i = x_i'e), an event; only those are sorted. Returns
/// the midpoint of the lowest (then widest) open arc between events and its loss, or `None`
/// when no arc improves on `best`. Exact on the arc up to the rounding of the critical angles
/// (the caller re-evaluates the loss at the returned point). Rows with a tie at −window count
/// ½ there, which can only make the arc from −window look worse than it is.
fn window_sweep(
    x: &[f64],
    w: Option<&[f64]>,
    d: usize,
    u: &[f64],
    e: &[f64],
    window: f64,
    best: f64,
) -> Option<(f64, f64)> {
    let n = x.len() / d;
    let (c, s, tw) = (window.cos(), window.sin(), window.tan());
    let chunks = n.div_ceil(EVAL_CHUNK);
    let parts: Vec<(f64, Vec<(f64, f64)>)> = (0..chunks)
        .into_par_iter()
        .map(|k| {
            arc_chunk(
                x,
                w,
                d,
                u,
                e,
                (c, s, tw),
                k * EVAL_CHUNK..((k + 1) * EVAL_CHUNK).min(n),
            )
        })
        .collect();
    let mut loss = parts.iter().map(|p| p.0).sum::<f64>();
    let mut events: Vec<(f64, f64)> = parts.into_iter().flat_map(|p| p.1).collect();
    // In parallel, by angle and then by weight change: a total order on the events, so the
    // order (and the sums taken along it) is the same whatever the sort's schedule.
    events.par_sort_unstable_by(|p, q| p.0.total_cmp(&q.0).then(p.1.total_cmp(&q.1)));
    let tol = 1e-12 * loss.abs().max(1.0);
    let mut found: Option<(f64, f64, f64)> = None; // (loss, width, midpoint)
    let mut left = -window;
    for k in 0..=events.len() {
        let right = events.get(k).map_or(window, |p| p.0);
        let width = right - left;
        if width > MIN_ARC {
            let better = match found {
                None => loss < best - tol,
                Some((fl, fw, _)) => loss < fl - tol || (loss <= fl + tol && width > fw),
            };
            if better {
                found = Some((loss, width, 0.5 * (left + right)));
            }
        }
        if let Some(p) = events.get(k) {
            loss += p.1;
            left = p.0;
        }
    }
    found.map(|(l, _, t)| (t, l))
}

avx2_dispatch! {
/// One chunk of [`window_sweep`]'s pass: the weighted 0-1 loss of rows `rows` at
/// t = −window (`cst` = (cos, sin, tan) of the window) and the events of the rows whose sign
/// changes inside the arc. AVX2 code where the CPU has it (the same operations, wider: the
/// portable build's bits, tested).
fn arc_chunk / arc_chunk_portable(
    x: &[f64],
    w: Option<&[f64]>,
    d: usize,
    u: &[f64],
    e: &[f64],
    cst: (f64, f64, f64),
    rows: std::ops::Range<usize>,
) -> (f64, Vec<(f64, f64)>) {
    by_width!(d, wd => arc_chunk_in(wd, x, w, u, e, cst, rows))
}
}

/// The body of [`arc_chunk`], for d a constant or not ([`by_width!`]: the same bits).
#[inline(always)]
fn arc_chunk_in<W: Width>(
    wd: W,
    x: &[f64],
    w: Option<&[f64]>,
    u: &[f64],
    e: &[f64],
    cst: (f64, f64, f64),
    rows: std::ops::Range<usize>,
) -> (f64, Vec<(f64, f64)>) {
    let d = wd.d();
    let (u, e) = (&u[..d], &e[..d]);
    let (c, s, tw) = cst;
    let mut l0 = 0.0;
    let mut ev = Vec::new();
    for i in rows {
        let xi = &x[i * d..(i + 1) * d];
        let wi = w.map_or(1.0, |w| w[i]);
        let (a, b) = (dot_lanes(xi, u), dot_lanes(xi, e));
        let v = a * c - b * s;
        // Branch-free (adding 0.0 leaves the sum's bits as they are).
        l0 += if v < 0.0 {
            wi
        } else if v == 0.0 {
            0.5 * wi
        } else {
            0.0
        };
        if b != 0.0 && a.abs() < b.abs() * tw {
            // Crossing t_i upwards the row turns right when b > 0, wrong when b < 0.
            ev.push(((-a / b).atan(), if b > 0.0 { -wi } else { wi }));
        }
    }
    (l0, ev)
}

/// Great-circle 0-1 polish along the given directions (made tangent at the current point
/// before each sweep). Each move minimises the 0-1 loss exactly over an arc of half-width
/// `window` ([`window_sweep`]; the whole circle, [`circle_step`], when window ≥ π/4) and is
/// kept only when the direct evaluation is strictly lower. Returns (direction, loss, sweeps).
fn polish_along(
    x: &[f64],
    w: Option<&[f64]>,
    d: usize,
    u0: &[f64],
    dirs: &[Vec<f64>],
    rounds: u32,
    window: f64,
) -> (Vec<f64>, f64, u64) {
    let n = x.len() / d;
    let mut u = u0.to_vec();
    let mut best = loss_signed(x, w, d, &u);
    let mut sweeps = 0;
    let (mut a, mut b) = if window < FRAC_PI_4 {
        (Vec::new(), Vec::new())
    } else {
        (vec![0.0; n], vec![0.0; n])
    };
    for _ in 0..rounds {
        let mut improved = false;
        for e0 in dirs {
            let mut e = tangent(e0, &u);
            if !normalize(&mut e) || dot(&e, &u).abs() > 1e-9 {
                continue;
            }
            sweeps += 1;
            let step = if window < FRAC_PI_4 {
                window_sweep(x, w, d, &u, &e, window, best).and_then(|(t, _)| {
                    let mut v: Vec<f64> = u
                        .iter()
                        .zip(&e)
                        .map(|(p, q)| t.cos() * p + t.sin() * q)
                        .collect();
                    normalize(&mut v);
                    let l = loss_signed(x, w, d, &v);
                    (l < best).then_some((v, l))
                })
            } else {
                circle_step(x, w, d, &u, &e, best, &mut a, &mut b, dot_lanes)
            };
            if let Some((v, l)) = step {
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

pub(crate) fn anneal_fit(data: &Comparisons, cfg: &AnnealConfig) -> Result<Fit, FitError> {
    anneal_fit_from(data, cfg, None)
}

/// [`anneal_fit`] with the bt start given: `bt_start`, when present, must be the direction
/// `Bt { solver: cfg.start_solver, ..Bt::default() }` fits on `data` (a caller that has
/// already fitted it saves the second fit; the result is the same bit for bit).
pub(crate) fn anneal_fit_from(
    data: &Comparisons,
    cfg: &AnnealConfig,
    bt_start: Option<Vec<f64>>,
) -> Result<Fit, FitError> {
    if !(cfg.h_start > 0.0
        && cfg.h_end > 0.0
        && cfg.h_end <= cfg.h_start
        && cfg.stages >= 1
        && cfg.full_stages <= cfg.stages
        && cfg.memory >= 1
        && cfg.paths >= 1
        && cfg.subsample >= 1
        && cfg.polish_window > 0.0
        && cfg.cut > 0.0
        && cfg.stage_tol >= 0.0)
    {
        return Err(FitError::Config(
            "anneal: need 0 < h_end <= h_start, 1 <= stages, full_stages <= stages, memory >= 1, subsample >= 1, polish_window > 0, cut > 0, stage_tol >= 0".into(),
        ));
    }
    let d = data.d();
    let x = data.signed_rows();
    let w = data.weights();
    if x.iter().all(|v| *v == 0.0) {
        return Err(FitError::Degenerate("every comparison has z = 0".into()));
    }
    let clock = std::time::Instant::now();
    let mut notes = Vec::new();
    // Starts: bt and the mean signed row; the better by 0-1 loss is annealed, with any
    // random starts.
    let mut fixed: Vec<Vec<f64>> = Vec::new();
    let bt = Bt {
        solver: cfg.start_solver,
        ..Bt::default()
    };
    match bt_start.map_or_else(|| bt.fit(data).map(|f| f.direction), Ok) {
        Ok(u) => fixed.push(u),
        Err(e) => notes.push(format!("bt start unavailable: {e}")),
    }
    let mean: Vec<f64> = (0..d)
        .map(|m| x.chunks_exact(d).map(|r| r[m]).sum())
        .collect();
    if let Some(u) = normalized(&mean) {
        fixed.push(u);
    }
    let scored: Vec<(Vec<f64>, f64)> = fixed
        .into_iter()
        .map(|u| {
            let l = loss_signed(&x, w, d, &u);
            (u, l)
        })
        .collect();
    let mut best: (Vec<f64>, f64) = scored
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .cloned()
        .ok_or_else(|| FitError::Degenerate("no start direction".into()))?;
    let mut starts = vec![best.0.clone()];
    let mut rng = signest_core::seed::solver_rng(cfg.seed);
    notes.push(format!(
        "starts ready: {:.3} s",
        clock.elapsed().as_secs_f64()
    ));
    let n = x.len() / d;
    let k = cfg.stages;
    let may_subsample = k - cfg.full_stages;
    let scale = |xs: &[f64], u: &[f64]| {
        let m = xs.len() / d;
        let s = xs.chunks_exact(d).map(|r| dot(r, u).abs()).sum::<f64>() / m as f64;
        if s > 0.0 { s } else { 1.0 }
    };
    let s_full = scale(&x, &starts[0]);
    let rel_h = |i: u32| {
        let t = if k == 1 {
            1.0
        } else {
            i as f64 / (k - 1) as f64
        };
        cfg.h_start * (cfg.h_end / cfg.h_start).powf(t)
    };
    let h_of = |i: u32| s_full * rel_h(i);
    // Rows of stage i: `subsample` at the first bandwidth, growing like 1/h (the rows near
    // the decision boundary, which carry the smoothed gradient, stay about as many), all rows
    // once that reaches n and in the last `full_stages` stages.
    let rows_of = |i: u32| -> usize {
        if i >= may_subsample {
            return n;
        }
        let m = cfg.subsample as f64 * cfg.h_start / rel_h(i);
        if m >= n as f64 { n } else { m as usize }
    };
    let norms = row_norms(&x, d);
    // Stages `from..to` from u on subsample path p (all rows where rows_of says so): the end
    // point, full-data-equivalent passes, and the last stage's steps and gradient.
    let run_stages = |u0: &[f64], from: u32, to: u32, p: usize| {
        let mut u = u0.to_vec();
        let mut passes = 0.0;
        let mut dirs = Vec::new();
        for i in from..to {
            let sub = subsample(&x, w, d, rows_of(i), p, cfg.paths.max(1));
            let (xs, ws): (&[f64], Option<&[f64]>) = match &sub {
                Some((xs, ws)) => (xs, ws.as_deref()),
                None => (&x, w),
            };
            let sub_norms = sub.as_ref().map(|(xs, _)| row_norms(xs, d));
            let ns = sub_norms.as_deref().unwrap_or(&norms);
            // Every stage but the last may stop at steps that are short against its bandwidth
            // (the next, narrower one moves the point anyway).
            let min_step = if i + 1 < k {
                cfg.stage_tol * rel_h(i) / (d as f64).sqrt()
            } else {
                0.0
            };
            let (v, ps, ds) = lbfgs_stage(xs, ws, d, ns, &u, h_of(i), min_step, cfg);
            passes += ps * (xs.len() / d) as f64 / n as f64;
            u = v;
            dirs = ds;
        }
        (u, passes, dirs)
    };
    // Polish directions: the given steps and, in low dimension, the axes.
    let with_axes = |mut dirs: Vec<Vec<f64>>| {
        if d <= 16 {
            for j in 0..d {
                let mut e = vec![0.0; d];
                e[j] = 1.0;
                dirs.push(e);
            }
        }
        dirs
    };
    let mut passes = 0.0f64;
    let mut sweeps = 0u64;
    if n <= cfg.subsample {
        // Small problem: restarts are cheap and pay. Every start runs the whole schedule on
        // all rows (random start j entering at stage j mod stages: large bandwidths pull
        // every start into one basin) and is polished; the lowest 0-1 loss wins (start order
        // breaks ties, so the result does not depend on the thread count).
        let mut entries = vec![0u32];
        starts.truncate(1);
        for j in 0..cfg.random_starts {
            let mut v: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
            if normalize(&mut v) {
                starts.push(v);
                entries.push(j % k);
            }
        }
        let done: Vec<(Vec<f64>, f64, f64, u64)> = starts
            .par_iter()
            .zip(&entries)
            .map(|(s0, &e)| {
                let (u, ps, dirs) = run_stages(s0, e, k, 0);
                let (v, l, sw) = polish_along(
                    &x,
                    w,
                    d,
                    &u,
                    &with_axes(dirs),
                    cfg.polish_rounds,
                    std::f64::consts::FRAC_PI_2,
                );
                (v, l, ps, sw)
            })
            .collect();
        for (v, l, ps, sw) in done {
            passes += ps;
            sweeps += sw;
            if l < best.1 {
                best = (v, l);
            }
        }
        notes.push(format!(
            "{} starts annealed on all rows and polished: {:.3} s",
            starts.len(),
            clock.elapsed().as_secs_f64()
        ));
    } else {
        // Large problem: the best fixed start explores the stages before the last
        // `full_stages` on `paths` different subsamples in parallel; the end point with the
        // lowest full-data 0-1 loss (job order breaks ties) anneals on all rows and is
        // polished. Random starts are not used (they would multiply the cost).
        if cfg.random_starts > 0 {
            notes.push(format!(
                "random starts not used: n = {n} > subsample = {}",
                cfg.subsample
            ));
        }
        let explored: Vec<(Vec<f64>, f64, f64)> = (0..cfg.paths.max(1))
            .into_par_iter()
            .map(|p| {
                let (u, ps, _) = run_stages(&starts[0], 0, may_subsample, p);
                let l = loss_signed(&x, w, d, &u);
                (u, ps, l)
            })
            .collect();
        let mut u = starts[0].clone();
        let mut lu = f64::INFINITY;
        for (v, ps, l) in explored {
            passes += ps;
            if l < lu {
                u = v;
                lu = l;
            }
        }
        if lu < best.1 {
            best = (u.clone(), lu);
        }
        notes.push(format!(
            "explored {} paths: {:.3} s",
            cfg.paths.max(1),
            clock.elapsed().as_secs_f64()
        ));
        let (u, ps, dirs) = run_stages(&u, may_subsample, k, 0);
        passes += ps;
        let la = loss_signed(&x, w, d, &u);
        if la < best.1 {
            best = (u.clone(), la);
        }
        notes.push(format!(
            "annealed on all rows: {:.3} s, 0-1 loss {la}",
            clock.elapsed().as_secs_f64()
        ));
        let (v, lv, sw) = polish_along(
            &x,
            w,
            d,
            &best.0,
            &with_axes(dirs),
            cfg.polish_rounds,
            cfg.polish_window,
        );
        sweeps += sw;
        if lv < best.1 {
            best = (v, lv);
        }
    }
    notes.push(format!(
        "done: {:.3} s; {passes:.1} passes over the rows (full-data equivalents), {sweeps} great-circle sweeps",
        clock.elapsed().as_secs_f64()
    ));
    let achieved = signest_core::metrics::loss01(data, &best.0).weighted;
    Ok(Fit {
        estimator: "sign",
        solver: "anneal",
        direction: best.0,
        coefficients: None,
        status: Status::Heuristic,
        iterations: passes.round() as u64,
        objective: achieved,
        certificate: None,
        fit_seconds: 0.0,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn loss_at(x: &[f64], t: f64) -> f64 {
        // d = 2, u = e1, e = e2: the row's value at angle t is x0 cos t + x1 sin t.
        x.chunks_exact(2)
            .map(|r| {
                let v = r[0] * t.cos() + r[1] * t.sin();
                if v < 0.0 {
                    1.0
                } else if v == 0.0 {
                    0.5
                } else {
                    0.0
                }
            })
            .sum()
    }

    proptest! {
        /// The arc sweep against an independent enumeration: the minimum over the midpoints
        /// of all arcs between the critical angles inside the window (computed here from
        /// the rows' own atan2), and the loss at the returned angle evaluated directly.
        #[test]
        fn window_sweep_finds_the_minimum_on_its_arc(
            rows in prop::collection::vec((-1.0f64..1.0, -1.0f64..1.0), 1..60),
            window in 0.01f64..0.78,
        ) {
            let x: Vec<f64> = rows.iter().flat_map(|&(a, b)| [a, b]).collect();
            let mut crit: Vec<f64> = rows
                .iter()
                .flat_map(|&(a, b)| {
                    let phi = b.atan2(a);
                    [phi + std::f64::consts::FRAC_PI_2, phi - std::f64::consts::FRAC_PI_2]
                })
                .map(|t| (t + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI)
                .filter(|t| t.abs() < window)
                .collect();
            crit.push(-window);
            crit.push(window);
            crit.sort_by(f64::total_cmp);
            let brute = crit
                .windows(2)
                .filter(|p| p[1] - p[0] > 1e-9)
                .map(|p| loss_at(&x, 0.5 * (p[0] + p[1])))
                .fold(f64::INFINITY, f64::min);
            let got = window_sweep(&x, None, 2, &[1.0, 0.0], &[0.0, 1.0], window, f64::INFINITY);
            let (t, l) = got.expect("some arc beats an infinite loss");
            prop_assert!(t.abs() < window);
            prop_assert_eq!(l, brute);
            prop_assert_eq!(loss_at(&x, t), brute);
            // Nothing is returned when no arc beats the given loss.
            prop_assert!(window_sweep(&x, None, 2, &[1.0, 0.0], &[0.0, 1.0], window, brute).is_none());
        }
    }

    /// n × d standard normal entries from the test stream (seed, key).
    fn gaussian_rows(seed: u64, key: &str, n: usize, d: usize) -> Vec<f64> {
        let mut rng = signest_core::seed::stream(seed, key, 0);
        (0..n * d)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect()
    }

    /// The blocked pass (AVX2 and portable builds) is the row-by-row one bit for bit: with
    /// and without weights, at bandwidths that put no row, some rows and every row in the
    /// band, on row ranges that start and end inside a block, and at the default and a
    /// smaller cut.
    #[test]
    fn blocked_pass_equals_the_row_by_row_pass_bit_for_bit() {
        let (n, d) = (1_000, 7);
        let x = gaussian_rows(5, "anneal/blocks", n, d);
        let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 7) as f64 / 3.0).collect();
        let u = normalized(&[1.0, -0.5, 0.25, 0.0, 2.0, -1.0, 0.1]).unwrap();
        let mut in_band = Vec::new();
        for h in [1e-6, 1e-2, 1e3] {
            for cut in [CUT, 12.0] {
                for rows in [0..n, 5..n - 3, 63..65, 0..0] {
                    for wt in [None, Some(&w[..])] {
                        let b = smoothed_rows_reference(&x, wt, d, &u, h, cut, rows.clone());
                        // The dispatched build (AVX2 where the CPU has it) and the portable one.
                        for a in [
                            smoothed_rows(&x, wt, d, &u, h, cut, rows.clone()),
                            smoothed_rows_portable(&x, wt, d, &u, h, cut, rows.clone()),
                        ] {
                            assert_eq!(a.0.to_bits(), b.0.to_bits(), "h {h} cut {cut} {rows:?}");
                            for (p, q) in a.1.iter().zip(&b.1) {
                                assert_eq!(p.to_bits(), q.to_bits(), "h {h} cut {cut} {rows:?}");
                            }
                        }
                    }
                }
                let band = x
                    .chunks_exact(d)
                    .filter(|r| (dot_lanes(r, &u) / h).abs() <= cut)
                    .count();
                in_band.push(band);
            }
        }
        // Construction: the bandwidths cover no row, some rows and every row in the band.
        assert!(in_band.contains(&0) && in_band.contains(&n), "{in_band:?}");
        assert!(in_band.iter().any(|&b| b > 0 && b < n), "{in_band:?}");
    }

    /// `by_width!`'s unrolled copies (d = 2..=16) of the smoothed pass, the arc pass and the
    /// 0-1 loss give the general copy's bits, at every d it unrolls and one either side.
    #[test]
    fn the_unrolled_copies_give_the_general_copys_bits() {
        use crate::numeric::Any;
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for d in 1..=17 {
            let n = 700;
            let x = gaussian_rows(7, "anneal/widths", n, d);
            let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 3) as f64 / 4.0).collect();
            let u = normalized(&x[..d]).unwrap();
            let mut e = tangent(&x[d..2 * d], &u);
            if d > 1 {
                normalize(&mut e);
            }
            for wt in [None, Some(&w[..])] {
                let a = smoothed_rows(&x, wt, d, &u, 0.3, CUT, 3..n - 2);
                let b = smoothed_rows_in(Any(d), &x, wt, &u, 0.3, CUT, 3..n - 2);
                assert_eq!(a.0.to_bits(), b.0.to_bits(), "smoothed loss at d = {d}");
                assert_eq!(bits(&a.1), bits(&b.1), "smoothed gradient at d = {d}");
                let cst = (0.2f64.cos(), 0.2f64.sin(), 0.2f64.tan());
                let a = arc_chunk(&x, wt, d, &u, &e, cst, 1..n);
                let b = arc_chunk_in(Any(d), &x, wt, &u, &e, cst, 1..n);
                assert_eq!(a.0.to_bits(), b.0.to_bits(), "arc loss at d = {d}");
                // Construction: from d = 2 on, some rows change sign on the arc, so the
                // events are compared, not two empty lists.
                assert!(d == 1 || !b.1.is_empty(), "no events at d = {d}");
                let flat = |v: &[(f64, f64)]| v.iter().flat_map(|p| [p.0, p.1]).collect::<Vec<_>>();
                assert_eq!(
                    bits(&flat(&a.1)),
                    bits(&flat(&b.1)),
                    "arc events at d = {d}"
                );
                let row_loop: f64 = x
                    .chunks_exact(d)
                    .enumerate()
                    .map(|(i, r)| {
                        let (m, wi) = (dot_lanes(r, &u), wt.map_or(1.0, |w| w[i]));
                        if m < 0.0 {
                            wi
                        } else if m == 0.0 {
                            0.5 * wi
                        } else {
                            0.0
                        }
                    })
                    .fold(0.0, |a, b| a + b);
                assert_eq!(
                    loss_signed(&x, wt, d, &u).to_bits(),
                    row_loop.to_bits(),
                    "0-1 loss at d = {d}"
                );
            }
        }
    }

    /// The arc pass of `window_sweep`: the dispatched build (AVX2 where the CPU has it) gives
    /// the portable build's loss and events bit for bit.
    #[test]
    fn arc_chunk_builds_agree_bit_for_bit() {
        let (n, d) = (3_000, 13);
        let x = gaussian_rows(6, "anneal/arc", n, d);
        let w: Vec<f64> = (0..n).map(|i| 0.25 + (i % 5) as f64 / 7.0).collect();
        let u = normalized(&x[..d]).unwrap();
        let e = normalized(&tangent(&x[d..2 * d], &u)).unwrap();
        for window in [0.01f64, 0.1, 0.7] {
            let cst = (window.cos(), window.sin(), window.tan());
            for wt in [None, Some(&w[..])] {
                let a = arc_chunk(&x, wt, d, &u, &e, cst, 7..n - 5);
                let b = arc_chunk_portable(&x, wt, d, &u, &e, cst, 7..n - 5);
                assert_eq!(a.0.to_bits(), b.0.to_bits());
                assert_eq!(a.1.len(), b.1.len());
                assert!(
                    !b.1.is_empty(),
                    "construction: some rows change sign on the arc"
                );
                for (p, q) in a.1.iter().zip(&b.1) {
                    assert_eq!(
                        (p.0.to_bits(), p.1.to_bits()),
                        (q.0.to_bits(), q.1.to_bits())
                    );
                }
            }
        }
    }

    /// The active-set evaluation equals the full pass (up to summation order) for points
    /// inside its ball, at a bandwidth where most rows are outside the band.
    #[test]
    fn active_set_evaluation_equals_the_full_pass() {
        let (n, d) = (20_000, 6);
        let x = gaussian_rows(3, "anneal/active", n, d);
        let norms = row_norms(&x, d);
        let u0 = normalized(&[1.0, 0.5, 0.0, 0.0, -0.2, 0.1]).unwrap();
        let h = 1e-3;
        let mut ev = Evaluator::new(&x, None, d, h, CUT, &norms);
        let radius = 1e-3;
        let (f0, _) = ev.eval(&u0, radius);
        let block = ev
            .active
            .as_ref()
            .unwrap()
            .block
            .as_ref()
            .map(|b| b.0.len() / d);
        let active_rows = block.expect("a compact block at this bandwidth");
        assert!(active_rows < n / 4, "{active_rows} active rows");
        let u1 = normalized(&[1.0, 0.5004, 0.0003, 0.0, -0.2, 0.1]).unwrap();
        let dist = u0
            .iter()
            .zip(&u1)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(dist < radius);
        for u in [&u0, &u1] {
            let (fa, ga) = ev.eval(u, radius);
            let (ff, gf) = smoothed(&x, None, d, u, h, CUT);
            assert!((fa - ff).abs() <= 1e-9 * ff, "{fa} vs {ff}");
            for (a, b) in ga.iter().zip(&gf) {
                assert!((a - b).abs() <= 1e-9 * gf.iter().map(|v| v.abs()).fold(0.0, f64::max));
            }
        }
        assert_eq!(f0, ev.eval(&u0, radius).0);
    }
}
