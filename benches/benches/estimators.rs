//! Estimator benchmarks (criterion). Targets from the core issue:
//! `bt` at n = 10^6, d = 10 under 1 s single-threaded; exact d = 2 at n = 10^6 under 1 s;
//! `smooth` at n = 10^6, d = 10 under 10 s. Run single-threaded numbers with
//! `RAYON_NUM_THREADS=1 cargo bench -p signest-benches`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use signest_benches::bench_data;
use signest_estimator::logistic::{Rows, loss_grad_hessian};
use signest_estimator::{Bt, BtSolver, Estimator, Sign, bt_gradient};
use std::hint::black_box;
use std::time::Duration;

fn bt(c: &mut Criterion) {
    let mut g = c.benchmark_group("bt");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    for n in [10_000usize, 100_000, 1_000_000] {
        let data = bench_data(n, 10);
        g.bench_with_input(BenchmarkId::new("fit_d10", n), &data, |b, data| {
            b.iter(|| black_box(Bt::default().fit(data).unwrap()))
        });
    }
    // Both exact solvers on issue 13's two shapes (peers in one run: compare the ratio).
    let subsampled = Bt {
        solver: BtSolver::Subsampled,
        ..Bt::default()
    };
    for (n, d) in [(1_000_000usize, 10usize), (100_000, 50)] {
        let data = bench_data(n, d);
        let id = format!("n{n}_d{d}");
        g.bench_with_input(BenchmarkId::new("newton", &id), &data, |b, data| {
            b.iter(|| black_box(Bt::default().fit(data).unwrap()))
        });
        g.bench_with_input(BenchmarkId::new("subsampled", &id), &data, |b, data| {
            b.iter(|| black_box(subsampled.fit(data).unwrap()))
        });
    }
    g.finish();
}

fn smooth(c: &mut Criterion) {
    let mut g = c.benchmark_group("sign_smooth");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));
    for n in [10_000usize, 100_000, 1_000_000] {
        let data = bench_data(n, 10);
        g.bench_with_input(BenchmarkId::new("fit_d10", n), &data, |b, data| {
            b.iter(|| black_box(Sign::smooth().fit(data).unwrap()))
        });
    }
    g.finish();
}

fn exact(c: &mut Criterion) {
    let mut g = c.benchmark_group("sign_exact");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    let d2 = bench_data(1_000_000, 2);
    g.bench_function("sweep_d2_n1000000", |b| {
        b.iter(|| black_box(Sign::exact().fit(&d2).unwrap()))
    });
    let d3 = bench_data(2_000, 3);
    g.bench_function("bnb_d3_n2000", |b| {
        b.iter(|| black_box(Sign::exact().fit(&d3).unwrap()))
    });
    g.finish();
}

/// One pass over the data (n = 10^6, d = 10, 80 MB of f64): bytes per second against the
/// machine's read bandwidth (about 15-17 GB/s for one core, 23-28 GB/s for two: TOOLCHAIN.md).
fn kernels(c: &mut Criterion) {
    let mut g = c.benchmark_group("pass");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let data = bench_data(1_000_000, 10);
    let bytes = (data.n() * data.d() * 8) as u64;
    g.throughput(Throughput::Bytes(bytes));
    let theta: Vec<f64> = (0..10).map(|j| 1.0 / (j as f64 + 1.0)).collect();
    let x = data.signed_rows();
    g.bench_function("bt_gradient_n1e6_d10", |b| {
        b.iter(|| black_box(bt_gradient(&x, None, 10, &theta, 0.0)))
    });
    // subsampled's fused pass (loss, gradient, counts), alone and packing the full Hessian.
    let rows = Rows {
        z: data.z(),
        y: data.y(),
        w: None,
        d: 10,
    };
    g.bench_function("bt_subsampled_pass_n1e6_d10", |b| {
        b.iter(|| black_box(loss_grad_hessian(rows, &theta, None).0.loss))
    });
    g.bench_function("bt_subsampled_pass_hessian_n1e6_d10", |b| {
        b.iter(|| black_box(loss_grad_hessian(rows, &theta, Some(1)).1))
    });
    g.bench_function("loss01_n1e6_d10", |b| {
        b.iter(|| black_box(signest_core::metrics::loss01(&data, &theta)))
    });
    g.finish();
}

criterion_group!(benches, bt, smooth, exact, kernels);
criterion_main!(benches);
