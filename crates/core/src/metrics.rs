//! Metrics of SPEC §3: angular error, disagreement, 0-1 loss.

use crate::data::Comparisons;
use crate::linalg::{dot, norm};

/// Angle between two directions in degrees: `arccos(clip(a'b / (|a||b|), −1, 1))`.
/// Inputs need not be unit vectors; a zero vector gives NaN.
pub fn angular_error_deg(u_hat: &[f64], u_star: &[f64]) -> f64 {
    let c = dot(u_hat, u_star) / (norm(u_hat) * norm(u_star));
    c.clamp(-1.0, 1.0).acos().to_degrees()
}

/// Angle between two directions in degrees by Kahan's formula `2·atan2(‖â − b̂‖, ‖â + b̂‖)`:
/// the same angle as [`angular_error_deg`], but accurate to a few ulps everywhere, where the
/// arccos form cannot resolve angles below ~1e-6° (arccos(1 − ε) ≈ √(2ε) rad). Used where a
/// tiny angle matters: population targets' biases and numerical errors, and the gate's
/// comparison of target directions. A zero vector gives NaN.
pub fn fine_angle_deg(a: &[f64], b: &[f64]) -> f64 {
    let (na, nb) = (norm(a), norm(b));
    if na == 0.0 || nb == 0.0 || !na.is_finite() || !nb.is_finite() {
        return f64::NAN;
    }
    let (mut minus, mut plus) = (0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (u, v) = (x / na, y / nb);
        minus += (u - v) * (u - v);
        plus += (u + v) * (u + v);
    }
    (2.0 * minus.sqrt().atan2(plus.sqrt())).to_degrees()
}

/// The Σ-weighted angle in degrees (SPEC §3): the angle between Σ^½ û and Σ^½ u*, i.e.
/// `arccos(û'Σu* / sqrt(û'Σû · u*'Σu*))`, with `cov` = Σ row-major d×d (symmetric positive
/// semi-definite). For z ~ N(0, Σ) the disagreement is exactly this over 180°.
pub fn sigma_angle_deg(u_hat: &[f64], u_star: &[f64], cov: &[f64]) -> f64 {
    let d = u_hat.len();
    assert_eq!(cov.len(), d * d, "covariance must be d×d");
    let form = |a: &[f64], b: &[f64]| -> f64 {
        (0..d)
            .map(|i| a[i] * dot(&cov[i * d..(i + 1) * d], b))
            .sum()
    };
    let c = form(u_hat, u_star) / (form(u_hat, u_hat) * form(u_star, u_star)).sqrt();
    c.clamp(-1.0, 1.0).acos().to_degrees()
}

/// Disagreement for test pairs from a distribution rotationally symmetric about 0 (isotropic
/// Gaussian): exactly `angle / 180°`.
pub fn disagreement_isotropic(u_hat: &[f64], u_star: &[f64]) -> f64 {
    angular_error_deg(u_hat, u_star) / 180.0
}

/// An estimate with its Monte Carlo standard error.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Estimate {
    pub mean: f64,
    pub mcse: f64,
}

/// Disagreement on a fixed test set (row-major m×d): the fraction of test pairs with
/// `sign(u_hat'z) ≠ sign(u_star'z)`, with its binomial MCSE `sqrt(p(1−p)/m)`.
pub fn disagreement_on(test_z: &[f64], d: usize, u_hat: &[f64], u_star: &[f64]) -> Estimate {
    let m = test_z.len() / d;
    assert!(m > 0, "empty test set");
    let k = test_z
        .chunks_exact(d)
        .filter(|z| {
            let a = dot(u_hat, z);
            let b = dot(u_star, z);
            (a > 0.0) != (b > 0.0) || (a == 0.0) != (b == 0.0)
        })
        .count();
    let p = k as f64 / m as f64;
    Estimate {
        mean: p,
        mcse: (p * (1.0 - p) / m as f64).sqrt(),
    }
}

/// The 0-1 loss of direction `u` on a data set (SPEC §2), as sums.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Loss01 {
    /// `Σ w_i 1{y_i u'z_i < 0} + ½ Σ w_i 1{u'z_i = 0}` — the `sign` objective.
    pub weighted: f64,
    /// The same with all weights 1.
    pub unweighted: f64,
    /// Rows with `y_i u'z_i > 0` (strictly correct).
    pub correct: usize,
    /// Rows with `u'z_i = 0`.
    pub ties: usize,
    /// `Σ w_i`.
    pub total_weight: f64,
    pub n: usize,
}

