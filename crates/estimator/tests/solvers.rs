//! Solver-level checks against independent references written here.

mod common;

use common::*;
use proptest::prelude::*;
use signest_core::Comparisons;
use signest_core::seed::stream;
use signest_estimator::{Bt, Estimator, Hinge, Sign, Status, bt_gradient};
use signest_sim::{Design, Dgp, Features, Noise, Population};

/// Plain gradient descent on the mean logistic loss with a fixed step 1/L, L = λ_max(X'X)/4n
/// bounded by trace: an independent, slow but sure reference for `bt`.
fn gradient_descent_bt(data: &Comparisons, iters: usize) -> Vec<f64> {
    let (n, d) = (data.n(), data.d());
    let trace: f64 = data.z().iter().map(|v| v * v).sum::<f64>() / n as f64;
    let step = 4.0 / trace;
    let mut theta = vec![0.0; d];
    for _ in 0..iters {
        let mut g = vec![0.0; d];
        for i in 0..n {
            let x: Vec<f64> = data.row(i).iter().map(|v| v * data.y()[i]).collect();
            let m = dot(&x, &theta);
            let p = 1.0 / (1.0 + m.exp());
            for j in 0..d {
                g[j] -= p * x[j] / n as f64;
            }
        }
        for j in 0..d {
            theta[j] -= step * g[j];
        }
    }
    theta
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, .. ProptestConfig::default() })]

    #[test]
    fn bt_gradient_vanishes_and_matches_gradient_descent(data in noisy_linear_data(3, 60..120)) {
        let f = Bt::default().fit(&data).unwrap();
        prop_assume!(f.status == Status::Converged);
        let theta = f.coefficients.clone().unwrap();
        let x = data.signed_rows();
        let g = bt_gradient(&x, None, 3, &theta, 0.0);
        let g0 = bt_gradient(&x, None, 3, &[0.0; 3], 0.0);
        prop_assert!(dot(&g, &g).sqrt() <= 1e-9 * dot(&g0, &g0).sqrt(), "gradient {:?}", g);
        let reference = gradient_descent_bt(&data, 20_000);
        // Agreement in angle to 0.01°: gradient descent run this long reaches the optimum of
        // these well-conditioned problems (the noise keeps them away from separation).
        prop_assert!(angle_deg(&f.direction, &reference) < 0.01, "{} deg", angle_deg(&f.direction, &reference));
    }
}

/// 300 rows with noiseless labels: every row is classified correctly by beta itself.
fn separable_data() -> Comparisons {
    let dgp = Dgp::new(
        Population::homogeneous(vec![1.0, -1.0, 0.5]),
        Features::Isotropic { d: 3 },
        Noise::None,
    )
    .unwrap();
    dgp.sample(Design::Pooled { n: 300 }, &mut stream(5, "separable", 0))
}

#[test]
fn bt_detects_separable_data_and_returns_a_finite_direction() {
    let data = separable_data();
    let f = Bt::default().fit(&data).unwrap();
    assert_eq!(f.status, Status::Separable, "{:?}", f.notes);
    assert!(f.direction.iter().all(|v| v.is_finite()));
    assert!(f.notes.iter().any(|n| n.contains("separable")));
    // The tiny-ridge direction separates the data too (it approaches the max-margin one).
    assert_eq!(
        signest_core::metrics::loss01(&data, &f.direction).correct,
        300
    );
}

