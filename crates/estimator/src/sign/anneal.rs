//! `sign`, solver `anneal`: the smoothed maximum score annealed by L-BFGS on the sphere, for
//! high dimension (tens to hundreds of features) and large n.
//!
//! Minimises `S_h(u) = Σ w_i σ(−x_i'u / h)` (x_i = y_i z_i) over unit u for a geometric
//! schedule of bandwidths h from `h_start·s` to `h_end·s` (s the mean |x_i'u| at the start),
//! each by Riemannian L-BFGS (tangent-space two-loop recursion, vector transport by
//! projection, Armijo backtracking on the retraction u ← (u + a p)/|u + a p|). The first
//! `stages − full_stages` bandwidths run on a fixed subsample (every k-th row, at most
//! `subsample` rows), the rest on all rows. Each pass computes the loss and its gradient in
//! one sweep over the rows (`smooth::smoothed`), so a fit costs a few hundred passes.
//!
//! Then an exact 0-1 polish along *informative* great circles — through u and each of the
//! last L-BFGS steps, the last smoothed gradients, and (d ≤ 16) the coordinate axes — each
//! minimised exactly by the circle sweep; a move is kept only when it strictly lowers the 0-1
//! loss. Coordinate-axis polish (the `smooth` solver's) costs d sorts of n per round, which
//! is what made `smooth` slow at high d.
//!
//! Starts: the `bt` direction and the mean signed row (the one with the lower 0-1 loss is
//! annealed), plus `random_starts` uniform directions from the solver's own stream. The
//! returned direction is the one of lowest 0-1 loss among the starts, the annealed and the
//! polished points.
//!
//! Guarantee: heuristic. The reported objective is the achieved 0-1 loss (direct evaluation).

use super::smooth::smoothed;
use super::{circle_step, loss_signed, subsample};
use crate::{Bt, Estimator, Fit, FitError, Status};
use rand::distr::Distribution;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use signest_core::Comparisons;
use signest_core::linalg::{dot, norm, normalize, normalized};

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
    /// Rows of the subsample used by the first stages.
    pub subsample: usize,
    /// Rounds of great-circle 0-1 polish (a round without improvement ends it).
    pub polish_rounds: u32,
    /// Exploration paths: the first stages are annealed from the start on this many
    /// different subsamples (rows i ≡ offset mod step), in parallel; the path whose end point
    /// has the lowest full-data 0-1 loss continues on all rows. 1 when n fits the subsample.
    pub paths: usize,
    /// Random starts besides bt and the mean signed row (each annealed on the first path's
    /// subsample and compared like a path).
    pub random_starts: u32,
    /// Seed of the solver's own stream (random starts).
    pub seed: u64,
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
            subsample: 200_000,
            polish_rounds: 3,
            paths: 1,
            random_starts: 0,
            seed: 0,
        }
    }
}

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
    u0: &[f64],
    h: f64,
    cfg: &AnnealConfig,
) -> (Vec<f64>, u64, Vec<Vec<f64>>) {
    let mut u = u0.to_vec();
    let (mut f, g) = smoothed(x, w, d, &u, h);
    let mut passes = 1u64;
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
            let (fc, gc) = smoothed(x, w, d, &cand, h);
            passes += 1;
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
        if step < 1e-10 || decrease <= 1e-12 * f.abs().max(1e-300) {
            break;
        }
    }
    let mut dirs: Vec<Vec<f64>> = mem.into_iter().rev().map(|(s, _, _)| s).collect();
    dirs.push(rg);
    (u, passes, dirs)
}

