//! Panel estimators against independent references.

use signest_core::metrics::angular_error_deg;
use signest_estimator::{Bt, Estimator, FitError, LatentClass, PerUser};
use signest_sim::{Design, Dgp, Features, Noise, Population};

fn panel(pop: Population, respondents: usize, m: usize, seed: u64) -> signest_core::Comparisons {
    let d = pop.dim();
    let dgp = Dgp::new(
        pop,
        Features::Isotropic { d },
        Noise::Logistic { scale: 1.0 },
    )
    .unwrap();
    let mut rng = signest_core::seed::stream(seed, "panel-test", 0);
    dgp.sample(
        Design::Panel {
            respondents,
            per_respondent: m,
        },
        &mut rng,
    )
}

fn two_classes() -> Population {
    Population::Mixture {
        means: vec![vec![4.0, 0.0], vec![0.0, 4.0]],
        weights: vec![0.4, 0.6],
    }
}

/// With one class, EM's M-step is the ridge logit on all rows: em equals bt with that ridge.
#[test]
fn em_with_one_class_equals_bt() {
    let data = panel(two_classes(), 100, 10, 1);
    let em = LatentClass {
        classes: Some(1),
        ..LatentClass::default()
    };
    let bt = Bt {
        ridge: em.ridge,
        ..Bt::default()
    };
    let a = em.fit(&data).unwrap();
    let b = bt.fit(&data).unwrap();
    assert!(
        angular_error_deg(&a.direction, &b.direction) < 1e-7,
        "{:?} vs {:?}",
        a.direction,
        b.direction
    );
}

#[test]
fn em_log_likelihood_never_decreases() {
    for (k, seed) in [(2, 2), (3, 3)] {
        let data = panel(two_classes(), 150, 8, seed);
        let em = LatentClass {
            classes: Some(k),
            random_starts: 2,
            ..LatentClass::default()
        };
        let s = em.solve(&data).unwrap();
        assert!(s.trace.len() >= 2);
        for w in s.trace.windows(2) {
            assert!(
                w[1] >= w[0] - 1e-9 * (1.0 + w[0].abs()),
                "decrease {} -> {} (K = {k})",
                w[0],
                w[1]
            );
        }
    }
}

