//! `sign`, solver `smooth`: Horowitz's smoothed maximum score on the unit sphere, annealed.
//!
//! Minimises `S_h(u) = Σ w_i σ(−x_i'u / h)` (σ the logistic sigmoid, x_i = y_i z_i) over unit
//! u by Riemannian gradient descent with an Armijo line search, for a geometric schedule of
//! bandwidths h from `h_start·s` down to `h_end·s`, where s is the mean |x_i'u| at the start.
//!
//! Starts: the `bt` direction, the mean signed row, and `random_starts` uniform directions
//! drawn from the solver's own stream ([`signest_core::seed::solver_rng`] of `seed`); random
//! start j skips the first `j mod stages` bandwidths (large bandwidths pull every start into
//! one basin). Each start is annealed on a fixed subsample (every k-th row, at most `subsample` rows); the best
//! by full-data 0-1 loss is annealed again on all rows over the last `full_stages` bandwidths,
//! then polished on the exact 0-1 loss by great-circle sweeps ([`super::polish`]). When all
//! rows fit in the subsample, every annealed start is polished and the best is kept.
//!
//! Guarantee: heuristic. The reported objective is the achieved 0-1 loss (direct evaluation).

use super::{loss_signed, polish};
use crate::numeric::sigmoid;
use crate::par::{add_into, map_reduce};
use crate::{Bt, Estimator, Fit, FitError, Status};
use rand::distr::Distribution;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use signest_core::Comparisons;
use signest_core::linalg::{dot, norm, normalize, normalized};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmoothConfig {
    /// First bandwidth, relative to the mean |x'u| at the start.
    pub h_start: f64,
    /// Last bandwidth, same units.
    pub h_end: f64,
    /// Number of bandwidths in the geometric schedule.
    pub stages: u32,
    /// Gradient steps per bandwidth at most.
    pub iters_per_stage: u32,
    /// Random starts besides `bt` and the mean signed row.
    pub random_starts: u32,
    /// Seed of the solver's own stream (random starts).
    pub seed: u64,
    /// Rows used to anneal the starts (all rows when n is smaller).
    pub subsample: usize,
    /// Final stages re-run on all rows.
    pub full_stages: u32,
    /// Rounds of great-circle 0-1 polish (each start is polished when n <= `subsample`; a
    /// round without improvement ends it early).
    pub polish_rounds: u32,
    /// Rounds of polish, on the best candidate only, when n > `subsample`.
    pub polish_rounds_large: u32,
}

impl Default for SmoothConfig {
    fn default() -> Self {
        SmoothConfig {
            h_start: 1.0,
            h_end: 1e-3,
            stages: 8,
            iters_per_stage: 40,
            random_starts: 8,
            seed: 0,
            subsample: 50_000,
            full_stages: 3,
            polish_rounds: 10,
            polish_rounds_large: 1,
        }
    }
}

/// S_h and its Euclidean gradient at u.
pub(crate) fn smoothed(
    x: &[f64],
    w: Option<&[f64]>,
    d: usize,
    u: &[f64],
    h: f64,
) -> (f64, Vec<f64>) {
    map_reduce(
        x.len() / d,
        |rows| {
            let mut f = 0.0;
            let mut g = vec![0.0; d];
            for i in rows {
                let xi = &x[i * d..(i + 1) * d];
                let wi = w.map_or(1.0, |w| w[i]);
                let s = sigmoid(-dot(xi, u) / h);
                f += wi * s;
                let c = -wi * s * (1.0 - s) / h;
                for j in 0..d {
                    g[j] += c * xi[j];
                }
            }
            (f, g)
        },
        |(f1, g1), (f2, g2)| (f1 + f2, add_into(g1, g2)),
    )
    .expect("n > 0")
}

/// Anneals from u over the bandwidths `hs`; returns the final direction and steps taken.
fn anneal(
    x: &[f64],
    w: Option<&[f64]>,
    d: usize,
    u0: &[f64],
    hs: &[f64],
    iters: u32,
) -> (Vec<f64>, u64) {
    let mut u = u0.to_vec();
    let mut steps = 0;
    for &h in hs {
        let (mut f, mut g) = smoothed(x, w, d, &u, h);
        let mut alpha: Option<f64> = None;
        for _ in 0..iters {
            // Riemannian gradient: the tangential part of g.
            let gu = dot(&g, &u);
            let rg: Vec<f64> = g.iter().zip(&u).map(|(gi, ui)| gi - gu * ui).collect();
            let rn = norm(&rg);
            if rn == 0.0 || !rn.is_finite() {
                break;
            }
            // First step of a stage moves about 0.1 rad; later steps start from twice the last.
            let mut a = alpha.map_or(0.1 / rn, |a| 2.0 * a).min(0.5 / rn);
            let mut moved = false;
            for _ in 0..40 {
                let mut cand: Vec<f64> = u.iter().zip(&rg).map(|(ui, gi)| ui - a * gi).collect();
                normalize(&mut cand);
                let (fc, gc) = smoothed(x, w, d, &cand, h);
                if fc <= f - 1e-4 * a * rn * rn {
                    let step = norm(&cand.iter().zip(&u).map(|(p, q)| p - q).collect::<Vec<_>>());
                    u = cand;
                    f = fc;
                    g = gc;
                    moved = step > 1e-6;
                    break;
                }
                a *= 0.5;
            }
            steps += 1;
            alpha = Some(a);
            if !moved {
                break;
            }
        }
    }
    (u, steps)
}