#[test]
fn hinge_beats_an_independent_subgradient_method_on_its_own_objective() {
    let dgp = Dgp::reference();
    let data = dgp.sample(Design::Pooled { n: 400 }, &mut stream(6, "hinge", 0));
    let f = Hinge::default().fit(&data).unwrap();
    assert_eq!(f.status, Status::Converged, "{:?}", f.notes);
    let primal = |t: &[f64]| {
        0.5 * dot(t, t)
            + (0..data.n())
                .map(|i| (1.0 - data.y()[i] * dot(data.row(i), t)).max(0.0))
                .sum::<f64>()
    };
    // Subgradient descent with step 1/(k+1)·0.05, keeping the best iterate.
    let mut t = vec![0.0; 2];
    let mut best = primal(&t);
    for k in 0..20_000 {
        let mut g = t.clone();
        for i in 0..data.n() {
            if data.y()[i] * dot(data.row(i), &t) < 1.0 {
                for j in 0..2 {
                    g[j] -= data.y()[i] * data.row(i)[j];
                }
            }
        }
        let step = 0.05 / (k as f64 + 1.0).sqrt() / data.n() as f64;
        for j in 0..2 {
            t[j] -= step * g[j];
        }
        best = best.min(primal(&t));
    }
    // The dual solver's objective is within its reported relative gap (1e-5) of optimal, so it
    // cannot exceed what a subgradient method found by more than that.
    assert!(
        f.objective <= best * (1.0 + 1e-5),
        "{} vs {}",
        f.objective,
        best
    );
    assert!((f.objective - primal(f.coefficients.as_ref().unwrap())).abs() < 1e-9 * f.objective);
}

/// The certified-optimum instances both heuristic sign solvers are held to: symmetric two-type
/// heterogeneity, isotropic features, (d, n, replications) = (2, 1000, 20), (3, 1000, 20),
/// (3, 3000, 10). Yields (d, n, replication, data).
fn reference_instances() -> impl Iterator<Item = (usize, usize, u64, Comparisons)> {
    [(2usize, 1000usize, 20u64), (3, 1000, 20), (3, 3000, 10)]
        .into_iter()
        .flat_map(|(d, n, reps)| {
            let mut bb = vec![0.0; d];
            bb[0] = 1.0;
            bb[1] = 0.5;
            let mut v = vec![0.0; d];
            v[0] = 2.0;
            v[d - 1] = -1.5;
            let dgp = Dgp::new(
                Population::two_type(bb, v, 1.0).unwrap(),
                Features::Isotropic { d },
                Noise::Logistic { scale: 1.0 },
            )
            .unwrap();
            (0..reps).map(move |r| {
                let data = dgp.sample(
                    Design::Pooled { n },
                    &mut stream(7, &format!("smooth/d={d}/n={n}"), r),
                );
                (d, n, r, data)
            })
        })
}

/// The smoothed solver against the exact optimum on random d = 2 and d = 3 instances drawn from
/// the reference-like DGPs below. Bar: 0-1 loss within 1% of the exact optimum on every
/// instance. The observed distribution of the relative excess is printed (run with
/// `--nocapture`) and recorded in the closing note of the core issue.
#[test]
fn smooth_is_within_one_percent_of_the_exact_optimum() {
    let mut excess = Vec::new();
    for (d, n, r, data) in reference_instances() {
        let exact = Sign::exact().fit(&data).unwrap();
        assert!(exact.certified());
        let smooth = Sign::smooth().fit(&data).unwrap();
        let rel = (smooth.objective - exact.objective) / exact.objective;
        assert!(
            rel >= -1e-12,
            "smooth below the certified optimum: {} < {}",
            smooth.objective,
            exact.objective
        );
        assert!(
            rel <= 0.01,
            "d={d} n={n} rep {r}: smooth {} vs exact {}",
            smooth.objective,
            exact.objective
        );
        excess.push(rel);
    }
    excess.sort_by(f64::total_cmp);
    let exact_hits = excess.iter().filter(|e| **e == 0.0).count();
    println!(
        "smooth vs exact, relative excess 0-1 loss over {} instances: median {:.4}%, 90th pct {:.4}%, max {:.4}%, equal to the optimum in {}",
        excess.len(),
        100.0 * excess[excess.len() / 2],
        100.0 * excess[excess.len() * 9 / 10],
        100.0 * excess[excess.len() - 1],
        exact_hits
    );
}

fn anneal() -> Sign {
    Sign {
        solver: signest_estimator::SignSolver::Anneal(signest_estimator::AnnealConfig::default()),
    }
}

/// `anneal` with [`signest_estimator::AnnealConfig::fast`]: each anneal bar below holds for
/// both profiles.
fn anneal_fast() -> Sign {
    Sign {
        solver: signest_estimator::SignSolver::Anneal(signest_estimator::AnnealConfig::fast()),
    }
}

