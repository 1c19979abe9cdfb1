//! The exact angular sweep on a circle: the 0-1 loss restricted to a 2-plane.
//!
//! Given the coordinates `(a_i, b_i)` of the signed rows in an orthonormal basis `(e1, e2)` of
//! a plane, the loss of `u(t) = cos t·e1 + sin t·e2` is
//! `Σ w_i 1{a_i cos t + b_i sin t < 0} + ½ Σ w_i 1{= 0}`. Row i (non-zero) is wrong exactly on
//! the open half-circle `(φ_i + π/2, φ_i + 3π/2)`, `φ_i = atan2(b_i, a_i)`, so the loss is
//! piecewise constant between the 2n critical angles `φ_i ± π/2`. At a critical angle each
//! changing row counts ½, the mean of its two sides, so the minimum is attained on an open arc.
//! Sorting the critical angles and walking once around the circle finds it in O(n log n).
//!
//! Exact up to the floating-point resolution of the critical angles: arcs narrower than
//! [`MIN_ARC`] (1e-12 rad) are treated as rounding artefacts of coinciding angles and are not
//! candidates. Callers re-evaluate the loss at the returned direction directly.

use crate::par::CHUNK;
use rayon::prelude::*;
use std::f64::consts::{FRAC_PI_2, TAU};

/// Sorts events by angle. Angles are in [0, 2π), so their IEEE-754 bit patterns, read as
/// u64, sort in the same order: an LSD radix sort on 16-bit digits (4 passes, stable).
fn radix_sort_by_angle(events: &mut Vec<(f64, f64)>) {
    if events.len() < 4096 {
        events.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));
        return;
    }
    let mut buf = vec![(0.0, 0.0); events.len()];
    let mut src = std::mem::take(events);
    for pass in 0..4 {
        let shift = 16 * pass;
        let digit = |e: &(f64, f64)| ((e.0.to_bits() >> shift) & 0xFFFF) as usize;
        let mut count = vec![0usize; 1 << 16];
        for e in &src {
            count[digit(e)] += 1;
        }
        let mut pos = 0;
        for c in count.iter_mut() {
            let k = *c;
            *c = pos;
            pos += k;
        }
        for e in &src {
            let k = digit(e);
            buf[count[k]] = *e;
            count[k] += 1;
        }
        std::mem::swap(&mut src, &mut buf);
    }
    *events = src;
}

/// Arcs narrower than this (radians) are rounding artefacts of critical angles that coincide
/// exactly (rows on one line, such as a row and its opposite) and are never candidates.
pub const MIN_ARC: f64 = 1e-12;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepResult {
    /// Midpoint angle of the widest optimal open arc.
    pub angle: f64,
    /// Width of that arc (radians).
    pub arc_width: f64,
    /// The minimal loss (sum of weights) found by the sweep.
    pub loss: f64,
}

#[inline]
fn wrap(t: f64) -> f64 {
    let r = t.rem_euclid(TAU);
    if r >= TAU { 0.0 } else { r }
}

/// Minimises the restricted 0-1 loss over the circle. `w = None` means unit weights.
pub fn circle_sweep(a: &[f64], b: &[f64], w: Option<&[f64]>) -> SweepResult {
    let n = a.len();
    let wt = |i: usize| w.map_or(1.0, |w| w[i]);
    // Zero rows count ½ everywhere; every other row gives two events
    // (angle, weight change when the angle is crossed counter-clockwise).
    let constant: f64 = (0..n)
        .filter(|&i| a[i] == 0.0 && b[i] == 0.0)
        .map(|i| 0.5 * wt(i))
        .sum();
    let mut events: Vec<(f64, f64)> = vec![(0.0, 0.0); 2 * n];
    events
        .par_chunks_mut(2 * CHUNK)
        .enumerate()
        .for_each(|(c, out)| {
            for (k, e) in out.chunks_exact_mut(2).enumerate() {
                let i = c * CHUNK + k;
                if a[i] == 0.0 && b[i] == 0.0 {
                    e[0] = (f64::NAN, 0.0);
                    e[1] = (f64::NAN, 0.0);
                } else {
                    let phi = b[i].atan2(a[i]);
                    e[0] = (wrap(phi + FRAC_PI_2), wt(i)); // becomes wrong
                    e[1] = (wrap(phi - FRAC_PI_2), -wt(i)); // becomes right
                }
            }
        });
    events.retain(|e| !e.0.is_nan());
    if events.is_empty() {
        return SweepResult {
            angle: 0.0,
            arc_width: TAU,
            loss: constant,
        };
    }
    radix_sort_by_angle(&mut events);
    let m = events.len();
    let gap = |k: usize| {
        let next = if k + 1 < m {
            events[k + 1].0
        } else {
            events[0].0 + TAU
        };
        next - events[k].0
    };
    // Start on the widest arc and evaluate its loss directly: the walk then only adds the
    // event weights, so the first value is the only one computed from scratch.
    let k0 = (0..m)
        .max_by(|&i, &j| gap(i).total_cmp(&gap(j)))
        .expect("m > 0");
    let mid0 = events[k0].0 + 0.5 * gap(k0);
    let (c, s) = (mid0.cos(), mid0.sin());
    let mut loss = constant;
    for i in 0..n {
        let v = a[i] * c + b[i] * s;
        if v < 0.0 {
            loss += wt(i);
        } else if v == 0.0 && (a[i] != 0.0 || b[i] != 0.0) {
            loss += 0.5 * wt(i);
        }
    }
    let mut best = SweepResult {
        angle: wrap(mid0),
        arc_width: gap(k0),
        loss,
    };
    // Walk counter-clockwise from the end of arc k0, crossing each event once.
    let mut k = (k0 + 1) % m;
    for _ in 0..m {
        loss += events[k].1;
        let g = gap(k);
        // Among optimal arcs the widest wins: the choice then depends on the geometry only,
        // not on where the walk started (so rescaling or permuting rows cannot change it).
        let tol = 1e-12 * best.loss.abs().max(1.0);
        // Widths equal to within 1e-9 (relative) are a tie, broken by the smaller midpoint.
        let mid = wrap(events[k].0 + 0.5 * g);
        let wider = g > best.arc_width * (1.0 + 1e-9)
            || (g >= best.arc_width * (1.0 - 1e-9) && mid < best.angle);
        if g > MIN_ARC && (loss < best.loss - tol || (loss <= best.loss + tol && wider)) {
            best = SweepResult {
                angle: wrap(events[k].0 + 0.5 * g),
                arc_width: g,
                loss,
            };
        }
        k = (k + 1) % m;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(a: &[f64], b: &[f64], t: f64) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| {
                let v = x * t.cos() + y * t.sin();
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

    #[test]
    fn sweep_matches_a_fine_grid_on_a_small_case() {
        let a = [1.0, -0.5, 0.3, 2.0, -1.0, 0.0];
        let b = [0.2, 1.0, -0.7, -1.5, -0.1, 0.0];
        let r = circle_sweep(&a, &b, None);
        let grid_min = (0..100_000)
            .map(|k| brute(&a, &b, k as f64 * TAU / 100_000.0))
            .fold(f64::INFINITY, f64::min);
        assert_eq!(r.loss, grid_min);
        assert_eq!(brute(&a, &b, r.angle), r.loss);
    }
}
