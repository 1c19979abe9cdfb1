//! The `subsampled` solver's kernels alone, timed (medians of REPS, the caches evicted before
//! each pass): `RAYON_NUM_THREADS=1 cargo run --release -p signest-benches --example bt_kernels -- N D REPS`.
//! Prints ns per row and GB/s of features read for a plain read of z, the fused pass, and the
//! pass that also packs the full or the sampled Hessian.
use signest_benches::{bench_data, median, usize_args};
use signest_estimator::logistic::{Rows, loss_grad_hessian};
use std::time::Instant;

fn main() {
    let a = usize_args(&[1_000_000, 10, 7], "N D REPS");
    let (n, d, reps) = (a[0], a[1], a[2]);
    let data = bench_data(n, d);
    let rows = Rows {
        z: data.z(),
        y: data.y(),
        w: data.weights(),
        d,
    };
    let theta: Vec<f64> = (0..d).map(|j| 0.5 / (j as f64 + 1.0)).collect();
    let sampled = (n / (64 * d).max(2048)).max(1);
    let mut times = vec![Vec::new(); 4];
    // Evict the data from the caches before each timing, as in a real fit where other work
    // (parsing, other estimators) ran in between: the pass then reads from memory.
    let mut evict = vec![0u8; 96 << 20];
    let mut round = 0usize;
    let mut timed = |t: &mut Vec<f64>, f: &mut dyn FnMut() -> f64| {
        round += 1;
        for (k, b) in evict.iter_mut().enumerate().step_by(64) {
            *b = b.wrapping_add((k + round) as u8);
        }
        std::hint::black_box(&evict);
        let start = Instant::now();
        std::hint::black_box(f());
        t.push(start.elapsed().as_secs_f64());
    };
    for _ in 0..reps {
        let [tr, tp, th, ts] = &mut times[..] else {
            unreachable!()
        };
        timed(tr, &mut || {
            data.z()
                .chunks_exact(8)
                .map(|c| c.iter().sum::<f64>())
                .sum()
        });
        timed(tp, &mut || loss_grad_hessian(rows, &theta, None).0.loss);
        timed(th, &mut || {
            loss_grad_hessian(rows, &theta, Some(1)).1.unwrap().1
        });
        timed(ts, &mut || {
            loss_grad_hessian(rows, &theta, Some(sampled)).1.unwrap().1
        });
    }
    let bytes = (n * d * 8) as f64;
    let names = [
        "read (sum of z)",
        "pass",
        "pass + hessian",
        "pass + sampled",
    ];
    for (name, t) in names.iter().zip(times) {
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
