//! em against its reference algorithm on one unit of an experiment:
//! `cargo run --release -p signest-benches --example em_scale -- EXPERIMENT.toml CELL REP [REPEATS] [RANDOM_STARTS]`
//! (CELL as in runs.csv, e.g. `n=30000/d=5`). Draws the unit's data from its own stream, then
//! alternates the EM-gradient fit (`LatentClass::solve`) and the reference (exact M-steps,
//! `solve_reference`) REPEATS times with em's defaults but RANDOM_STARTS, and prints the median
//! seconds of each, their ratio, the penalised log-likelihoods reached and the angle between
//! the two directions Σ π_k β_k.
use signest_benches::median;
use signest_estimator::LatentClass;
use signest_sweep::{Experiment, sample_unit};
use std::time::Instant;

fn bar(s: &signest_estimator::EmSolution) -> Vec<f64> {
    let mut b = vec![0.0; s.betas[0].len()];
    for (w, x) in s.weights.iter().zip(&s.betas) {
        signest_core::linalg::axpy(*w, x, &mut b);
    }
    b
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 3 {
        eprintln!(
            "usage: em_scale EXPERIMENT.toml CELL REP [REPEATS] [RANDOM_STARTS (default 1, as in the paper experiments)]"
        );
        std::process::exit(2);
    }
    let exp = Experiment::from_file(std::path::Path::new(&a[0])).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let cell = exp.cells.iter().find(|c| c.key == a[1]).unwrap_or_else(|| {
        eprintln!("no cell {}", a[1]);
        std::process::exit(2)
    });
    let rep: u64 = a[2].parse().expect("REP");
    let repeats: usize = a.get(3).map_or(3, |s| s.parse().expect("REPEATS"));
    let random_starts: u32 = a.get(4).map_or(1, |s| s.parse().expect("RANDOM_STARTS"));
    let em = LatentClass {
        random_starts,
        ..LatentClass::default()
    };
    let data = sample_unit(&exp, cell, rep).expect("unit data");
    println!(
        "{} {} rep {rep}: n = {}, d = {}, K = {:?}, random_starts = {}",
        a[0],
        cell.key,
        data.n(),
        data.d(),
        em.classes,
        em.random_starts
    );
    let (mut tn, mut tr) = (Vec::new(), Vec::new());
    let (mut sn, mut sr) = (None, None);
    for _ in 0..repeats {
        let t = Instant::now();
        sn = Some(em.solve(&data).expect("em"));
        tn.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        sr = Some(em.solve_reference(&data).expect("em reference"));
        tr.push(t.elapsed().as_secs_f64());
    }
    let (sn, sr) = (sn.unwrap(), sr.unwrap());
    let pen = |s: &signest_estimator::EmSolution| {
        s.loglik
            - s.betas
                .iter()
                .map(|b| 0.5 * em.ridge * signest_core::linalg::dot(b, b))
                .sum::<f64>()
    };
    let (mn, mr) = (median(tn), median(tr));
    println!(
        "em (EM-gradient): {mn:.3} s, {} iterations, penalised log-lik {:.6}\nreference (exact M-steps): {mr:.3} s, {} iterations, penalised log-lik {:.6}\nratio reference / em: {:.1}; angle between directions {:.3e} deg",
        sn.trace.len(),
        pen(&sn),
        sr.trace.len(),
        pen(&sr),
        mr / mn,
        signest_core::metrics::angular_error_deg(&bar(&sn), &bar(&sr))
    );
}
