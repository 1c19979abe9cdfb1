//! Tabu search over the vertices of the hyperplane arrangement: a heuristic incumbent for
//! branch and bound at small d (the move of the HITS tabu search of Florios, Louka and
//! Bilias, written from its description, not its code).
//!
//! The 0-1 loss is constant on the open cells of the arrangement of the hyperplanes
//! `x_i'u = 0`, and every cell has a vertex: a point where d − 1 independent hyperplanes meet
//! (a ray on the sphere). A vertex is kept as the set R of its d − 1 rows. Dropping row k of
//! R leaves d − 2 rows whose common null space is a 2-plane: a great circle through the
//! vertex, along which the loss is an exact angular sweep ([`super::sweep`]'s walk). Every
//! event on that circle is a neighbouring vertex (row j replacing row k), and its value is
//! the loss of the arc beside it with the d − 2 kept rows counted right (a small move off the
//! circle puts all of R on their right side). Each iteration takes the best move over all k
//! and j whose entering row is not tabu (a row that left R may not re-enter for `tenure`
//! iterations) unless it beats the best loss found; worse moves are taken too, which is what
//! lets the search leave a local optimum.
//!
//! Every vertex visited is turned into a point: the vertex plus a small step that puts all of
//! R on their right side, and the loss is evaluated there directly on all rows; a point with
//! a row at a tie is not used. So the returned loss is exact for the returned direction, and
//! the search is a heuristic with no guarantee; its cost is (d − 1) sweeps of n rows per
//! iteration, and it is deterministic (no random draws; ties go to the first move found).
//! Which move is first among equals depends on the circle's orientation (`complement` below):
//! with e2 along the dropped row instead, Martins' search stays at 1,620 and Horowitz's at
//! 764, so that choice is part of the method (the tests pin its results).

use super::bnb::{tie_free_loss, unit_margin_step};
use rayon::prelude::*;
use signest_core::linalg::{dot, norm};
use std::f64::consts::{FRAC_PI_2, TAU};

/// Iterations, tabu tenure and patience of [`vertex_tabu`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TabuConfig {
    /// At most this many moves.
    pub iterations: u32,
    /// A row that left the vertex may not re-enter for this many iterations.
    pub tenure: u32,
    /// Stop after this many iterations without a new best point.
    pub patience: u32,
}

/// Rows whose projection on a circle's plane is shorter than this (unit rows) lie in the span
/// of the kept rows: their margin is 0 all around the circle.
const ON_CIRCLE_ZERO: f64 = 1e-9;
/// Arcs narrower than this are rounding artefacts of coinciding events.
const MIN_ARC: f64 = 1e-12;

/// Orthonormal basis (Gram–Schmidt) of the span of `rows`; rows dependent on the earlier
/// ones (residual below 1e-9) are skipped.
fn orthonormal_rows(rows: &[&[f64]], d: usize) -> Vec<Vec<f64>> {
    let mut q: Vec<Vec<f64>> = Vec::new();
    for r in rows {
        let mut v = r.to_vec();
        for _ in 0..2 {
            for b in &q {
                let c = dot(&v, b);
                for (a, bb) in v.iter_mut().zip(b) {
                    *a -= c * bb;
                }
            }
        }
        let nv = norm(&v);
        if nv > 1e-9 {
            v.iter_mut().for_each(|a| *a /= nv);
            q.push(v);
        }
    }
    debug_assert!(q.iter().all(|b| b.len() == d));
    q
}

/// Completes an orthonormal set `q` of the row space with `k` unit vectors orthogonal to it
/// (the coordinate axes with the largest residuals, orthonormalised).
fn complement(q: &[Vec<f64>], d: usize, k: usize) -> Vec<Vec<f64>> {
    let mut basis: Vec<Vec<f64>> = q.to_vec();
    let mut out = Vec::new();
    for _ in 0..k {
        let mut best: Option<(f64, Vec<f64>)> = None;
        for axis in 0..d {
            let mut v = vec![0.0; d];
            v[axis] = 1.0;
            for _ in 0..2 {
                for b in &basis {
                    let c = dot(&v, b);
                    for (a, bb) in v.iter_mut().zip(b) {
                        *a -= c * bb;
                    }
                }
            }
            let nv = norm(&v);
            if best.as_ref().is_none_or(|(bn, _)| nv > *bn) {
                best = Some((nv, v));
            }
        }
        let (nv, mut v) = best.expect("d >= 1");
        v.iter_mut().for_each(|a| *a /= nv);
        basis.push(v.clone());
        out.push(v);
    }
    out
}

