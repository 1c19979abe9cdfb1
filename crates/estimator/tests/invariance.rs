//! Property tests of the estimators against invariances and independent brute force.

mod common;

use common::*;
use proptest::prelude::*;
use signest_core::Comparisons;
use signest_estimator::{AnyEstimator, Bt, Estimator, Hinge, Sign, SignSolver, SmoothConfig};

fn exact(data: &Comparisons) -> signest_estimator::Fit {
    Sign::exact().fit(data).unwrap()
}

/// Rebuilds a data set with row i of z scaled by s[i] (> 0).
fn rescaled(data: &Comparisons, s: &[f64]) -> Comparisons {
    let d = data.d();
    let z: Vec<f64> = (0..data.n())
        .flat_map(|i| {
            data.row(i)
                .iter()
                .map(move |v| v * s[i])
                .collect::<Vec<_>>()
        })
        .collect();
    Comparisons::new(d, z, data.y().to_vec()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    #[test]
    fn exact_2d_equals_brute_force_and_is_certified(data in noisy_linear_data(2, 2..40)) {
        let f = exact(&data);
        prop_assert!(f.certified());
        prop_assert_eq!(f.objective, brute_force_2d(&data));
        prop_assert_eq!(f.objective, loss(&data, &f.direction));
    }

    /// Integer features: opposite and collinear rows whose critical angles coincide.
    #[test]
    fn exact_2d_handles_degenerate_integer_data(z in prop::collection::vec(-3i32..=3, 60), y in prop::collection::vec(any::<bool>(), 30), n in 2usize..30) {
        let data = Comparisons::new(2, z[..n * 2].iter().map(|v| *v as f64).collect(), y[..n].iter().map(|b| if *b { 1.0 } else { -1.0 }).collect()).unwrap();
        let f = exact(&data);
        prop_assert!(f.certified(), "{:?}", f.notes);
        prop_assert_eq!(f.objective, brute_force_2d(&data));
    }

    #[test]
    fn exact_2d_is_below_every_sampled_direction(data in small_data(2, 2..60), t in prop::collection::vec(0.0f64..std::f64::consts::TAU, 50)) {
        let f = exact(&data);
        for t in t {
            prop_assert!(f.objective <= loss(&data, &[t.cos(), t.sin()]));
        }
    }

    #[test]
    fn branch_and_bound_equals_vertex_enumeration_in_3d(data in noisy_linear_data(3, 3..45)) {
        let f = exact(&data);
        prop_assert!(f.certified(), "{:?}", f.notes);
        prop_assert_eq!(f.objective, brute_force_3d(&data));
        prop_assert_eq!(f.objective, loss(&data, &f.direction));
    }

    /// Integer features in -2..=2: duplicate, opposite and concurrent hyperplanes everywhere.
    /// The vertex enumeration is then only an upper bound (every value it computes is the loss
    /// of a real direction), so the certified optimum must not exceed it.
    #[test]
    fn branch_and_bound_handles_degenerate_integer_data(z in prop::collection::vec(-2i32..=2, 30 * 3), y in prop::collection::vec(any::<bool>(), 30), n in 3usize..30) {
        let data = Comparisons::new(3, z[..n * 3].iter().map(|v| *v as f64).collect(), y[..n].iter().map(|b| if *b { 1.0 } else { -1.0 }).collect()).unwrap();
        let f = exact(&data);
        prop_assert_eq!(f.objective, loss(&data, &f.direction));
        prop_assert!(f.objective <= brute_force_3d(&data), "{} > {}", f.objective, brute_force_3d(&data));
        prop_assert!(f.certified(), "{:?}", f.notes);
        let grid = fibonacci_sphere(20_000);
        for u in grid.chunks_exact(3) {
            prop_assert!(f.objective <= loss(&data, u));
        }
    }

    /// Near-opposite pairs everywhere — each comparison also answered the other way with
    /// slightly different features, with unequal integer weights: the case of the exact
    /// solver's pair bound (sign/bnb.rs), whose fractional matching uses residual weights. A
    /// bound that claimed too much would certify a direction worse than the vertex
    /// enumeration's; cold starts, so the bound, not the warm start, must find the optimum.
    #[test]
    fn branch_and_bound_with_near_opposite_pairs_equals_vertex_enumeration(
        base in prop::collection::vec(-5.0f64..5.0, 18 * 3),
        jitter in prop::collection::vec(-0.4f64..0.4, 18 * 3),
        w in prop::collection::vec(1u8..4, 36),
        n in 3usize..18,
    ) {
        let mut z = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            z.extend_from_slice(&base[i * 3..i * 3 + 3]);
            y.push(1.0);
            z.extend((0..3).map(|k| base[i * 3 + k] + jitter[i * 3 + k]));
            y.push(-1.0);
        }
        let weights: Vec<f64> = w[..2 * n].iter().map(|v| *v as f64).collect();
        let data = Comparisons::new(3, z, y).unwrap().with_weights(weights).unwrap();
        let cold = Sign { solver: SignSolver::Exact(signest_estimator::ExactConfig { warm_start: false, ..Default::default() }) };
        for f in [exact(&data), cold.fit(&data).unwrap()] {
            prop_assert!(f.certified(), "{:?}", f.notes);
            prop_assert_eq!(f.objective, brute_force_3d(&data));
        }
    }

    #[test]
    fn branch_and_bound_without_warm_start_agrees(data in small_data(3, 3..20)) {
        let cold = Sign { solver: SignSolver::Exact(signest_estimator::ExactConfig { warm_start: false, ..Default::default() }) };
        let f = cold.fit(&data).unwrap();
        prop_assert!(f.certified());
        prop_assert_eq!(f.objective, brute_force_3d(&data));
    }

    #[test]
    fn sign_is_invariant_to_positive_row_rescaling(data in noisy_linear_data(2, 2..40), s in prop::collection::vec(0.01f64..100.0, 40), data3 in noisy_linear_data(3, 3..20)) {
        let f = exact(&data);
        let g = exact(&rescaled(&data, &s));
        prop_assert_eq!(f.objective, g.objective);
        // Componentwise: arccos cannot resolve angles below ~1e-8 rad (acos(1 − ε) ≈ √(2ε)).
        prop_assert!(f.direction.iter().zip(&g.direction).all(|(a, b)| (a - b).abs() < 1e-12), "{:?} vs {:?}", f.direction, g.direction);
        let f3 = exact(&data3);
        let g3 = exact(&rescaled(&data3, &s));
        prop_assert_eq!(f3.objective, g3.objective);
    }

    #[test]
    fn swapping_alternatives_and_flipping_labels_changes_no_estimator(data in noisy_linear_data(3, 5..40), flip in prop::collection::vec(any::<bool>(), 40)) {
        let d = data.d();
        let mut z = data.z().to_vec();
        let mut y = data.y().to_vec();
        for i in 0..data.n() {
            if flip[i] {
                z[i * d..(i + 1) * d].iter_mut().for_each(|v| *v = -*v);
                y[i] = -y[i];
            }
        }
        let swapped = Comparisons::new(d, z, y).unwrap();
        let ests = [
            AnyEstimator::Bt(Bt::default()),
            AnyEstimator::Hinge(Hinge::default()),
            AnyEstimator::Sign(Sign::exact()),
            AnyEstimator::Sign(Sign { solver: SignSolver::Smooth(SmoothConfig { random_starts: 1, ..Default::default() }) }),
        ];
        for e in &ests {
            match (e.fit(&data), e.fit(&swapped)) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a.direction, b.direction, "{}", e.name()),
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                (a, b) => prop_assert!(false, "{}: {:?} vs {:?}", e.name(), a.is_ok(), b.is_ok()),
            }
        }
    }

    #[test]
    fn permuting_rows_keeps_the_optimal_loss(data in noisy_linear_data(2, 2..40), data3 in noisy_linear_data(3, 3..20), seed in any::<u64>()) {
        for data in [data, data3] {
            let mut order: Vec<usize> = (0..data.n()).collect();
            // A permutation from the seed (Fisher–Yates with a SplitMix64 sequence).
            let mut s = seed;
            for i in (1..order.len()).rev() {
                let j = (signest_core::seed::splitmix64(&mut s) % (i as u64 + 1)) as usize;
                order.swap(i, j);
            }
            prop_assert_eq!(exact(&data).objective, exact(&data.select(&order)).objective);
        }
    }

    #[test]
    fn integer_weights_act_like_repeated_rows(data in noisy_linear_data(3, 3..15), k in prop::collection::vec(1u32..4, 15)) {
        let n = data.n();
        let weighted = data.clone().with_weights((0..n).map(|i| k[i] as f64).collect()).unwrap();
        let rows: Vec<usize> = (0..n).flat_map(|i| std::iter::repeat_n(i, k[i] as usize)).collect();
        let repeated = data.select(&rows);
        prop_assert_eq!(exact(&weighted).objective, exact(&repeated).objective);
        // 2-d projection: the sweep with weights against repetition.
        let z2: Vec<f64> = (0..n).flat_map(|i| data.row(i)[..2].to_vec()).collect();
        let d2 = Comparisons::new(2, z2, data.y().to_vec()).unwrap();
        let w2 = d2.clone().with_weights((0..n).map(|i| k[i] as f64).collect()).unwrap();
        prop_assert_eq!(exact(&w2).objective, exact(&d2.select(&rows)).objective);
        // bt: the weighted and repeated log-likelihoods are the same function.
        if let (Ok(a), Ok(b)) = (Bt::default().fit(&weighted), Bt::default().fit(&repeated))
            && a.status == signest_estimator::Status::Converged
        {
            // Componentwise (arccos cannot resolve angles below ~1e-8 rad).
            prop_assert!(a.direction.iter().zip(&b.direction).all(|(p, q)| (p - q).abs() < 1e-9), "{:?} vs {:?}", a.direction, b.direction);
        }
    }
}
