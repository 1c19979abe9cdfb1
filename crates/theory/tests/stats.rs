//! The statistics of `signest_theory::stats` on constructed series whose answers are known
//! (issue 16 item 2). Each series is built by hand, not by the code under test; every test
//! below was checked to fail under a planted slip of the rule it guards. Planted one at a time
//! in crates/theory/src/stats.rs, each failed at least one test here: `+ 1.96 SE` → `− 1.96 SE`
//! in `crossover`; scanning the cells from the smallest n; the n − 1 divisor of the paired
//! variance → n; the log of the mean error dropped in `log_slope`; `plateau` returning the
//! last cell's mean; `rate_difference` as second minus first.

use signest_theory::stats::{
    Bootstrap, Series, SeriesCell, bootstrap, crossover, fit_plateau, paired_difference, plateau,
    rate, rate_difference,
};
use std::collections::BTreeMap;

/// A cell at n whose estimators have exactly the given per-replication errors.
fn cell(n: usize, errors: &[(&str, Vec<f64>)]) -> SeriesCell {
    let reps = errors[0].1.len();
    let map = |f: &dyn Fn(f64) -> f64| -> BTreeMap<String, Vec<f64>> {
        errors
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|x| f(*x)).collect()))
            .collect()
    };
    SeriesCell {
        key: format!("n={n}/d=2"),
        n,
        d: 2,
        heterogeneity: 1.0,
        type_weight: None,
        reps: (0..reps as u64).collect(),
        errors: map(&|x| x),
        disagreement: map(&|x| x / 180.0),
        sigma_angle: map(&|x| x),
    }
}

fn series(cells: Vec<SeriesCell>) -> Series {
    Series {
        group: "d=2".into(),
        d: 2,
        heterogeneity: 1.0,
        type_weight: None,
        cells,
    }
}

/// Replications `base·(1 + eps_r)` with a fixed zero-mean pattern of relative size `s`.
fn reps(base: f64, s: f64, r: usize) -> Vec<f64> {
    (0..r)
        .map(|i| base * (1.0 + s * (((i * 7919) % r) as f64 / (r - 1) as f64 - 0.5)))
        .collect()
}

fn b() -> Bootstrap {
    Bootstrap {
        resamples: 400,
        ..Bootstrap::default()
    }
}

/// Exact power law c·n^(−1/3) with identical replications: the rate is −1/3 to rounding and
/// its interval collapses on it (every resample is the same). Slip caught: the error not
/// logged before the regression.
#[test]
fn rate_of_an_exact_power_law() {
    let cells: Vec<SeriesCell> = [1e3f64, 1e4, 1e5, 1e6]
        .iter()
        .map(|&n| cell(n as usize, &[("sign", vec![30.0 * n.powf(-1.0 / 3.0); 5])]))
        .collect();
    let refs: Vec<&SeriesCell> = cells.iter().collect();
    let r = rate(&refs, "sign", &b(), "t");
    assert!((r.value + 1.0 / 3.0).abs() < 1e-12, "{r:?}");
    assert!(
        (r.lo + 1.0 / 3.0).abs() < 1e-12 && (r.hi + 1.0 / 3.0).abs() < 1e-12,
        "{r:?}"
    );
}

/// With noisy replications whose *means* follow n^(−1/2) exactly, the point estimate is −1/2
/// exactly (the rate is of the log of the mean error, SPEC §5) and the interval contains it
/// and is not degenerate.
#[test]
fn rate_uses_the_log_of_the_mean_and_its_interval_covers() {
    let cells: Vec<SeriesCell> = [1e2f64, 1e3, 1e4, 1e5]
        .iter()
        .map(|&n| cell(n as usize, &[("bt", reps(10.0 * n.powf(-0.5), 0.8, 21))]))
        .collect();
    for c in &cells {
        let m = c.mean("bt");
        let want = 10.0 * (c.n as f64).powf(-0.5);
        assert!(
            (m - want).abs() < 1e-12 * want,
            "pattern not mean-zero: {m} vs {want}"
        );
    }
    let refs: Vec<&SeriesCell> = cells.iter().collect();
    let r = rate(&refs, "bt", &b(), "t");
    assert!((r.value + 0.5).abs() < 1e-12, "{r:?}");
    assert!(r.contains(-0.5) && r.hi - r.lo > 1e-3, "{r:?}");
}