/// The registry's `profile` setting (experiment files, `signest fit --profile`) builds exactly
/// the two configurations the bars below check: `thorough` (and no profile) is
/// `AnnealConfig::default()`, `fast` is `AnnealConfig::fast()` — the same bits on the same
/// data, and the two profiles differ on it (so a swapped mapping fails). Any other name, or a
/// profile for a solver without one, is refused with the allowed values.
#[test]
fn the_registry_profiles_are_the_tested_anneal_configurations() {
    use signest_estimator::{NamedOptions, Registry};
    let reg = Registry::builtin();
    let build = |profile: Option<&str>| {
        reg.build(
            "sign",
            &NamedOptions {
                solver: Some("anneal".into()),
                profile: profile.map(str::to_string),
                ..NamedOptions::default()
            },
        )
    };
    let data = bt_data(30_000, 8, false, 11);
    let dir = |e: &dyn Estimator| e.fit(&data).unwrap().direction;
    let thorough = dir(&anneal());
    let fast = dir(&anneal_fast());
    assert_ne!(
        thorough, fast,
        "the profiles should differ on this instance"
    );
    assert_eq!(dir(build(None).unwrap().estimator.as_ref()), thorough);
    assert_eq!(
        dir(build(Some("thorough")).unwrap().estimator.as_ref()),
        thorough
    );
    assert_eq!(dir(build(Some("fast")).unwrap().estimator.as_ref()), fast);
    let e = build(Some("quick")).err().unwrap().to_string();
    assert!(
        e.contains("\"thorough\"") && e.contains("\"fast\"") && e.contains("quick"),
        "{e}"
    );
    let e = reg
        .build(
            "sign",
            &NamedOptions {
                solver: Some("smooth".into()),
                profile: Some("fast".into()),
                ..NamedOptions::default()
            },
        )
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("profile does not apply to sign (smooth)"), "{e}");
}

/// `anneal` against certified branch-and-bound optima at d = 2, 3 on the same instances as
/// `smooth`'s bar above (two-type heterogeneity): within 1% of the optimum on every instance,
/// never below it. The bar is `smooth`'s, so a regression of the heuristic fails it.
#[test]
fn anneal_is_within_one_percent_of_the_exact_optimum() {
    for (profile, solver) in [("default", anneal()), ("fast", anneal_fast())] {
        within_one_percent_of_the_exact_optimum(profile, &solver);
    }
}

fn within_one_percent_of_the_exact_optimum(profile: &str, solver: &Sign) {
    let mut excess = Vec::new();
    for (d, n, r, data) in reference_instances() {
        let exact = Sign::exact().fit(&data).unwrap();
        let a = solver.fit(&data).unwrap();
        assert_eq!(a.status, Status::Heuristic);
        let rel = (a.objective - exact.objective) / exact.objective;
        if rel > 0.01 {
            println!("{}", a.notes.join("; "));
        }
        assert!(rel >= -1e-12, "anneal below the certified optimum");
        assert!(
            rel <= 0.01,
            "d={d} n={n} rep {r}: anneal {} vs exact {}",
            a.objective,
            exact.objective
        );
        excess.push(rel);
    }
    excess.sort_by(f64::total_cmp);
    println!(
        "anneal ({profile}) vs exact over {} instances: median {:.4}%, max {:.4}%, equal to the optimum in {}",
        excess.len(),
        100.0 * excess[excess.len() / 2],
        100.0 * excess[excess.len() - 1],
        excess.iter().filter(|e| **e == 0.0).count()
    );
}

