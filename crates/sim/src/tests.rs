use super::*;
use signest_core::seed::stream;

/// Sample mean of `n` draws of beta compared with beta_bar, coordinate by coordinate, in units
/// of the Monte Carlo standard error (sample sd / sqrt(n)). Tolerance 4.5 MCSE: a false alarm
/// has probability about 7e-6 per coordinate under the CLT (the seeds are fixed, so a pass is
/// reproducible; the tolerance says how surprising a failure would be).
fn check_mean(p: &Population, n: usize, seed: u64) {
    let d = p.dim();
    let mut rng = stream(seed, "test/moments", 0);
    let mut sum = vec![0.0; d];
    let mut sum2 = vec![0.0; d];
    let mut b = vec![0.0; d];
    for _ in 0..n {
        p.sample_into(&mut rng, &mut b);
        for j in 0..d {
            sum[j] += b[j];
            sum2[j] += b[j] * b[j];
        }
    }
    let bar = p.beta_bar();
    for j in 0..d {
        let m = sum[j] / n as f64;
        let var = (sum2[j] / n as f64 - m * m).max(0.0);
        let mcse = (var / n as f64).sqrt();
        if mcse == 0.0 {
            assert!(
                (m - bar[j]).abs() < 1e-12,
                "{p:?}: coordinate {j}: mean {m} vs {}",
                bar[j]
            );
        } else {
            let z = (m - bar[j]) / mcse;
            assert!(
                z.abs() < 4.5,
                "{p:?}: coordinate {j}: mean {m} vs beta_bar {} is {z:.2} MCSE away",
                bar[j]
            );
        }
    }
}

#[test]
fn population_means_match_beta_bar() {
    let n = 200_000;
    check_mean(
        &Population::two_type(vec![1.0, 0.5], vec![2.0, -0.5], 1.0).unwrap(),
        n,
        1,
    );
    check_mean(
        &Population::Mixture {
            means: vec![
                vec![3.0, 0.0, 1.0],
                vec![-1.0, 1.0, 0.0],
                vec![0.0, 0.0, 2.0],
            ],
            weights: vec![0.3, 0.5, 0.2],
        },
        n,
        2,
    );
    check_mean(
        &Population::Gaussian {
            beta_bar: vec![1.0, -2.0, 0.5],
            tau: 1.5,
            chol: vec![1.0, 0.0, 0.0, 0.5, 2.0, 0.0, -1.0, 0.3, 0.7],
        },
        n,
        3,
    );
    check_mean(
        &Population::Scale {
            b: vec![1.0, 2.0],
            sigma: 0.8,
        },
        n,
        4,
    );
    check_mean(
        &Population::Skewed {
            beta_bar: vec![1.0, 0.0],
            v: vec![0.0, 1.0],
            tau: 2.0,
        },
        n,
        5,
    );
    check_mean(&Population::homogeneous(vec![1.0, 1.0]), 1000, 6);
}

#[test]
fn gaussian_population_has_requested_covariance() {
    // S = L L' with L = [[1,0],[0.5,2]] -> S = [[1, 0.5], [0.5, 4.25]]; tau = 2 -> tau² S.
    let p = Population::Gaussian {
        beta_bar: vec![0.0, 0.0],
        tau: 2.0,
        chol: vec![1.0, 0.0, 0.5, 2.0],
    };
    let mut rng = stream(9, "test/cov", 0);
    let n = 200_000;
    let (mut s11, mut s12, mut s22) = (0.0, 0.0, 0.0);
    let mut b = [0.0; 2];
    for _ in 0..n {
        p.sample_into(&mut rng, &mut b);
        s11 += b[0] * b[0];
        s12 += b[0] * b[1];
        s22 += b[1] * b[1];
    }
    let (s11, s12, s22) = (s11 / n as f64, s12 / n as f64, s22 / n as f64);
    // Relative tolerance 3%: the MCSE of a Gaussian second moment is sqrt(2/n) ≈ 0.3% relative,
    // so 3% is about 10 MCSE.
    assert!((s11 / 4.0 - 1.0).abs() < 0.03, "{s11}");
    assert!((s12 / 2.0 - 1.0).abs() < 0.03, "{s12}");
    assert!((s22 / 17.0 - 1.0).abs() < 0.03, "{s22}");
}