/// A flat series has rate 0; the difference of the rates of n^(−1/3) and n^(−1/2) is 1/6
/// (first minus second: a sign slip flips it).
#[test]
fn flat_series_and_rate_difference() {
    let cells: Vec<SeriesCell> = [1e3f64, 1e4, 1e5]
        .iter()
        .map(|&n| {
            cell(
                n as usize,
                &[
                    ("flat", vec![7.0; 4]),
                    ("a", vec![n.powf(-1.0 / 3.0); 4]),
                    ("b", vec![n.powf(-0.5); 4]),
                ],
            )
        })
        .collect();
    let refs: Vec<&SeriesCell> = cells.iter().collect();
    assert!(rate(&refs, "flat", &b(), "t").value.abs() < 1e-14);
    let d = rate_difference(&refs, "a", "b", &b(), "t");
    assert!((d.value - 1.0 / 6.0).abs() < 1e-12, "{d:?}");
}

/// The plateau of c + a·n^(−b) with b on the profile grid is c; an estimator that is
/// consistent (c = 0) has plateau 0 — up to the fit's own rounding. Slip caught: returning
/// the last cell's mean (3.26 here) instead of the fitted asymptote.
#[test]
fn plateau_of_an_exact_curve_and_of_a_consistent_one() {
    let cells: Vec<SeriesCell> = [1e2f64, 1e3, 1e4, 1e5, 1e6]
        .iter()
        .map(|&n| {
            cell(
                n as usize,
                &[
                    ("bt", reps(3.0 + 40.0 * n.powf(-0.4), 0.2, 9)),
                    ("sign", reps(25.0 * n.powf(-0.35), 0.2, 9)),
                ],
            )
        })
        .collect();
    let refs: Vec<&SeriesCell> = cells.iter().collect();
    let p = plateau(&refs, "bt", &b(), "t");
    assert!((p.value - 3.0).abs() < 1e-8, "{p:?}");
    assert!(p.contains(3.0), "{p:?}");
    let q = plateau(&refs, "sign", &b(), "t");
    assert!(q.value.abs() < 1e-8, "{q:?}");
    // The raw fit, weights equal: the grid holds b = 0.4 exactly.
    let n = [1e2f64, 1e3, 1e4];
    let y: Vec<f64> = n.iter().map(|v| 1.0 + 2.0 * v.powf(-0.4)).collect();
    let (c, a, bb) = fit_plateau(&n, &y, &[1.0; 3]);
    assert!((c - 1.0).abs() < 1e-9 && (a - 2.0).abs() < 1e-8 && (bb - 0.4).abs() < 1e-12);
}

/// Paired difference of known pairs: differences (−1, −2, −3) have mean −2 and standard error
/// 1/√3 (sd 1 with the n − 1 divisor). A single replication has no SE (NaN, never a false
/// "confident" crossing). Slips caught: dividing by n instead of n − 1 (SE 0.471), unpaired SE.
#[test]
fn paired_difference_of_known_pairs() {
    let c = cell(
        100,
        &[("a", vec![1.0, 2.0, 3.0]), ("b", vec![2.0, 4.0, 6.0])],
    );
    let (m, se) = paired_difference(&c, "a", "b");
    assert!(
        (m + 2.0).abs() < 1e-15 && (se - 1.0 / 3f64.sqrt()).abs() < 1e-15,
        "{m} {se}"
    );
    let one = cell(100, &[("a", vec![1.0]), ("b", vec![5.0])]);
    let (m, se) = paired_difference(&one, "a", "b");
    assert_eq!(m, -4.0);
    assert!(se.is_nan(), "{se}");
    let s = series(vec![one]);
    assert_eq!(crossover(&s, "a", "b"), None);
}

