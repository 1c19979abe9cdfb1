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

/// Gaussian features (the twins' spectral features, and a covariance given by hand): the sample
/// second moment of 200,000 draws matches `covariance()` entry by entry within 5 MCSE (the
/// MCSE of each entry from the sample fourth moments; 5 MCSE over the 36 + 36 entries gives a
/// false-alarm probability below 1e-4 under the CLT), and the spectral Σ_z has trace 2d (Σ_x
/// is scaled to mean eigenvalue 1) and eigenvalue ratio d^alpha (its trace of Σ² checks it).
#[test]
fn gaussian_features_have_their_covariance() {
    let d = 6;
    let spectral = Features::spectral(d, 1.0, 4);
    let cov = spectral.covariance();
    let tr: f64 = (0..d).map(|j| cov[j * d + j]).sum();
    assert!((tr - 2.0 * d as f64).abs() < 1e-9, "trace {tr}");
    // tr(Σ²) = Σ λ_j² with λ_j = 2 j^(−1) / mean(j^(−1)).
    let h: f64 = (1..=d).map(|j| 1.0 / j as f64).sum::<f64>() / d as f64;
    let want: f64 = (1..=d).map(|j| (2.0 / (j as f64 * h)).powi(2)).sum();
    let got: f64 = (0..d * d).map(|k| cov[k] * cov[k]).sum();
    assert!((got - want).abs() < 1e-9 * want, "tr Σ² {got} vs {want}");
    let given = [
        2.0, 0.5, 0.0, 0.3, 0.5, 1.0, -0.2, 0.0, 0.0, -0.2, 0.5, 0.1, 0.3, 0.0, 0.1, 1.5,
    ];
    let chol = Features::gaussian_from_covariance(4, &given).unwrap();
    for (f, want) in [(&spectral, cov.clone()), (&chol, given.to_vec())] {
        let d = f.dim();
        assert!(f.is_gaussian());
        let n = 200_000;
        let mut rng = stream(12, "test/gaussian-features", d as u64);
        let mut z = vec![0.0; d];
        let mut s1 = vec![0.0; d * d];
        let mut s2 = vec![0.0; d * d];
        for _ in 0..n {
            f.sample_into(&mut rng, &mut z);
            for i in 0..d {
                for j in 0..d {
                    let p = z[i] * z[j];
                    s1[i * d + j] += p;
                    s2[i * d + j] += p * p;
                }
            }
        }
        for k in 0..d * d {
            let m = s1[k] / n as f64;
            let se = ((s2[k] / n as f64 - m * m) / n as f64).sqrt();
            assert!(
                (m - want[k]).abs() < 5.0 * se,
                "entry {k}: {m} vs {} ({se})",
                want[k]
            );
        }
    }
    // Not positive definite, not symmetric, wrong size: errors that say so.
    let e = Features::gaussian_from_covariance(2, &[1.0, 2.0, 2.0, 1.0]).unwrap_err();
    assert!(e.0.contains("positive definite"), "{e}");
    let e = Features::gaussian_from_covariance(2, &[1.0, 0.5, 0.0, 1.0]).unwrap_err();
    assert!(e.0.contains("not symmetric"), "{e}");
    assert!(Features::gaussian_from_covariance(2, &[1.0; 3]).is_err());
}

/// SPEC §3: for z ~ N(0, Σ) the disagreement of two directions is exactly their Σ-angle over
/// 180°. Checked against the Monte Carlo disagreement on 400,000 spectral draws at d = 8 for
/// three pairs (tolerance 4.5 binomial MCSE each: false alarm about 2e-5 over the three).
#[test]
fn disagreement_equals_sigma_angle_over_180_for_gaussian_features() {
    let d = 8;
    let f = Features::spectral(d, 1.5, 21);
    let cov = f.covariance();
    let mut rng = stream(5, "test/disagreement", 0);
    let test = f.test_set(400_000, &mut rng);
    let e = |j: usize| -> Vec<f64> { (0..d).map(|i| f64::from(u8::from(i == j))).collect() };
    let mix: Vec<f64> = (0..d).map(|i| 1.0 / (1.0 + i as f64)).collect();
    for (a, b) in [(e(0), e(1)), (e(0), mix.clone()), (e(7), mix)] {
        let exact = signest_core::metrics::sigma_angle_deg(&a, &b, &cov) / 180.0;
        let mc = signest_core::metrics::disagreement_on(&test, d, &a, &b);
        assert!(
            (mc.mean - exact).abs() < 4.5 * mc.mcse,
            "exact {exact} vs Monte Carlo {} ± {}",
            mc.mean,
            mc.mcse
        );
        // And the Euclidean angle is a different number under anisotropy.
        let eu = signest_core::metrics::angular_error_deg(&a, &b) / 180.0;
        assert!((eu - exact).abs() > 10.0 * mc.mcse, "{eu} vs {exact}");
    }
}

/// Embedding pairs: the closed-form E[z z'] = 2N/(N−1)(S − m m') equals the average of
/// (x_i − x_j)(x_i − x_j)' over all N(N−1) ordered pairs (enumerated, to 1e-12), and draws
/// hit every ordered pair i ≠ j uniformly (each of the 20 counts within 5 binomial SEs of
/// n/20: false-alarm probability below 1e-4 over the 20) and never i = j.
#[test]
fn embedding_pairs_have_their_covariance_and_draw_uniform_pairs() {
    let rows = vec![0.5, 1.0, -1.0, 2.0, 3.0, 0.25, 0.0, -0.5, 1.5, 1.5];
    let (n_alt, d) = (5, 2);
    let f = Features::Pairs {
        d,
        rows: std::sync::Arc::new(rows.clone()),
    };
    f.validate().unwrap();
    assert!(!f.is_gaussian());
    let mut want = [0.0; 4];
    for i in 0..n_alt {
        for j in 0..n_alt {
            if i != j {
                let z = [rows[2 * i] - rows[2 * j], rows[2 * i + 1] - rows[2 * j + 1]];
                for a in 0..2 {
                    for b in 0..2 {
                        want[a * 2 + b] += z[a] * z[b] / (n_alt * (n_alt - 1)) as f64;
                    }
                }
            }
        }
    }
    let got = f.covariance();
    for k in 0..4 {
        assert!((got[k] - want[k]).abs() < 1e-12, "{got:?} vs {want:?}");
    }
    let mut rng = stream(13, "test/pairs", 0);
    let n = 100_000;
    let mut counts = std::collections::HashMap::new();
    let mut z = [0.0; 2];
    for _ in 0..n {
        f.sample_into(&mut rng, &mut z);
        assert!(z != [0.0, 0.0], "a pair i = j was drawn");
        *counts
            .entry((z[0].to_bits(), z[1].to_bits()))
            .or_insert(0usize) += 1;
    }
    assert_eq!(counts.len(), 20);
    let p = 1.0 / 20.0;
    let se = (n as f64 * p * (1.0 - p)).sqrt();
    for c in counts.values() {
        assert!((*c as f64 - n as f64 * p).abs() < 5.0 * se, "count {c}");
    }
    assert!(
        Features::Pairs {
            d: 2,
            rows: std::sync::Arc::new(vec![1.0, 2.0])
        }
        .validate()
        .is_err()
    );
}
