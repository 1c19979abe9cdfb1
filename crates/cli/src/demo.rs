//! `signest demo`: the SPEC §6 reference case, every estimator, a few replications.

use crate::CliError;
use signest_core::metrics::angular_error_deg;
use signest_core::seed::stream;
use signest_estimator::{AnyEstimator, Bt, Estimator, Hinge, Sign};
use signest_sim::{Design, Dgp};

/// Mean angular error (degrees) and its MCSE per estimator over `reps` replications.
pub fn run(n: usize, reps: u64, seed: u64) -> Result<Vec<(String, f64, f64)>, CliError> {
    if n < 2 || reps < 2 {
        return Err(CliError::input(
            "--n must be at least 2 and --reps at least 2",
        ));
    }
    let dgp = Dgp::reference();
    let u_star = dgp.u_star().expect("beta_bar != 0");
    let ests = [
        ("bt", AnyEstimator::Bt(Bt::default())),
        ("sign (exact)", AnyEstimator::Sign(Sign::exact())),
        ("sign (smooth)", AnyEstimator::Sign(Sign::smooth())),
        ("hinge", AnyEstimator::Hinge(Hinge::default())),
    ];
    let mut errs = vec![Vec::new(); ests.len()];
    for r in 0..reps {
        let data = dgp.sample(
            Design::Pooled { n },
            &mut stream(seed, &format!("demo/n={n}"), r),
        );
        for (k, (_, e)) in ests.iter().enumerate() {
            let f = e.fit(&data).map_err(|e| CliError {
                code: 1,
                message: e.to_string(),
            })?;
            errs[k].push(angular_error_deg(&f.direction, &u_star));
        }
    }
    Ok(ests
        .iter()
        .zip(errs)
        .map(|((name, _), e)| {
            let m = e.iter().sum::<f64>() / e.len() as f64;
            let v = e.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (e.len() - 1) as f64;
            (name.to_string(), m, (v / e.len() as f64).sqrt())
        })
        .collect())
}