/// Where no optimum can be certified (d = 8, 32, 128) the truth is still a feasible point:
/// `anneal`'s 0-1 loss must not exceed that of u* on the same data (a proven optimiser
/// failure otherwise), on every instance of anisotropic Gaussian-heterogeneity data with
/// n = 20·d..; it must also be no worse than the better of its two starts (bt, the mean row).
#[test]
fn anneal_is_never_worse_than_the_truth_at_high_dimension() {
    for (d, n, reps) in [(8usize, 4000usize, 6u64), (32, 8000, 4), (128, 12000, 2)] {
        let mut bb = vec![0.0; d];
        bb[0] = 1.0;
        bb[1] = 0.5;
        let mut chol = vec![0.0; d * d];
        for j in 0..d {
            chol[j * d + j] = if j < 2 { 1.0 } else { 0.3 };
        }
        let dgp = Dgp::new(
            Population::Gaussian {
                beta_bar: bb,
                tau: 1.0,
                chol,
            },
            Features::embedding_like(d, 4.min(d), 0.3, 5),
            Noise::Logistic { scale: 1.0 },
        )
        .unwrap();
        let u_star = dgp.u_star().unwrap();
        for r in 0..reps {
            let data = dgp.sample(
                Design::Pooled { n },
                &mut stream(8, &format!("anneal/d={d}"), r),
            );
            let truth = loss(&data, &u_star);
            let bt = Bt::default().fit(&data).unwrap();
            for (profile, solver) in [("default", anneal()), ("fast", anneal_fast())] {
                let a = solver.fit(&data).unwrap();
                assert!(
                    a.objective <= truth,
                    "d={d} rep {r} ({profile}): anneal {} above the truth's {truth}",
                    a.objective
                );
                assert!(a.objective <= loss(&data, &bt.direction));
                println!(
                    "d={d} n={n} rep {r} ({profile}): anneal {} truth {truth} bt {}",
                    a.objective,
                    loss(&data, &bt.direction)
                );
            }
        }
    }
}

/// The fit is a function of the data alone: the same direction, bit for bit, on 1 and on 3
/// threads (n large enough that every parallel pass splits into several chunks).
#[test]
fn anneal_does_not_depend_on_the_thread_count() {
    let d = 12;
    let mut bb = vec![0.0; d];
    bb[0] = 1.0;
    let mut v = vec![0.0; d];
    v[1] = 1.0;
    let dgp = Dgp::new(
        Population::two_type(bb, v, 1.0).unwrap(),
        Features::Isotropic { d },
        Noise::Logistic { scale: 1.0 },
    )
    .unwrap();
    let data = dgp.sample(
        Design::Pooled { n: 60_000 },
        &mut stream(9, "anneal/threads", 0),
    );
    for solver in [anneal(), anneal_fast()] {
        let fit = |t: usize| on_threads(t, || solver.fit(&data).unwrap());
        let (one, three) = (fit(1), fit(3));
        assert_eq!(one.direction, three.direction);
        assert_eq!(one.objective, three.objective);
        assert_eq!(one.iterations, three.iterations);
    }
}

fn sgd(loss: signest_estimator::SgdLoss, seed: u64) -> signest_estimator::Sgd {
    signest_estimator::Sgd {
        loss,
        config: signest_estimator::SgdConfig {
            seed,
            ..Default::default()
        },
    }
}

/// The reward-model loop against the careful solvers on the same data (two-type
/// heterogeneity, d = 8, n = 20,000, 3 instances): bt by minibatch Adam lands within 1° of
/// Newton's MLE; the sign loss in the same loop reaches a 0-1 loss within 1% (relative) of
/// `anneal`'s and no worse than bt's. Fixed seed, fixed result; another seed, another path.
#[test]
fn sgd_trains_bt_and_sign_like_their_careful_solvers() {
    use signest_estimator::SgdLoss;
    let d = 8;
    let mut bb = vec![0.0; d];
    bb[0] = 1.0;
    bb[1] = 0.5;
    let mut v = vec![0.0; d];
    v[0] = 2.0;
    v[2] = -1.5;
    let dgp = Dgp::new(
        Population::two_type(bb, v, 1.0).unwrap(),
        Features::Isotropic { d },
        Noise::Logistic { scale: 1.0 },
    )
    .unwrap();
    for r in 0..3 {
        let data = dgp.sample(Design::Pooled { n: 20_000 }, &mut stream(12, "sgd", r));
        let newton = Bt::default().fit(&data).unwrap();
        let bt_sgd = sgd(SgdLoss::Logistic, 0).fit(&data).unwrap();
        let angle = angle_deg(&newton.direction, &bt_sgd.direction);
        let careful = anneal().fit(&data).unwrap();
        let sign_sgd = sgd(SgdLoss::Smoothed01, 0).fit(&data).unwrap();
        let rel = (sign_sgd.objective - careful.objective) / careful.objective;
        println!(
            "rep {r}: bt sgd vs newton {angle:.4}°; sign sgd 0-1 loss {} vs anneal {} ({:+.3}%), bt {}",
            sign_sgd.objective,
            careful.objective,
            100.0 * rel,
            loss(&data, &newton.direction)
        );
        assert!(angle < 1.0, "bt sgd {angle}° from newton");
        assert!(rel <= 0.01, "sign sgd {rel} above anneal");
        assert!(sign_sgd.objective <= loss(&data, &newton.direction));
        let again = sgd(SgdLoss::Smoothed01, 0).fit(&data).unwrap();
        assert_eq!(again.direction, sign_sgd.direction);
        let other = sgd(SgdLoss::Smoothed01, 1).fit(&data).unwrap();
        assert_ne!(other.direction, sign_sgd.direction);
    }
}

