//! `bt`'s two exact solvers on the same data, fits alternated:
//! `RAYON_NUM_THREADS=1 cargo run --release -p signest-benches --example bt_speed -- N D REPS`.
//! Prints each solver's median fit time, its iterations and the angle between the two
//! directions (they solve the same problem to relative gradient 1e-10).
use signest_benches::bench_data;
use signest_estimator::{Bt, BtSolver, Estimator};

fn main() {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .map(|s| s.parse().expect("N D REPS"))
        .collect();
    let (n, d, reps) = (
        a.first().copied().unwrap_or(1_000_000),
        a.get(1).copied().unwrap_or(10),
        a.get(2).copied().unwrap_or(5),
    );
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
    let angle = signest_core::metrics::angular_error_deg(&fits[0].direction, &fits[1].direction);
    for (k, f) in fits.iter().enumerate() {
        let t = &mut times[k];
        t.sort_by(f64::total_cmp);
        println!(
            "n {n} d {d}: {:<10} median {:>8.1} ms over {reps}  iterations {}",
            f.solver,
            t[t.len() / 2] * 1e3,
            f.iterations
        );
    }
    println!("angle between the directions: {angle:.2e} deg");
}