pub(crate) fn smooth_fit(data: &Comparisons, cfg: &SmoothConfig) -> Result<Fit, FitError> {
    if !(cfg.h_start > 0.0
        && cfg.h_end > 0.0
        && cfg.h_end <= cfg.h_start
        && cfg.stages >= 1
        && cfg.subsample >= 1)
    {
        return Err(FitError::Config(
            "smooth: need 0 < h_end <= h_start, stages >= 1, subsample >= 1".into(),
        ));
    }
    let d = data.d();
    let x = data.signed_rows();
    let w = data.weights();
    if x.iter().all(|v| *v == 0.0) {
        return Err(FitError::Degenerate("every comparison has z = 0".into()));
    }
    // Starts.
    let mut starts: Vec<Vec<f64>> = Vec::new();
    let mut notes = Vec::new();
    match Bt::default().fit(data) {
        Ok(f) => starts.push(f.direction),
        Err(e) => notes.push(format!("bt start unavailable: {e}")),
    }
    let mean: Vec<f64> = (0..d)
        .map(|m| x.chunks_exact(d).map(|r| r[m]).sum())
        .collect();
    if let Some(u) = normalized(&mean) {
        starts.push(u);
    }
    let mut rng = signest_core::seed::solver_rng(cfg.seed);
    for _ in 0..cfg.random_starts {
        let mut v: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
        if normalize(&mut v) {
            starts.push(v);
        }
    }
    // Subsample: every k-th row (all rows when they fit).
    let sub = super::subsample(&x, w, d, cfg.subsample, 0, 1);
    let small = sub.is_none();
    let (xs, ws): (&[f64], Option<&[f64]>) = match &sub {
        Some((xs, ws)) => (xs, ws.as_deref()),
        None => (&x, w),
    };
    let bandwidths = |u: &[f64], xs: &[f64]| -> Vec<f64> {
        let m = xs.len() / d;
        let s = xs.chunks_exact(d).map(|r| dot(r, u).abs()).sum::<f64>() / m as f64;
        let s = if s > 0.0 { s } else { 1.0 };
        let k = cfg.stages.max(1);
        (0..k)
            .map(|i| {
                let t = if k == 1 {
                    1.0
                } else {
                    i as f64 / (k - 1) as f64
                };
                s * cfg.h_start * (cfg.h_end / cfg.h_start).powf(t)
            })
            .collect()
    };
    let clock = std::time::Instant::now();
    let phase = |name: &str, notes: &mut Vec<String>| {
        notes.push(format!("{name}: {:.3} s", clock.elapsed().as_secs_f64()));
    };
    phase("starts ready", &mut notes);
    let mut total_steps = 0;
    let mut best: Option<(Vec<f64>, f64, Vec<f64>)> = None; // (u, full 0-1 loss, schedule)
    // Starts are independent: annealed in parallel, then compared in start order
    // (deterministic for any thread count).
    let n_fixed = starts.len() - cfg.random_starts as usize;
    // (direction, gradient steps, full 0-1 loss, bandwidth schedule, polish sweeps)
    type Annealed = (Vec<f64>, u64, f64, Vec<f64>, u64);
    let annealed: Vec<Annealed> = starts
        .par_iter()
        .enumerate()
        .map(|(k, s0)| {
            let hs = bandwidths(s0, xs);
            // Large bandwidths pull every start into the same basin, so random start j enters
            // the schedule at stage j mod stages: the starts explore different basins.
            let entry = if k < n_fixed {
                0
            } else {
                (k - n_fixed) % hs.len()
            };
            let (u, k) = anneal(xs, ws, d, s0, &hs[entry..], cfg.iters_per_stage);
            if small && cfg.polish_rounds > 0 {
                // All rows fit the subsample: polish every start, not only the best.
                let (v, l, sweeps) = polish(&x, w, d, &u, cfg.polish_rounds);
                (v, k, l, hs, sweeps)
            } else {
                let l = loss_signed(&x, w, d, &u);
                (u, k, l, hs, 0)
            }
        })
        .collect();
    let mut sweeps = 0;
    for (u, k, l, hs, sw) in annealed {
        total_steps += k;
        sweeps += sw;
        if best.as_ref().is_none_or(|b| l < b.1) {
            best = Some((u, l, hs));
        }
    }
    phase("starts annealed", &mut notes);
    let (mut u, mut l, hs) =
        best.ok_or_else(|| FitError::Degenerate("no start direction".into()))?;
    if !small {
        if cfg.full_stages > 0 {
            let tail = &hs[hs.len().saturating_sub(cfg.full_stages as usize)..];
            let (v, k) = anneal(&x, w, d, &u, tail, cfg.iters_per_stage);
            total_steps += k;
            let lv = loss_signed(&x, w, d, &v);
            if lv < l {
                u = v;
                l = lv;
            }
        }
        phase("full-data stages", &mut notes);
        let rounds = cfg.polish_rounds.min(cfg.polish_rounds_large);
        if rounds > 0 {
            let (v, lv, sw) = polish(&x, w, d, &u, rounds);
            sweeps += sw;
            if lv <= l {
                u = v;
            }
        }
    }
    notes.push(format!("polish: {sweeps} great-circle sweeps"));
    let achieved = signest_core::metrics::loss01(data, &u).weighted;
    notes.push(format!(
        "{} starts, {} gradient steps",
        starts.len(),
        total_steps
    ));
    Ok(Fit {
        estimator: "sign",
        solver: "smooth",
        direction: u,
        coefficients: None,
        status: Status::Heuristic,
        iterations: total_steps,
        objective: achieved,
        certificate: None,
        fit_seconds: 0.0,
        notes,
    })
}