/// The weighted loss at v on all rows, or None at a tie ([`tie_free_loss`]).
fn loss_at(x: &[f64], w: &[f64], d: usize, v: &[f64]) -> Option<f64> {
    tie_free_loss(x.chunks_exact(d).zip(w.iter().copied()), v)
}

/// A point of a cell at vertex v of rows R: v plus a step that puts every row of R on its
/// right side (the shortest δ with R δ = 1, [`unit_margin_step`]), tried at a few sizes; the
/// first free of ties is returned with its loss.
fn cell_point(x: &[f64], w: &[f64], d: usize, r: &[usize], v: &[f64]) -> Option<(Vec<f64>, f64)> {
    let rows: Vec<&[f64]> = r.iter().map(|&i| &x[i * d..(i + 1) * d]).collect();
    let delta = unit_margin_step(&rows, d)?;
    let nd = norm(&delta);
    if !(nd > 0.0 && nd.is_finite()) {
        return None;
    }
    for eps in [1e-7, 1e-9, 1e-5] {
        let p: Vec<f64> = v
            .iter()
            .zip(&delta)
            .map(|(a, b)| a + eps * b / nd)
            .collect();
        if let Some(l) = loss_at(x, w, d, &p) {
            return Some((p, l));
        }
    }
    None
}

/// The d − 1 rows with the smallest |x'u| that are linearly independent, and their vertex
/// (the unit null vector on u's side).
fn vertex_near(x: &[f64], d: usize, u: &[f64]) -> Option<(Vec<usize>, Vec<f64>)> {
    let n = x.len() / d;
    let mut order: Vec<(f64, usize)> = (0..n)
        .map(|i| (dot(&x[i * d..(i + 1) * d], u).abs(), i))
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut r = Vec::new();
    let mut q: Vec<Vec<f64>> = Vec::new();
    for (_, i) in order {
        let mut v = x[i * d..(i + 1) * d].to_vec();
        for b in &q {
            let c = dot(&v, b);
            v.iter_mut().zip(b).for_each(|(a, bb)| *a -= c * bb);
        }
        let nv = norm(&v);
        if nv > 1e-6 {
            v.iter_mut().for_each(|a| *a /= nv);
            q.push(v);
            r.push(i);
            if r.len() == d - 1 {
                break;
            }
        }
    }
    if r.len() < d - 1 {
        return None;
    }
    let mut v = complement(&q, d, 1).pop()?;
    if dot(&v, u) < 0.0 {
        v.iter_mut().for_each(|a| *a = -*a);
    }
    Some((r, v))
}

/// One candidate move: drop R[k], add row j, landing at `v` with predicted loss `loss`.
struct Move {
    loss: f64,
    k: usize,
    j: usize,
    v: Vec<f64>,
}

/// What every circle of an iteration reads.
struct State<'a> {
    x: &'a [f64],
    w: &'a [f64],
    d: usize,
    r: &'a [usize],
    in_r: &'a [bool],
    v: &'a [f64],
    tabu_until: &'a [u32],
    it: u32,
    best_loss: f64,
}

