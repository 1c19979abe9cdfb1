//! The `subsampled` solver's kernels alone, timed (medians of REPS):
//! `RAYON_NUM_THREADS=1 cargo run --release -p signest-benches --example bt_kernels -- N D REPS`.
//! Prints ns per row and GB/s of features read for the fused pass and the full Hessian.
use signest_benches::bench_data;
use signest_estimator::logistic::{Rows, hessian, loss_grad};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .map(|s| s.parse().expect("N D REPS"))
        .collect();
    let (n, d, reps) = (
        a.first().copied().unwrap_or(1_000_000),
        a.get(1).copied().unwrap_or(10),
        a.get(2).copied().unwrap_or(7),
    );
    let data = bench_data(n, d);
    let rows = Rows {
        z: data.z(),
        y: data.y(),
        w: data.weights(),
        d,
    };
    let theta: Vec<f64> = (0..d).map(|j| 0.5 / (j as f64 + 1.0)).collect();
    let mut curv = vec![0.0; n];
    let mut tr = Vec::new();
    let mut tp = Vec::new();
    let mut th = Vec::new();
    let mut ts = Vec::new();
    // Evict the data from the caches before each pass, as in a real fit where other work
    // (parsing, other estimators) ran in between: the pass then reads from memory.
    let mut evict = vec![0u8; 96 << 20];
    for rep in 0..reps {
        for (k, b) in evict.iter_mut().enumerate().step_by(64) {
            *b = b.wrapping_add((k + rep) as u8);
        }
        std::hint::black_box(&evict);
        let t = Instant::now();
        let mut acc = [0.0f64; 8];
        for c in data.z().chunks_exact(8) {
            for k in 0..8 {
                acc[k] += c[k];
            }
        }
        tr.push(t.elapsed().as_secs_f64());
        std::hint::black_box(acc);
        for (k, b) in evict.iter_mut().enumerate().step_by(64) {
            *b = b.wrapping_add((k + rep + 1) as u8);
        }
        std::hint::black_box(&evict);
        let t = Instant::now();
        let g = loss_grad(rows, &theta, Some(&mut curv));
        tp.push(t.elapsed().as_secs_f64());
        std::hint::black_box(g.loss);
        let t = Instant::now();
        let h = hessian(rows, &curv, 1);
        th.push(t.elapsed().as_secs_f64());
        std::hint::black_box(h.0[0]);
        let t = Instant::now();
        let h = hessian(rows, &curv, (n / (64 * d).max(2048)).max(1));
        ts.push(t.elapsed().as_secs_f64());
        std::hint::black_box(h.0[0]);
    }
    let bytes = (n * d * 8) as f64;
    for (name, t) in [
        ("read (sum of z)", tr),
        ("pass", tp),
        ("hessian", th),
        ("sampled hessian", ts),
    ] {
        let lo = t.iter().copied().fold(f64::INFINITY, f64::min);
        let m = median(t);
        println!(
            "n {n} d {d} {name:<16} median {:>8.2} ms  {:>7.1} ns/row  {:>6.1} GB/s  (min {:.2} ms)",
            m * 1e3,
            m * 1e9 / n as f64,
            bytes / m / 1e9,
            lo * 1e3
        );
    }
}
