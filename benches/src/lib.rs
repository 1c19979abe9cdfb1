//! # signest-benches
//!
//! Criterion benchmarks of the estimators (`cargo bench -p signest-benches`). This library
//! only builds the benchmark data sets, with the seeding contract, so that every bench and
//! every run sees the same data.

use signest_core::Comparisons;
use signest_core::seed::stream;
use signest_sim::{Design, Dgp, Features, Noise, Population};

/// Gaussian heterogeneity around beta_bar = (1, 0.5, 0, ..., 0), isotropic z, logistic noise.
pub fn bench_data(n: usize, d: usize) -> Comparisons {
    let mut bb = vec![0.0; d];
    bb[0] = 1.0;
    if d > 1 {
        bb[1] = 0.5;
    }
    let dgp = Dgp::new(
        Population::isotropic_gaussian(bb, 1.0),
        Features::Isotropic { d },
        Noise::Logistic { scale: 1.0 },
    )
    .expect("valid DGP");
    dgp.sample(
        Design::Pooled { n },
        &mut stream(2026, &format!("bench/n={n}/d={d}"), 0),
    )
}

/// The example's positional integer arguments, each defaulting to `defaults[k]` when absent
/// (`usage` is the panic message for one that does not parse).
pub fn usize_args(defaults: &[usize], usage: &str) -> Vec<usize> {
    let given: Vec<usize> = std::env::args()
        .skip(1)
        .map(|s| s.parse().expect(usage))
        .collect();
    defaults
        .iter()
        .enumerate()
        .map(|(k, d)| given.get(k).copied().unwrap_or(*d))
        .collect()
}

/// The median of a non-empty sample (the upper one for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