/// The best admissible move on the circle that drops R[k] (the first in angle order among
/// equals), or None.
fn best_on_circle(st: &State<'_>, k: usize) -> Option<Move> {
    let State {
        x,
        w,
        d,
        r,
        in_r,
        v,
        ..
    } = *st;
    let n = x.len() / d;
    let kept: Vec<&[f64]> = r
        .iter()
        .enumerate()
        .filter(|&(kk, _)| kk != k)
        .map(|(_, &i)| &x[i * d..(i + 1) * d])
        .collect();
    let mut q = orthonormal_rows(&kept, d);
    if q.len() != d - 2 {
        return None;
    }
    // The circle: e1 = the current vertex, e2 ⟂ it in the null space of the kept rows.
    q.push(v.to_vec());
    let e2 = complement(&q, d, 1).pop()?;
    // Loss on the circle: kept rows count right; rows in their span (zero all around) count
    // ½; every other row changes side at two antipodal events. Events are sorted by the bits
    // of their angle in [0, 2π) (the same order for non-negative floats), then by row.
    let mut constant = 0.0;
    let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
    // Rows off the plane's zero set (they have events); the others are in `constant`.
    let mut moving = vec![false; n];
    let mut events: Vec<(u64, u32)> = Vec::with_capacity(2 * n);
    let wrap = |t: f64| {
        let t = t.rem_euclid(TAU);
        if t >= TAU { 0.0 } else { t }
    };
    for i in 0..n {
        let row = &x[i * d..(i + 1) * d];
        a[i] = dot(row, v);
        b[i] = dot(row, &e2);
        moving[i] = a[i].hypot(b[i]) > ON_CIRCLE_ZERO;
        if !moving[i] {
            if !(in_r[i] && i != r[k]) {
                constant += 0.5 * w[i];
            }
            continue;
        }
        let phi = b[i].atan2(a[i]);
        // Payload: row << 1 | (1 if the row becomes right here).
        events.push((wrap(phi + FRAC_PI_2).to_bits(), (i as u32) << 1));
        events.push((wrap(phi - FRAC_PI_2).to_bits(), ((i as u32) << 1) | 1));
    }
    if events.is_empty() {
        return None;
    }
    events.sort_unstable();
    let angle = |e: &(u64, u32)| f64::from_bits(e.0);
    let m = events.len();
    // The loss on the arc that wraps from the last event to the first, evaluated directly at
    // its midpoint; the walk then only adds event weights.
    let mid = 0.5 * (angle(&events[m - 1]) + angle(&events[0]) + TAU);
    let (sm, cm) = mid.sin_cos();
    let mut loss = constant;
    for i in 0..n {
        if moving[i] {
            let mg = a[i] * cm + b[i] * sm;
            if mg < 0.0 {
                loss += w[i];
            } else if mg == 0.0 {
                loss += 0.5 * w[i];
            }
        }
    }
    let mut before = loss;
    let mut chosen: Option<Move> = None;
    let mut g0 = 0;
    while g0 < m {
        // A group: events closer than MIN_ARC (one vertex up to rounding).
        let mut g1 = g0 + 1;
        while g1 < m && angle(&events[g1]) - angle(&events[g1 - 1]) < MIN_ARC {
            g1 += 1;
        }
        for e in &events[g0..g1] {
            let i = (e.1 >> 1) as usize;
            loss += if e.1 & 1 == 1 { -w[i] } else { w[i] };
        }
        let after = loss;
        for e in &events[g0..g1] {
            let j = (e.1 >> 1) as usize;
            if in_r[j] {
                continue;
            }
            // The entering row on the side where it is right.
            let value = if e.1 & 1 == 1 { after } else { before };
            if st.tabu_until[j] >= st.it && value >= st.best_loss {
                continue;
            }
            if chosen.as_ref().is_none_or(|c| value < c.loss) {
                let (s, c) = angle(e).sin_cos();
                chosen = Some(Move {
                    loss: value,
                    k,
                    j,
                    v: v.iter().zip(&e2).map(|(p, q)| c * p + s * q).collect(),
                });
            }
        }
        before = after;
        g0 = g1;
    }
    chosen
}