impl Loss01 {
    /// Weighted loss as a fraction of the total weight.
    pub fn weighted_fraction(&self) -> f64 {
        self.weighted / self.total_weight
    }
    /// Unweighted loss as a fraction of n.
    pub fn unweighted_fraction(&self) -> f64 {
        self.unweighted / self.n as f64
    }
}

/// Evaluates the 0-1 loss of `u` on `data` directly (one pass, no solver involved).
pub fn loss01(data: &Comparisons, u: &[f64]) -> Loss01 {
    let mut weighted = 0.0;
    let mut unweighted = 0.0;
    let mut correct = 0;
    let mut ties = 0;
    for i in 0..data.n() {
        let m = data.y()[i] * dot(data.row(i), u);
        let w = data.weight(i);
        if m > 0.0 {
            correct += 1;
        } else if m < 0.0 {
            weighted += w;
            unweighted += 1.0;
        } else {
            ties += 1;
            weighted += 0.5 * w;
            unweighted += 0.5;
        }
    }
    Loss01 {
        weighted,
        unweighted,
        correct,
        ties,
        total_weight: data.total_weight(),
        n: data.n(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tiny angles that arccos cannot resolve, known exactly from their construction
    /// (cos t, sin t); and the arccos values where both are accurate.
    #[test]
    fn fine_angle_resolves_tiny_angles() {
        for t in [1e-13f64, 1e-10, 1e-7, 1e-3] {
            let a = [t.cos() * 3.0, t.sin() * 3.0];
            let got = fine_angle_deg(&a, &[1.0, 0.0]);
            assert!(
                (got - t.to_degrees()).abs() <= 1e-12 * t.to_degrees(),
                "{t}: {got}"
            );
        }
        // arccos reads 0 for 1e-10 rad: the reason fine_angle_deg exists.
        let t: f64 = 1e-10;
        assert_eq!(angular_error_deg(&[t.cos(), t.sin()], &[1.0, 0.0]), 0.0);
        for (a, b) in [
            ([1.0, 0.3, -2.0], [0.5, 1.0, 1.0]),
            ([1.0, 0.0, 0.0], [-1.0, 1e-3, 0.0]),
        ] {
            let (f, c) = (fine_angle_deg(&a, &b), angular_error_deg(&a, &b));
            assert!((f - c).abs() < 1e-9, "{f} vs {c}");
        }
        assert_eq!(fine_angle_deg(&[1.0, 0.0], &[-2.0, 0.0]), 180.0);
        assert!(fine_angle_deg(&[0.0, 0.0], &[1.0, 0.0]).is_nan());
    }

    /// Hand-computed: Σ = diag(4, 1), û = (1, 0), u* = (1, 1): Σ^½û = (2, 0) and Σ^½u* = (2, 1),
    /// so the Σ-angle is atan(1/2) = 26.565…°, while the Euclidean angle is 45°.
    #[test]
    fn sigma_angle_of_a_known_pair() {
        let cov = [4.0, 0.0, 0.0, 1.0];
        let got = sigma_angle_deg(&[1.0, 0.0], &[1.0, 1.0], &cov);
        assert!((got - 0.5f64.atan().to_degrees()).abs() < 1e-12, "{got}");
        // Off-diagonal terms enter: Σ = [[1, 0.5], [0.5, 1]], û = (1, 0), u* = (0, 1):
        // cos = 0.5 / (1·1), 60°.
        let got = sigma_angle_deg(&[1.0, 0.0], &[0.0, 1.0], &[1.0, 0.5, 0.5, 1.0]);
        assert!((got - 60.0).abs() < 1e-12, "{got}");
        // d = 3 (row slices of Σ differ from d = 2's): Σ = diag(1, 4, 9), û = (0, 0, 1),
        // u* = (0, 1, 1): Σ^½û = (0, 0, 3), Σ^½u* = (0, 2, 3), angle atan(2/3).
        let cov3 = [1.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 9.0];
        let got = sigma_angle_deg(&[0.0, 0.0, 1.0], &[0.0, 1.0, 1.0], &cov3);
        assert!(
            (got - (2.0f64 / 3.0).atan().to_degrees()).abs() < 1e-12,
            "{got}"
        );
    }

    /// Hand-counted: of four test points, û = (1, 0) and u* = (1, 1) disagree in sign on
    /// exactly one, (−1, 2); a point with û'z = 0 = u*'z agrees; one with û'z = 0 < u*'z does not.
    #[test]
    fn disagreement_on_a_counted_test_set() {
        let z = [1.0, 1.0, -1.0, 2.0, 2.0, -1.0, -1.0, -1.0];
        let e = disagreement_on(&z, 2, &[1.0, 0.0], &[1.0, 1.0]);
        assert_eq!(e.mean, 0.25);
        assert!(
            (e.mcse - (0.25f64 * 0.75 / 4.0).sqrt()).abs() < 1e-15,
            "{e:?}"
        );
        let ties = [0.0, 0.0, 0.0, 1.0];
        let e = disagreement_on(&ties, 2, &[1.0, 0.0], &[1.0, 1.0]);
        assert_eq!(e.mean, 0.5, "(0,0) agrees, (0,1) disagrees");
    }

    /// Hand-computed: u = (1, 0) on four rows with weights 1, 2, 3, 4: row 1 correct, row 2
    /// wrong, row 3 a tie (z'u = 0), row 4 wrong. Weighted loss 2 + 1.5 + 4 = 7.5 of 10;
    /// unweighted 1 + 0.5 + 1 = 2.5 of 4.
    #[test]
    fn loss01_of_a_counted_data_set() {
        let z = vec![1.0, 0.0, 1.0, 5.0, 0.0, 1.0, -2.0, 1.0];
        let y = vec![1.0, -1.0, 1.0, 1.0];
        let data = Comparisons::new(2, z, y)
            .unwrap()
            .with_weights(vec![1.0, 2.0, 3.0, 4.0])
            .unwrap();
        let l = loss01(&data, &[1.0, 0.0]);
        assert_eq!((l.correct, l.ties, l.n), (1, 1, 4));
        assert_eq!((l.weighted, l.unweighted, l.total_weight), (7.5, 2.5, 10.0));
        assert_eq!(l.weighted_fraction(), 0.75);
        assert_eq!(l.unweighted_fraction(), 0.625);
    }

    #[test]
    fn angle_of_known_pairs() {
        assert!((angular_error_deg(&[1.0, 0.0], &[0.0, 2.0]) - 90.0).abs() < 1e-12);
        assert!((angular_error_deg(&[1.0, 1.0], &[1.0, 0.0]) - 45.0).abs() < 1e-12);
        assert!(angular_error_deg(&[3.0, 0.0], &[1.0, 0.0]).abs() < 1e-12);
        assert!((angular_error_deg(&[-1.0, 0.0], &[1.0, 0.0]) - 180.0).abs() < 1e-12);
    }

    #[test]
    fn monte_carlo_disagreement_matches_isotropic_formula() {
        // A deterministic, rotationally symmetric test set: 3600 points evenly on the circle.
        let m = 3600;
        let z: Vec<f64> = (0..m)
            .flat_map(|k| {
                let t = (k as f64 + 0.5) * std::f64::consts::TAU / m as f64;
                [t.cos(), t.sin()]
            })
            .collect();
        let a = [1.0, 0.0];
        let b = [30f64.to_radians().cos(), 30f64.to_radians().sin()];
        let e = disagreement_on(&z, 2, &a, &b);
        assert!((e.mean - disagreement_isotropic(&a, &b)).abs() < 1.0 / m as f64);
    }

    #[test]
    fn sigma_angle_is_the_angle_after_whitening() {
        // Σ = diag(4, 1): Σ^½ = diag(2, 1), so (1, 0) and (1, 2) map to (2, 0) and (2, 2): 45°.
        let cov = [4.0, 0.0, 0.0, 1.0];
        assert!((sigma_angle_deg(&[1.0, 0.0], &[1.0, 2.0], &cov) - 45.0).abs() < 1e-12);
        // Σ = I: the Euclidean angle.
        let id = [1.0, 0.0, 0.0, 1.0];
        let (a, b) = ([0.3, -0.7], [0.9, 0.2]);
        assert!((sigma_angle_deg(&a, &b, &id) - angular_error_deg(&a, &b)).abs() < 1e-12);
        // A correlated Σ = R R' with R = [[1, 0], [1, 1]]: Σ^½-angle equals the angle
        // between R'a and R'b (any square root gives the same angle).
        let cov = [1.0, 1.0, 1.0, 2.0];
        let rt = |v: [f64; 2]| [v[0] + v[1], v[1]];
        let want = angular_error_deg(&rt(a), &rt(b));
        assert!((sigma_angle_deg(&a, &b, &cov) - want).abs() < 1e-10);
    }

    #[test]
    fn loss01_counts_ties_as_half() {
        let data = Comparisons::new(2, vec![1.0, 0.0, -1.0, 0.0, 0.0, 1.0], vec![1.0, 1.0, -1.0])
            .unwrap()
            .with_weights(vec![1.0, 2.0, 4.0])
            .unwrap();
        let l = loss01(&data, &[1.0, 0.0]);
        assert_eq!(l.correct, 1);
        assert_eq!(l.ties, 1);
        assert_eq!(l.weighted, 2.0 + 2.0);
        assert_eq!(l.unweighted, 1.5);
    }
}