/// A sign estimator that is confidently better from n = 10^4 on: the crossover is 10^4.
/// Better at 10^3 and 10^4 but worse again at 10^5 (crosses back): no crossover, because it
/// must hold at every larger n. Better in mean but within 1.96 SE at the largest n (a crossing
/// without confidence): none. Slips caught: scanning from the smallest n (returns 10^3 in the
/// second series), `+` → `−` 1.96 SE (returns 10^5 in the third).
#[test]
fn crossover_needs_confidence_at_every_larger_n() {
    let better = |n: usize, delta: f64| {
        cell(
            n,
            &[
                (
                    "sign",
                    vec![10.0 - delta, 11.0 - delta, 9.0 - delta, 10.0 - delta],
                ),
                ("bt", vec![10.0, 11.0, 9.0, 10.0]),
            ],
        )
    };
    // Paired differences are exactly −delta in every replication (SE 0) unless jittered.
    let s = series(vec![
        better(1000, -1.0),
        better(10_000, 1.0),
        better(100_000, 2.0),
    ]);
    assert_eq!(crossover(&s, "sign", "bt"), Some(10_000));
    let back = series(vec![
        better(1000, 1.0),
        better(10_000, 1.0),
        better(100_000, -0.5),
    ]);
    assert_eq!(crossover(&back, "sign", "bt"), None);
    // Mean difference −0.5, paired SE 0.957: −0.5 + 1.96·0.957 > 0.
    let noisy = cell(
        100_000,
        &[
            ("sign", vec![8.0, 12.0, 8.0, 10.0]),
            ("bt", vec![10.0, 10.0, 10.0, 10.0]),
        ],
    );
    let (m, se) = paired_difference(&noisy, "sign", "bt");
    assert!((m + 0.5).abs() < 1e-15 && m + 1.96 * se > 0.0 && m - 1.96 * se < 0.0);
    let unsure = series(vec![better(10_000, 1.0), noisy]);
    assert_eq!(crossover(&unsure, "sign", "bt"), None);
}

/// The percentile bootstrap: a statistic that is constant across resamples has a degenerate
/// interval at its value; one that is NaN on every resample gives NaN ends, not a panic; the
/// draws are reproducible from the seed and change with the tag.
#[test]
fn bootstrap_at_the_boundary_and_reproducible() {
    let c = cell(10, &[("a", reps(5.0, 0.5, 11))]);
    let refs = vec![&c];
    let k = bootstrap(&refs, &b(), "t", |_| 2.5);
    assert_eq!((k.value, k.lo, k.hi), (2.5, 2.5, 2.5));
    let nan = bootstrap(&refs, &b(), "t", |_| f64::NAN);
    assert!(nan.value.is_nan() && nan.lo.is_nan() && nan.hi.is_nan());
    let mean = |idx: &[Vec<usize>]| c.resampled_mean("a", &idx[0]);
    let x = bootstrap(&refs, &b(), "t", mean);
    let y = bootstrap(&refs, &b(), "t", mean);
    let z = bootstrap(&refs, &b(), "u", mean);
    assert_eq!(x, y);
    assert_ne!((x.lo, x.hi), (z.lo, z.hi));
    assert!(x.lo < x.value && x.value < x.hi, "{x:?}");
    // 95% percentile interval of the mean of 11 values spread ±25% of 5: about ±1.96·SE.
    let se = c.mcse("a");
    assert!(
        ((x.hi - x.lo) / (2.0 * 1.96 * se) - 1.0).abs() < 0.25,
        "width {} vs {}",
        x.hi - x.lo,
        2.0 * 1.96 * se
    );
}
