use signest_core::metrics::angular_error_deg;
use signest_core::seed::stream;
use signest_estimator::*;
use signest_sim::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let what = args.get(1).map(|s| s.as_str()).unwrap_or("ref");
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let d: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(2);
    let dgp = if what == "ref" {
        Dgp::reference()
    } else {
        let mut bb = vec![0.0; d];
        bb[0] = 1.0;
        if d > 1 {
            bb[1] = 0.5;
        }
        Dgp::new(
            Population::isotropic_gaussian(bb, 1.0),
            Features::Isotropic { d },
            Noise::Logistic { scale: 1.0 },
        )
        .unwrap()
    };
    let data = dgp.sample(Design::Pooled { n }, &mut stream(1, "probe", 0));
    let us = dgp.u_star().unwrap();
    let ests: Vec<(&str, AnyEstimator)> = match what {
        "smooth" => vec![("smooth", AnyEstimator::Sign(Sign::smooth()))],
        "bt" => vec![("bt", AnyEstimator::Bt(Bt::default()))],
        "hinge" => vec![("hinge", AnyEstimator::Hinge(Hinge::default()))],
        "exact" => vec![("exact", AnyEstimator::Sign(Sign::exact()))],
        _ => vec![
            ("bt", AnyEstimator::Bt(Bt::default())),
            ("exact", AnyEstimator::Sign(Sign::exact())),
            ("smooth", AnyEstimator::Sign(Sign::smooth())),
            ("hinge", AnyEstimator::Hinge(Hinge::default())),
        ],
    };
    println!(
        "loss01 at u*: {}",
        signest_core::metrics::loss01(&data, &us).weighted
    );
    for (name, e) in ests {
        let f = e.fit(&data).unwrap();
        println!(
            "{name}: err {:.3} deg, obj {:.3}, status {:?}, iters {}, {:.3}s, cert {:?}, notes {:?}",
            angular_error_deg(&f.direction, &us),
            f.objective,
            f.status,
            f.iterations,
            f.fit_seconds,
            f.certificate,
            f.notes
        );
        println!(
            "   loss01 at fit: {}",
            signest_core::metrics::loss01(&data, &f.direction).weighted
        );
    }
}
