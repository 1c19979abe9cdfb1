//! Sign solvers side by side on one high-dimensional instance (the highdim bench's DGP):
//! `cargo run --release -p signest-estimator --example solvers_highdim -- [n] [d] [rep]`.
//! Prints each solver's 0-1 loss (and u*'s), angular error, wall time and notes.

use signest_core::metrics::{angular_error_deg, loss01};
use signest_estimator::{NamedOptions, Registry};
use signest_sim::{Design, Dgp, Features, Noise, Population};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map_or(100_000, |s| s.parse().unwrap());
    let d: usize = args.get(2).map_or(64, |s| s.parse().unwrap());
    let rep: u64 = args.get(3).map_or(0, |s| s.parse().unwrap());
    let mut beta_bar = vec![0.0; d];
    beta_bar[..4].copy_from_slice(&[1.0, 0.5, -0.5, 0.25]);
    let mut chol = vec![0.0; d * d];
    for j in 0..d {
        chol[j * d + j] = 1.0;
    }
    let dgp = Dgp::new(
        Population::Gaussian {
            beta_bar: beta_bar.clone(),
            tau: 1.0,
            chol,
        },
        Features::embedding_like(d, 8, 0.3, 64),
        Noise::Logistic { scale: 1.0 },
    )
    .unwrap();
    let u_star = dgp.u_star().unwrap();
    let mut rng = signest_core::seed::stream(64, "solvers_highdim", rep);
    let data = dgp.sample(Design::Pooled { n }, &mut rng);
    println!(
        "n = {n}, d = {d}, rep {rep}: loss01(u*) = {:.6}",
        loss01(&data, &u_star).weighted_fraction()
    );
    let reg = Registry::builtin();
    for (name, solver) in [
        ("bt", None),
        ("sign", Some("smooth")),
        ("sign", Some("anneal")),
    ] {
        let e = reg
            .build(
                name,
                &NamedOptions {
                    solver: solver.map(str::to_string),
                    ..NamedOptions::default()
                },
            )
            .unwrap();
        let f = e.estimator.fit(&data).unwrap();
        println!(
            "{:<14} loss01 {:.6}  angle {:7.3}°  {:6.3} s  {}",
            format!("{name} {}", solver.unwrap_or("")),
            loss01(&data, &f.direction).weighted_fraction(),
            angular_error_deg(&f.direction, &u_star),
            f.fit_seconds,
            f.notes.join("; ")
        );
    }
}