fn bt_with(solver: signest_estimator::BtSolver, ridge: f64) -> Bt {
    Bt {
        solver,
        ridge,
        ..Bt::default()
    }
}

/// Heterogeneous data with an anisotropic signal in d dimensions (two types along the first
/// two axes, logistic noise), optionally with weights drawn from the same stream.
fn bt_data(n: usize, d: usize, weighted: bool, seed: u64) -> Comparisons {
    let mut bb = vec![0.0; d];
    bb[0] = 1.0;
    bb[1] = 0.5;
    let mut v = vec![0.0; d];
    v[1] = 1.0;
    let dgp = Dgp::new(
        Population::two_type(bb, v, 1.5).unwrap(),
        Features::Isotropic { d },
        Noise::Logistic { scale: 1.0 },
    )
    .unwrap();
    let data = dgp.sample(Design::Pooled { n }, &mut stream(seed, "bt/subsampled", 0));
    if !weighted {
        return data;
    }
    let w: Vec<f64> = (0..n)
        .map(|i| 0.25 + ((i * 37) % 11) as f64 / 4.0)
        .collect();
    data.with_weights(w).unwrap()
}

/// `subsampled` solves newton's problem: on small data (no sampling) and on data large
/// enough that its early steps use a sampled Hessian (d ≥ 12, n ≥ 2·max(2048, 64 d)),
/// weighted and unweighted, with and without a ridge, its direction is newton's to 1e-6°,
/// its objective equal to 1e-12 relatively, and its gradient — recomputed by `bt_gradient`,
/// the newton code's own pass — below 1e-9 of the gradient at 0 (the stopping rule asks
/// 1e-10 of its own pass; the two passes round differently).
#[test]
fn bt_subsampled_reaches_newtons_optimum() {
    use signest_estimator::BtSolver;
    for (n, d, weighted, ridge) in [
        (400, 3, false, 0.0),
        (3_000, 7, true, 0.0),
        (20_000, 20, false, 0.0),
        (20_000, 20, true, 0.0),
        (12_000, 40, false, 5.0),
    ] {
        let data = bt_data(n, d, weighted, n as u64 + d as u64);
        let a = bt_with(BtSolver::Newton, ridge).fit(&data).unwrap();
        let b = bt_with(BtSolver::Subsampled, ridge).fit(&data).unwrap();
        let case = format!("n {n} d {d} weighted {weighted} ridge {ridge}");
        assert_eq!(b.status, Status::Converged, "{case}: {:?}", b.notes);
        assert_eq!(b.solver, "subsampled");
        // The large cases take the sampled path (its note says so), the small ones do not.
        let sampled = b.notes.iter().any(|m| m.contains("sampled Hessian"));
        assert_eq!(sampled, d >= 12, "{case}: {:?}", b.notes);
        // 2·asin(|a − b|/2): exact for tiny angles, where acos of the inner product (the
        // metric's formula) bottoms out near 1e-6°.
        let chord: f64 = a
            .direction
            .iter()
            .zip(&b.direction)
            .map(|(p, q)| (p - q) * (p - q))
            .sum::<f64>()
            .sqrt();
        let angle = (2.0 * (chord / 2.0).asin()).to_degrees();
        assert!(angle < 1e-6, "{case}: {angle} deg");
        assert!(
            (a.objective - b.objective).abs() <= 1e-12 * a.objective,
            "{case}: {} vs {}",
            a.objective,
            b.objective
        );
        let x = data.signed_rows();
        let theta = b.coefficients.clone().unwrap();
        let g = bt_gradient(&x, data.weights(), d, &theta, ridge);
        let g0 = bt_gradient(&x, data.weights(), d, &vec![0.0; d], ridge);
        assert!(
            dot(&g, &g).sqrt() <= 1e-9 * dot(&g0, &g0).sqrt(),
            "{case}: gradient {:e}",
            dot(&g, &g).sqrt()
        );
    }
}

