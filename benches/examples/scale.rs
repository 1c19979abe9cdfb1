//! One-off scale check: `cargo run --release -p signest-benches --example scale -- N D`.
//! Fits bt and sign (smooth) once and prints wall times and angular errors.
use signest_benches::{bench_data, usize_args};
use signest_estimator::{Bt, Estimator, Sign};

fn main() {
    let a = usize_args(&[1_000_000, 50], "N D");
    let (n, d) = (a[0], a[1]);
    let t = std::time::Instant::now();
    let data = bench_data(n, d);
    println!(
        "sampled n = {n}, d = {d} in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let mut u_star = vec![0.0; d];
    u_star[0] = 1.0;
    if d > 1 {
        u_star[1] = 0.5;
    }
    for (name, f) in [
        ("bt", Bt::default().fit(&data)),
        ("sign smooth", Sign::smooth().fit(&data)),
    ] {
        let f = f.expect("fit");
        println!(
            "{name}: {:.2} s, angular error {:.2} deg, 0-1 loss {}, notes {:?}",
            f.fit_seconds,
            signest_core::metrics::angular_error_deg(&f.direction, &u_star),
            f.objective,
            f.notes
        );
    }
}