/// Great-circle 0-1 polish along the given directions (made tangent at the current point
/// before each sweep; each move is [`circle_step`]). Returns (direction, loss, sweeps run).
fn polish_along(
    x: &[f64],
    w: Option<&[f64]>,
    d: usize,
    u0: &[f64],
    dirs: &[Vec<f64>],
    rounds: u32,
) -> (Vec<f64>, f64, u64) {
    let n = x.len() / d;
    let mut u = u0.to_vec();
    let mut best = loss_signed(x, w, d, &u);
    let mut sweeps = 0;
    let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
    for _ in 0..rounds {
        let mut improved = false;
        for e0 in dirs {
            let mut e = tangent(e0, &u);
            if !normalize(&mut e) || dot(&e, &u).abs() > 1e-9 {
                continue;
            }
            sweeps += 1;
            if let Some((v, l)) = circle_step(x, w, d, &u, &e, best, &mut a, &mut b) {
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
    if !(cfg.h_start > 0.0
        && cfg.h_end > 0.0
        && cfg.h_end <= cfg.h_start
        && cfg.stages >= 1
        && cfg.full_stages <= cfg.stages
        && cfg.memory >= 1
        && cfg.paths >= 1
        && cfg.subsample >= 1)
    {
        return Err(FitError::Config(
            "anneal: need 0 < h_end <= h_start, 1 <= stages, full_stages <= stages, memory >= 1, subsample >= 1".into(),
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
    match (Bt::default()).fit(data) {
        Ok(f) => fixed.push(f.direction),
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
    for _ in 0..cfg.random_starts {
        let mut v: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
        if normalize(&mut v) {
            starts.push(v);
        }
    }
    notes.push(format!(
        "starts ready: {:.3} s",
        clock.elapsed().as_secs_f64()
    ));
    let n = x.len() / d;
    let k = cfg.stages;
    let explore = (k - cfg.full_stages) as usize;
    let subsampled = n.div_ceil(cfg.subsample.max(1)) > 1;
    // (start index, subsample path): the best fixed start on `paths` subsamples, each random
    // start on the first.
    let mut jobs: Vec<(usize, usize)> = (0..if subsampled { cfg.paths.max(1) } else { 1 })
        .map(|p| (0, p))
        .collect();
    jobs.extend((1..starts.len()).map(|s| (s, 0)));
    let scale = |xs: &[f64], u: &[f64]| {
        let m = xs.len() / d;
        let s = xs.chunks_exact(d).map(|r| dot(r, u).abs()).sum::<f64>() / m as f64;
        if s > 0.0 { s } else { 1.0 }
    };
    let s_full = scale(&x, &starts[0]);
    let h_of = |i: u32| {
        let t = if k == 1 {
            1.0
        } else {
            i as f64 / (k - 1) as f64
        };
        s_full * cfg.h_start * (cfg.h_end / cfg.h_start).powf(t)
    };
    // Exploration: independent paths in parallel, compared in job order (deterministic).
    let explored: Vec<(Vec<f64>, u64, f64)> = jobs
        .par_iter()
        .map(|&(si, p)| {
            let mut u = starts[si].clone();
            let mut passes = 0;
            if explore > 0 {
                let sub = subsample(&x, w, d, cfg.subsample, p, cfg.paths.max(1));
                let (xs, ws): (&[f64], Option<&[f64]>) = match &sub {
                    Some((xs, ws)) => (xs, ws.as_deref()),
                    None => (&x, w),
                };
                for i in 0..explore as u32 {
                    let (v, ps, _) = lbfgs_stage(xs, ws, d, &u, h_of(i), cfg);
                    passes += ps;
                    u = v;
                }
            }
            let l = loss_signed(&x, w, d, &u);
            (u, passes, l)
        })
        .collect();
    let mut passes = 0u64;
    let mut sweeps = 0u64;
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
        jobs.len(),
        clock.elapsed().as_secs_f64()
    ));
    // The remaining bandwidths on all rows, from the best path.
    let mut dirs = Vec::new();
    for i in explore as u32..k {
        let (v, ps, ds) = lbfgs_stage(&x, w, d, &u, h_of(i), cfg);
        passes += ps;
        u = v;
        dirs = ds; // the last stage's steps and gradient
    }
    let la = loss_signed(&x, w, d, &u);
    if la < best.1 {
        best = (u.clone(), la);
    }
    notes.push(format!(
        "annealed on all rows: {:.3} s, 0-1 loss {la}",
        clock.elapsed().as_secs_f64()
    ));
    // Polish from the best point along the last stage's steps and gradient and, in low
    // dimension, the axes.
    if d <= 16 {
        for j in 0..d {
            let mut e = vec![0.0; d];
            e[j] = 1.0;
            dirs.push(e);
        }
    }
    let (v, lv, sw) = polish_along(&x, w, d, &best.0, &dirs, cfg.polish_rounds);
    sweeps += sw;
    if lv < best.1 {
        best = (v, lv);
    }
    notes.push(format!(
        "annealed and polished: {:.3} s; {passes} passes over the rows, {sweeps} great-circle sweeps",
        clock.elapsed().as_secs_f64()
    ));
    let achieved = signest_core::metrics::loss01(data, &best.0).weighted;
    Ok(Fit {
        estimator: "sign",
        solver: "anneal",
        direction: best.0,
        coefficients: None,
        status: Status::Heuristic,
        iterations: passes,
        objective: achieved,
        certificate: None,
        fit_seconds: 0.0,
        notes,
    })
}