#[test]
fn bt_subsampled_detects_separable_data_and_all_zero_rows() {
    use signest_estimator::BtSolver;
    let data = separable_data();
    // Two all-zero rows: the separation proof must discount them (their margin is always 0).
    let mut z = data.z().to_vec();
    z.extend_from_slice(&[0.0; 6]);
    let mut y = data.y().to_vec();
    y.extend_from_slice(&[1.0, -1.0]);
    let data = Comparisons::new(3, z, y).unwrap();
    let f = bt_with(BtSolver::Subsampled, 0.0).fit(&data).unwrap();
    assert_eq!(f.status, Status::Separable, "{:?}", f.notes);
    assert!(
        f.notes.iter().any(|n| n.contains("separable")),
        "{:?}",
        f.notes
    );
    assert_eq!(
        signest_core::metrics::loss01(&data, &f.direction).correct,
        300
    );
    let zeros = Comparisons::new(2, vec![0.0; 8], vec![1.0, -1.0, 1.0, 1.0]).unwrap();
    for solver in [BtSolver::Newton, BtSolver::Subsampled] {
        match bt_with(solver, 0.0).fit(&zeros) {
            Err(e) => assert!(e.to_string().contains("every comparison has z = 0"), "{e}"),
            Ok(f) => panic!("{solver:?}: all-zero data fitted: {:?}", f.direction),
        }
    }
}

/// Bit for bit the same fit on 1 and 2 threads, at n where every pass splits into chunks
/// and the sampled Hessian is used.
#[test]
fn bt_subsampled_does_not_depend_on_the_thread_count() {
    use signest_estimator::BtSolver;
    let data = bt_data(70_000, 16, true, 11);
    let fit = |t: usize| on_threads(t, || bt_with(BtSolver::Subsampled, 0.0).fit(&data).unwrap());
    let (one, two) = (fit(1), fit(2));
    assert_eq!(one.coefficients, two.coefficients);
    assert_eq!(one.objective.to_bits(), two.objective.to_bits());
    assert_eq!(one.iterations, two.iterations);
}

/// A wrong guess of which Hessian (sampled or full) to pack costs `subsampled` no pass. (Before
/// stop 32 it cost a separate pass; with that rule restored, 5 of these 48 fits fail this
/// test.) These data need no backtracking and every expected chord step earns its reuse (the
/// one other case of a pass only for a Hessian), so every pass is the start or a step's trial
/// point: passes = iterations + 1 exactly.
#[test]
fn bt_subsampled_pays_no_pass_for_a_wrong_hessian_guess() {
    use signest_estimator::BtSolver;
    for (n, d) in [
        (8_000, 13),
        (20_000, 12),
        (20_000, 20),
        (20_000, 50),
        (40_000, 30),
        (100_000, 50),
    ] {
        for seed in 0..4u64 {
            for weighted in [false, true] {
                let data = bt_data(n, d, weighted, seed);
                let f = bt_with(BtSolver::Subsampled, 0.0).fit(&data).unwrap();
                let case = format!("n {n} d {d} seed {seed} weighted {weighted}: {:?}", f.notes);
                assert_eq!(f.status, Status::Converged, "{case}");
                let want = format!("; {} passes over the data", f.iterations + 1);
                assert!(f.notes.iter().any(|t| t.ends_with(&want)), "{case}");
            }
        }
    }
}