#[test]
fn symmetry_flags() {
    assert!(
        Population::two_type(vec![1.0, 0.0], vec![0.0, 1.0], 2.0)
            .unwrap()
            .is_symmetric()
    );
    let sym = Population::Mixture {
        means: vec![vec![2.0, 0.0], vec![0.0, 2.0]],
        weights: vec![0.5, 0.5],
    };
    assert!(sym.is_symmetric());
    let skew = Population::Mixture {
        means: vec![vec![2.0, 0.0], vec![0.0, 2.0]],
        weights: vec![0.3, 0.7],
    };
    assert!(!skew.is_symmetric());
    assert!(
        !Population::Skewed {
            beta_bar: vec![1.0],
            v: vec![1.0],
            tau: 1.0
        }
        .is_symmetric()
    );
}

#[test]
fn invalid_specs_are_rejected_with_the_parameter_named() {
    let e = Population::Mixture {
        means: vec![vec![1.0], vec![2.0]],
        weights: vec![0.5, 0.6],
    }
    .validate()
    .unwrap_err();
    assert!(e.0.contains("weights sum"), "{e}");
    let e = Population::two_type(vec![1.0, 0.0], vec![1.0], 1.0).unwrap_err();
    assert!(e.0.contains("v has length 1"), "{e}");
    let e = Population::two_type(vec![1.0], vec![1.0], -1.0).unwrap_err();
    assert!(e.0.contains("delta"), "{e}");
    let e = Dgp::new(
        Population::homogeneous(vec![1.0, 0.0]),
        Features::Isotropic { d: 3 },
        Noise::None,
    )
    .unwrap_err();
    assert!(e.0.contains("d = 2") && e.0.contains("d = 3"), "{e}");
    assert!(Noise::Logistic { scale: 0.0 }.validate().is_err());
}

#[test]
fn sampling_is_reproducible_and_panel_ids_are_recorded() {
    let dgp = Dgp::reference();
    let a = dgp.sample(Design::Pooled { n: 500 }, &mut stream(1, "c", 0));
    let b = dgp.sample(Design::Pooled { n: 500 }, &mut stream(1, "c", 0));
    assert_eq!(a, b);
    let c = dgp.sample(Design::Pooled { n: 500 }, &mut stream(1, "c", 1));
    assert_ne!(a, c);
    let p = dgp.sample(
        Design::Panel {
            respondents: 7,
            per_respondent: 3,
        },
        &mut stream(1, "p", 0),
    );
    assert_eq!(p.n(), 21);
    assert_eq!(p.respondents().unwrap()[..7], [0, 0, 0, 1, 1, 1, 2]);
}

#[test]
fn noiseless_homogeneous_labels_follow_the_sign_of_beta_z() {
    let dgp = Dgp::new(
        Population::homogeneous(vec![1.0, -2.0, 0.5]),
        Features::Laplace { d: 3, scale: 1.0 },
        Noise::None,
    )
    .unwrap();
    let data = dgp.sample(Design::Pooled { n: 1000 }, &mut stream(3, "x", 0));
    for i in 0..data.n() {
        let s = signest_core::linalg::dot(data.row(i), &[1.0, -2.0, 0.5]);
        assert_eq!(data.y()[i], s.signum());
    }
}

#[test]
fn feature_distributions_have_their_moments() {
    // Var of Laplace(0,b) is 2b², of U(-a,a) is a²/3; embedding-like has Var = |A_j|² + noise².
    let mut rng = stream(4, "test/features", 0);
    let n = 100_000;
    for (f, var) in [
        (Features::Laplace { d: 1, scale: 2.0 }, 8.0),
        (
            Features::Uniform {
                d: 1,
                half_width: 3.0,
            },
            3.0,
        ),
        (Features::Anisotropic { scales: vec![0.5] }, 0.25),
    ] {
        let z = f.test_set(n, &mut rng);
        let v = z.iter().map(|x| x * x).sum::<f64>() / n as f64;
        // 5% relative: the MCSE of these second moments is below 1% relative at n = 1e5.
        assert!((v / var - 1.0).abs() < 0.05, "{f:?}: {v} vs {var}");
    }
    let e = Features::embedding_like(4, 2, 0.5, 11);
    let Features::EmbeddingLike { loadings, .. } = &e else {
        unreachable!()
    };
    let want = loadings[0] * loadings[0] + loadings[1] * loadings[1] + 0.25;
    let z = e.test_set(n, &mut rng);
    let v = z.chunks_exact(4).map(|r| r[0] * r[0]).sum::<f64>() / n as f64;
    assert!((v / want - 1.0).abs() < 0.05, "{v} vs {want}");
    assert_eq!(e, Features::embedding_like(4, 2, 0.5, 11));
}
