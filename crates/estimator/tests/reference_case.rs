//! The SPEC §6 reference case at n = 200,000 (run in release, as CI does).
//!
//! d = 2, types (3, 0) and (−1, 1) with probability ½, z ~ N(0, I), logistic noise:
//! beta_bar = (1, 0.5). The qualitative facts of the core issue: `sign` within 2° of u*, `bt`
//! more than 15° away.
//!
//! The sign error of one replication is random with a long right tail (cube-root asymptotics:
//! single replications from 0.3° to 5° were seen at this n), so "within 2°" is checked on the
//! *median* over R = 20 independent replications, together with the mean and its MCSE, which
//! are printed. bt's error concentrates around its population bias (about 21.5°, replication
//! SD about 0.5°), so "more than 15°" is checked in every replication: 13 SDs of margin.

use signest_core::metrics::angular_error_deg;
use signest_core::seed::stream;
use signest_estimator::{Bt, Estimator, Sign};
use signest_sim::{Design, Dgp};

#[test]
fn reference_case_sign_is_close_and_bt_is_biased() {
    let dgp = Dgp::reference();
    let u_star = dgp.u_star().unwrap();
    let reps = 20;
    let mut sign_err = Vec::new();
    for rep in 0..reps {
        let data = dgp.sample(
            Design::Pooled { n: 200_000 },
            &mut stream(2026, "reference", rep),
        );
        let sign = Sign::exact().fit(&data).unwrap();
        let bt = Bt::default().fit(&data).unwrap();
        let es = angular_error_deg(&sign.direction, &u_star);
        let eb = angular_error_deg(&bt.direction, &u_star);
        assert!(sign.certified());
        assert!(eb > 15.0, "rep {rep}: bt error {eb}° is not above 15°");
        assert!(es < eb, "rep {rep}: sign {es}° not below bt {eb}°");
        sign_err.push(es);
    }
    let mean = sign_err.iter().sum::<f64>() / reps as f64;
    let sd = (sign_err.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (reps - 1) as f64).sqrt();
    sign_err.sort_by(f64::total_cmp);
    let median = 0.5 * (sign_err[9] + sign_err[10]);
    println!(
        "sign error over {reps} reps at n = 200000: median {median:.3}°, mean {mean:.3}° ± {:.3} (MCSE), max {:.3}°",
        sd / (reps as f64).sqrt(),
        sign_err[reps as usize - 1]
    );
    assert!(median < 2.0, "median sign error {median}°");
}
