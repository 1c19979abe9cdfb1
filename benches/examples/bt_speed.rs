//! `bt`'s two exact solvers on the same data, fits alternated:
//! `RAYON_NUM_THREADS=1 cargo run --release -p signest-benches --example bt_speed -- N D REPS`.
//! Prints each solver's median fit time, its iterations and the angle between the two
//! directions (they solve the same problem to relative gradient 1e-10).
use signest_benches::{bench_data, median, usize_args};
use signest_estimator::{Bt, BtSolver, Estimator};

fn main() {
    let a = usize_args(&[1_000_000, 10, 5], "N D REPS");
    let (n, d, reps) = (a[0], a[1], a[2]);
    let data = bench_data(n, d);
    let solvers = [BtSolver::Newton, BtSolver::Subsampled];
    let mut times = vec![Vec::new(); solvers.len()];
    let mut fits = Vec::new();
    for _ in 0..reps {
        fits.clear();
        for (k, s) in solvers.iter().enumerate() {
            let f = Bt {
                solver: *s,
                ..Bt::default()
            }
            .fit(&data)
            .expect("fit");
            times[k].push(f.fit_seconds);
            fits.push(f);
        }
    }
    // 2·asin(|a − b|/2): exact for tiny angles, where acos of the inner product is not.
    let chord = fits[0]
        .direction
        .iter()
        .zip(&fits[1].direction)
        .map(|(p, q)| (p - q) * (p - q))
        .sum::<f64>()
        .sqrt();
    let angle = (2.0 * (chord / 2.0).asin()).to_degrees();
    for (f, t) in fits.iter().zip(times) {
        println!(
            "n {n} d {d}: {:<10} median {:>8.1} ms over {reps}  iterations {}",
            f.solver,
            median(t) * 1e3,
            f.iterations
        );
    }
    println!("angle between the directions: {angle:.2e} deg");
}