/// Tabu search from the vertex nearest `start` over unit rows `x` (n × d, no all-zero rows)
/// with weights `w`. Returns the best tie-free point found and its loss (on these rows), or
/// None when no vertex could be formed (rank below d − 1) or nothing tie-free was found. The
/// d − 1 circles of an iteration are swept in parallel; the move is the first best in (k,
/// angle) order, so the result does not depend on the thread count.
pub(crate) fn vertex_tabu(
    x: &[f64],
    w: &[f64],
    d: usize,
    start: &[f64],
    cfg: TabuConfig,
) -> Option<(Vec<f64>, f64)> {
    let n = x.len() / d;
    if d < 3 || n < d {
        return None;
    }
    let (mut r, mut v) = vertex_near(x, d, start)?;
    let mut best: Option<(Vec<f64>, f64)> = cell_point(x, w, d, &r, &v);
    let mut tabu_until = vec![0u32; n];
    let mut in_r = vec![false; n];
    r.iter().for_each(|&i| in_r[i] = true);
    let mut improved_at = 0u32;
    for it in 1..=cfg.iterations {
        if it - improved_at > cfg.patience {
            break;
        }
        let st = State {
            x,
            w,
            d,
            r: &r,
            in_r: &in_r,
            v: &v,
            tabu_until: &tabu_until,
            it,
            best_loss: best.as_ref().map_or(f64::INFINITY, |b| b.1),
        };
        let moves: Vec<Option<Move>> = (0..r.len())
            .into_par_iter()
            .map(|k| best_on_circle(&st, k))
            .collect();
        let mut chosen: Option<Move> = None;
        for mv in moves.into_iter().flatten() {
            if chosen.as_ref().is_none_or(|c| mv.loss < c.loss) {
                chosen = Some(mv);
            }
        }
        let Some(mv) = chosen else { break };
        let out = r[mv.k];
        in_r[out] = false;
        tabu_until[out] = it + cfg.tenure;
        r[mv.k] = mv.j;
        in_r[mv.j] = true;
        let nv = norm(&mv.v);
        v = mv.v.iter().map(|c| c / nv).collect();
        if let Some((p, l)) = cell_point(x, w, d, &r, &v)
            && best.as_ref().is_none_or(|b| l < b.1)
        {
            best = Some((p, l));
            improved_at = it;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Estimator;
    use rand_distr::{Distribution, StandardNormal};
    use signest_core::Comparisons;
    use signest_core::metrics::loss01;
    use signest_core::seed::solver_rng;

    /// Noisy linear data in d dimensions with a few duplicated rows (as discrete features
    /// give), seeded.
    fn instance(d: usize, n: usize, seed: u64) -> Comparisons {
        let mut rng = solver_rng(seed);
        let beta: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
        let mut z = Vec::with_capacity(n * d);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let row: Vec<f64> = if i % 7 == 6 {
                z[(i - 1) * d..i * d].to_vec()
            } else {
                (0..d).map(|_| StandardNormal.sample(&mut rng)).collect()
            };
            let e: f64 = StandardNormal.sample(&mut rng);
            y.push(if dot(&row, &beta) + 1.5 * e > 0.0 {
                1.0
            } else {
                -1.0
            });
            z.extend(row);
        }
        Comparisons::new(d, z, y).unwrap()
    }

    /// From a random start, on 40 instances at d = 3 and 4 (n = 60, 80): the returned loss is
    /// the loss of the returned direction (evaluated here by `metrics::loss01` on the original
    /// rows), never below the certified optimum of branch and bound (with the tabu search
    /// off, so the reference does not use the code under test), and equal to it on at least
    /// 36 of the 40 instances (seen: 40 of 40; the search is deterministic, so the count
    /// only moves when the code does).
    #[test]
    fn tabu_search_reaches_the_certified_optimum_on_small_instances() {
        let mut hits = 0;
        let mut total = 0;
        for (d, n) in [(3usize, 60usize), (4, 80)] {
            for seed in 0..20u64 {
                let data = instance(d, n, 1000 + seed);
                let (x, w, constant) = super::super::bnb::reduce_rows(&data.signed_rows(), None, d);
                let mut rng = solver_rng(seed);
                let start: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
                let cfg = TabuConfig {
                    iterations: 60,
                    tenure: 7,
                    patience: 60,
                };
                let (u, l) = vertex_tabu(&x, &w, d, &start, cfg).expect("a vertex exists");
                let direct = loss01(&data, &u).weighted;
                assert!(
                    (constant + l - direct).abs() < 1e-9,
                    "d {d} seed {seed}: reported {} but the direction's loss is {direct}",
                    constant + l
                );
                let exact = crate::Sign {
                    solver: crate::SignSolver::Exact(crate::ExactConfig {
                        tabu_iterations: 0,
                        ..Default::default()
                    }),
                };
                let fit = exact.fit(&data).unwrap();
                assert_eq!(fit.status, crate::Status::CertifiedOptimal);
                let opt = loss01(&data, &fit.direction).weighted;
                assert!(
                    direct >= opt - 1e-9,
                    "d {d} seed {seed}: {direct} below the optimum {opt}"
                );
                total += 1;
                if direct <= opt + 1e-9 {
                    hits += 1;
                }
            }
        }
        assert!(
            hits >= 36,
            "the tabu search reached the optimum on {hits} of {total} instances"
        );
    }
}