/// Well-separated classes (β = (4, 0) w.p. 0.4, (0, 4) w.p. 0.6), 400 respondents × 30
/// comparisons: EM recovers each class within 6° and 25% in norm, the weights within 0.06
/// (about 2.5 binomial SEs of the realised class shares), and BIC chooses K = 2.
#[test]
fn em_recovers_well_separated_classes() {
    let data = panel(two_classes(), 400, 30, 4);
    let em = LatentClass {
        classes: None,
        ..LatentClass::default()
    };
    let s = em.solve(&data).unwrap();
    assert_eq!(s.betas.len(), 2, "BIC chose {} classes", s.betas.len());
    let truth = [(0.4, [4.0, 0.0]), (0.6, [0.0, 4.0])];
    for (w, b) in truth {
        let (k, _) = s
            .betas
            .iter()
            .enumerate()
            .map(|(k, x)| (k, angular_error_deg(x, &b)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        let x = &s.betas[k];
        assert!(angular_error_deg(x, &b) < 6.0, "class {b:?}: {x:?}");
        let ratio = (x[0].hypot(x[1])) / 4.0;
        assert!(
            (0.75..1.25).contains(&ratio),
            "class {b:?}: norm ratio {ratio}"
        );
        assert!(
            (s.weights[k] - w).abs() < 0.06,
            "weight {} vs {w}",
            s.weights[k]
        );
    }
}

#[test]
fn em_survives_too_many_classes() {
    let data = panel(Population::homogeneous(vec![2.0, 1.0]), 100, 10, 5);
    let em = LatentClass {
        classes: Some(4),
        ..LatentClass::default()
    };
    let f = em.fit(&data).unwrap();
    assert!(angular_error_deg(&f.direction, &[2.0, 1.0]) < 10.0, "{f:?}");
}

#[test]
fn peruser_averages_respondent_fits() {
    // Homogeneous panel, many comparisons each: every respondent's fit points near β.
    let data = panel(Population::homogeneous(vec![1.0, -2.0]), 40, 200, 6);
    let f = PerUser::default().fit(&data).unwrap();
    assert!(angular_error_deg(&f.direction, &[1.0, -2.0]) < 5.0, "{f:?}");
    // The average is of the respondents' own ridge fits (checked against them directly).
    let r = data.respondents().unwrap();
    let mut mean = [0.0; 2];
    for id in 0..40u32 {
        let rows: Vec<usize> = (0..data.n()).filter(|&i| r[i] == id).collect();
        let t = Bt {
            ridge: 1.0,
            ..Bt::default()
        }
        .fit(&data.select(&rows))
        .unwrap()
        .coefficients
        .unwrap();
        mean[0] += t[0] / 40.0;
        mean[1] += t[1] / 40.0;
    }
    assert!(angular_error_deg(&f.direction, &mean) < 1e-9);
}

#[test]
fn panel_estimators_need_respondent_ids() {
    let dgp = Dgp::reference();
    let mut rng = signest_core::seed::stream(1, "x", 0);
    let data = dgp.sample(Design::Pooled { n: 100 }, &mut rng);
    for e in [
        &PerUser::default() as &dyn Estimator,
        &LatentClass::default(),
    ] {
        match e.fit(&data) {
            Err(FitError::Config(m)) => assert!(m.contains("respondent"), "{m}"),
            other => panic!("{}: {other:?}", e.name()),
        }
    }
}

/// The EM-gradient iteration (one Newton M-step per iteration, the default) and the reference
/// EM (exact M-steps) have the same fixed points; from the same starts they must reach the
/// same penalised log-likelihood (the start from bt is shared; the random starts differ by
/// construction: one Newton M-step against an exact one) within the stopping rule's own scale — `tol`·(1 + |ℓ|) per
/// iteration, so 1e-6 relative is generous — and directions Σ π_k β_k
/// within 0.05° (seen: < 2e-11 relative and < 4e-5°). Tempering the responsibilities
/// (τ ∝ e^{0.9(a − s)}) fails it by 0.4 in ℓ. A wrong gradient, curvature or responsibility in the fused
/// pass moves the fixed point and fails this.
#[test]
fn em_gradient_matches_the_reference_em() {
    let three = Population::Mixture {
        means: vec![vec![4.0, 0.0], vec![0.0, 4.0], vec![-4.0, 2.0]],
        weights: vec![0.3, 0.4, 0.3],
    };
    for (k, pop, seed, resp, m) in [
        (2, two_classes(), 11, 200, 10),
        (3, three, 12, 300, 20),
        (2, two_classes(), 13, 300, 5),
    ] {
        let data = panel(pop, resp, m, seed);
        let em = LatentClass {
            classes: Some(k),
            random_starts: 0,
            ..LatentClass::default()
        };
        let a = em.solve(&data).unwrap();
        let b = em.solve_reference(&data).unwrap();
        assert!(
            a.converged && b.converged,
            "K = {k}: {} / {} iterations",
            a.trace.len(),
            b.trace.len()
        );
        let pen = |s: &signest_estimator::EmSolution| {
            s.loglik
                - s.betas
                    .iter()
                    .map(|x| 0.5 * em.ridge * x.iter().map(|v| v * v).sum::<f64>())
                    .sum::<f64>()
        };
        let rel = (pen(&a) - pen(&b)).abs() / pen(&b).abs();
        eprintln!("K = {k}: rel {rel:.2e}");
        assert!(rel < 1e-6, "K = {k}: {} vs {}", pen(&a), pen(&b));
        let bar = |s: &signest_estimator::EmSolution| {
            let mut v = vec![0.0; 2];
            for (w, x) in s.weights.iter().zip(&s.betas) {
                v[0] += w * x[0];
                v[1] += w * x[1];
            }
            v
        };
        let ang = angular_error_deg(&bar(&a), &bar(&b));
        eprintln!("angle {ang:.2e}");
        assert!(ang < 0.05, "K = {k}: directions {ang}° apart");
    }
}
