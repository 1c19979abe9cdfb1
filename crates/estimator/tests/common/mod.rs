//! Independent references for the estimator tests. Nothing here calls the solvers under test.
#![allow(dead_code)]

use proptest::prelude::*;
use signest_core::Comparisons;

/// The 0-1 loss by definition (weighted sum, ties ½).
pub fn loss(data: &Comparisons, u: &[f64]) -> f64 {
    (0..data.n())
        .map(|i| {
            let m: f64 = data.y()[i] * data.row(i).iter().zip(u).map(|(a, b)| a * b).sum::<f64>();
            data.weight(i)
                * if m < 0.0 {
                    1.0
                } else if m == 0.0 {
                    0.5
                } else {
                    0.0
                }
        })
        .sum()
}

/// d = 2 brute force: every open arc of the arrangement ends at a direction orthogonal to some
/// z_i, so the points at ±1e-7 rad from each of those 2n directions visit every arc (arcs are
/// wider than 2e-7 rad for the small random instances used here).
pub fn brute_force_2d(data: &Comparisons) -> f64 {
    let mut best = f64::INFINITY;
    for i in 0..data.n() {
        let z = data.row(i);
        let phi = z[1].atan2(z[0]);
        for base in [
            phi + std::f64::consts::FRAC_PI_2,
            phi - std::f64::consts::FRAC_PI_2,
        ] {
            for eps in [1e-7, -1e-7] {
                let t = base + eps;
                best = best.min(loss(data, &[t.cos(), t.sin()]));
            }
        }
    }
    best
}

fn cross(a: &[f64], b: &[f64]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// d = 3 brute force over arrangement vertices: each vertex ±(z_i × z_j) is perturbed into the
/// four cells around it along the dual basis {p, q} of span{z_i, z_j} (p'z_i = 1, p'z_j = 0,
/// q'z_i = 0, q'z_j = 1), so that the signs of z_i and z_j are chosen and no other sign moves.
/// Every cell of an arrangement of ≥ 2 non-parallel great circles has a vertex.
pub fn brute_force_3d(data: &Comparisons) -> f64 {
    let n = data.n();
    let mut best = f64::INFINITY;
    for i in 0..n {
        for j in (i + 1)..n {
            let (a, b) = (data.row(i), data.row(j));
            let v = cross(a, b);
            let vn = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
            if vn < 1e-9 {
                continue;
            }
            // Dual basis in span{a, b}: solve the 2×2 Gram system.
            let (aa, ab, bb) = (dot(a, a), dot(a, b), dot(b, b));
            let det = aa * bb - ab * ab;
            let p: Vec<f64> = (0..3).map(|k| (bb * a[k] - ab * b[k]) / det).collect();
            let q: Vec<f64> = (0..3).map(|k| (aa * b[k] - ab * a[k]) / det).collect();
            let (pn, qn) = (dot(&p, &p).sqrt(), dot(&q, &q).sqrt());
            for sv in [1.0, -1.0] {
                for s1 in [1.0, -1.0] {
                    for s2 in [1.0, -1.0] {
                        let eps = 1e-7;
                        let u: Vec<f64> = (0..3)
                            .map(|k| sv * v[k] / vn + eps * (s1 * p[k] / pn + s2 * q[k] / qn))
                            .collect();
                        best = best.min(loss(data, &u));
                    }
                }
            }
        }
    }
    best
}

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Random small data sets: n rows of d features in [-5, 5], random labels.
pub fn small_data(d: usize, n: std::ops::Range<usize>) -> impl Strategy<Value = Comparisons> {
    n.prop_flat_map(move |n| {
        (
            prop::collection::vec(-5.0f64..5.0, n * d),
            prop::collection::vec(any::<bool>(), n),
        )
            .prop_map(move |(z, y)| {
                Comparisons::new(
                    d,
                    z,
                    y.into_iter().map(|b| if b { 1.0 } else { -1.0 }).collect(),
                )
                .unwrap()
            })
    })
}

/// Like [`small_data`] but labels follow a noisy linear rule, so optima are non-trivial.
pub fn noisy_linear_data(
    d: usize,
    n: std::ops::Range<usize>,
) -> impl Strategy<Value = Comparisons> {
    n.prop_flat_map(move |n| {
        (
            prop::collection::vec(-5.0f64..5.0, n * d),
            prop::collection::vec(-3.0f64..3.0, n),
            prop::collection::vec(-1.0f64..1.0, d),
        )
            .prop_map(move |(z, noise, beta)| {
                let y = (0..n)
                    .map(|i| {
                        if dot(&z[i * d..(i + 1) * d], &beta) + noise[i] >= 0.0 {
                            1.0
                        } else {
                            -1.0
                        }
                    })
                    .collect();
                Comparisons::new(d, z, y).unwrap()
            })
    })
}

pub fn angle_deg(a: &[f64], b: &[f64]) -> f64 {
    signest_core::metrics::angular_error_deg(a, b)
}

/// m points spread evenly on the unit sphere in R^3 (Fibonacci lattice), row-major.
pub fn fibonacci_sphere(m: usize) -> Vec<f64> {
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    (0..m)
        .flat_map(|k| {
            let z = 1.0 - 2.0 * (k as f64 + 0.5) / m as f64;
            let r = (1.0 - z * z).sqrt();
            let t = golden * k as f64;
            [r * t.cos(), r * t.sin(), z]
        })
        .collect()
}

/// `f()` run in a fresh rayon pool of `threads` threads.
pub fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}
