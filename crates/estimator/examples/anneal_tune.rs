//! Tuning aid for the `anneal` solver: runs several configurations on the same instances
//! (the highdim bench's DGP) and prints each one's 0-1 loss excess over the best found and
//! its wall time. `ANNEAL_CONFIGS='|stages = 6' cargo run --release -p signest-estimator
//! --example anneal_tune -- n d reps`. Configurations are `AnnealConfig` keys as in a TOML inline
//! table, or `fast` for `AnnealConfig::fast()`.

use signest_core::metrics::loss01;
use signest_estimator::{AnnealConfig, Estimator, Sign, SignSolver};
use signest_sim::{Design, Dgp, Features, Noise, Population};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map_or(100_000, |s| s.parse().unwrap());
    let d: usize = args.get(2).map_or(64, |s| s.parse().unwrap());
    let reps: u64 = args.get(3).map_or(3, |s| s.parse().unwrap());
    #[derive(serde::Deserialize)]
    struct One {
        c: AnnealConfig,
    }
    let texts: Vec<String> = std::env::var("ANNEAL_CONFIGS")
        .unwrap_or_default()
        .split('|')
        .map(str::to_string)
        .collect();
    let configs: Vec<AnnealConfig> = texts
        .iter()
        .map(|c| {
            if c.trim() == "fast" {
                return AnnealConfig::fast();
            }
            toml::from_str::<One>(&format!("c = {{{c}}}"))
                .expect("AnnealConfig keys")
                .c
        })
        .collect();
    let mut beta_bar = vec![0.0; d];
    beta_bar[..4.min(d)].copy_from_slice(&[1.0, 0.5, -0.5, 0.25][..4.min(d)]);
    let mut chol = vec![0.0; d * d];
    for j in 0..d {
        chol[j * d + j] = 1.0;
    }
    let dgp = Dgp::new(
        Population::Gaussian {
            beta_bar,
            tau: 1.0,
            chol,
        },
        Features::embedding_like(d, 8.min(d), 0.3, 64),
        Noise::Logistic { scale: 1.0 },
    )
    .unwrap();
    let u_star = dgp.u_star().unwrap();
    let mut total = vec![(0.0, 0.0); configs.len()];
    for rep in 0..reps {
        let mut rng = signest_core::seed::stream(64, "solvers_highdim", rep);
        let data = dgp.sample(Design::Pooled { n }, &mut rng);
        let lt = loss01(&data, &u_star).weighted_fraction();
        let res: Vec<(f64, f64)> = configs
            .iter()
            .map(|c| {
                let f = Sign {
                    solver: SignSolver::Anneal(c.clone()),
                }
                .fit(&data)
                .unwrap();
                if std::env::var("ANNEAL_NOTES").is_ok() {
                    println!("  {}", f.notes.join("; "));
                }
                (
                    loss01(&data, &f.direction).weighted_fraction(),
                    f.fit_seconds,
                )
            })
            .collect();
        let best = res.iter().map(|r| r.0).fold(f64::INFINITY, f64::min);
        let line: Vec<String> = res
            .iter()
            .map(|(l, t)| format!("+{:.5} {:5.2}s", l - best, t))
            .collect();
        println!(
            "rep {rep}: best {best:.5} (u* {lt:.5})  {}",
            line.join("  ")
        );
        for (t, r) in total.iter_mut().zip(&res) {
            t.0 += (r.0 - best) / reps as f64;
            t.1 += r.1 / reps as f64;
        }
    }
    for (c, t) in texts.iter().zip(&total) {
        println!("mean excess {:.5}  mean time {:5.2}s  {{{c}}}", t.0, t.1);
    }
}
