//! Gaussian quadrature rules (Golub–Welsch: nodes are the eigenvalues of the Jacobi matrix).

use nalgebra::{DMatrix, SymmetricEigen};

/// Nodes and weights of an n-point Gauss rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub nodes: Vec<f64>,
    pub weights: Vec<f64>,
}

fn golub_welsch(diag: &[f64], off: &[f64], mu0: f64) -> Rule {
    let n = diag.len();
    let mut j = DMatrix::<f64>::zeros(n, n);
    for i in 0..n {
        j[(i, i)] = diag[i];
        if i + 1 < n {
            j[(i, i + 1)] = off[i];
            j[(i + 1, i)] = off[i];
        }
    }
    let eig = SymmetricEigen::new(j);
    let mut pairs: Vec<(f64, f64)> = (0..n)
        .map(|k| {
            let v0 = eig.eigenvectors[(0, k)];
            (eig.eigenvalues[k], mu0 * v0 * v0)
        })
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    Rule {
        nodes: pairs.iter().map(|p| p.0).collect(),
        weights: pairs.iter().map(|p| p.1).collect(),
    }
}

/// Gauss–Legendre on [−1, 1]: ∫ f ≈ Σ w f(x), exact for polynomials of degree 2n − 1.
pub fn legendre(n: usize) -> Rule {
    let off: Vec<f64> = (1..n)
        .map(|k| {
            let k = k as f64;
            k / (4.0 * k * k - 1.0).sqrt()
        })
        .collect();
    golub_welsch(&vec![0.0; n], &off, 2.0)
}

/// Gauss–Hermite for the weight e^(−x²) on the real line.
pub fn hermite(n: usize) -> Rule {
    let off: Vec<f64> = (1..n).map(|k| (k as f64 / 2.0).sqrt()).collect();
    golub_welsch(&vec![0.0; n], &off, std::f64::consts::PI.sqrt())
}

/// Gauss–Laguerre for the weight e^(−x) on [0, ∞).
pub fn laguerre(n: usize) -> Rule {
    let diag: Vec<f64> = (0..n).map(|k| 2.0 * k as f64 + 1.0).collect();
    let off: Vec<f64> = (1..n).map(|k| k as f64).collect();
    golub_welsch(&diag, &off, 1.0)
}

/// Composite Gauss–Legendre nodes on [a, b] split at `breaks` (sorted or not; those outside
/// (a, b) are ignored), each piece cut into `sub` equal panels of `rule`'s size.
pub fn composite(a: f64, b: f64, breaks: &[f64], sub: usize, rule: &Rule) -> Vec<(f64, f64)> {
    let mut cuts: Vec<f64> = std::iter::once(a)
        .chain(breaks.iter().copied().filter(|x| *x > a && *x < b))
        .chain(std::iter::once(b))
        .collect();
    cuts.sort_by(f64::total_cmp);
    cuts.dedup_by(|x, y| (*x - *y).abs() < 1e-14);
    let mut out = Vec::new();
    for w in cuts.windows(2) {
        let (lo, hi) = (w[0], w[1]);
        let h = (hi - lo) / sub as f64;
        for s in 0..sub {
            let (pa, pb) = (lo + s as f64 * h, lo + (s + 1) as f64 * h);
            let (c, r) = (0.5 * (pa + pb), 0.5 * (pb - pa));
            for (x, wt) in rule.nodes.iter().zip(&rule.weights) {
                out.push((c + r * x, r * wt));
            }
        }
    }
    out
}

/// Standard normal CDF.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * statrs::function::erf::erfc(-x / std::f64::consts::SQRT_2)
}

pub use signest_estimator::numeric::sigmoid;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_integrate_known_moments() {
        // Legendre: ∫_{-1}^{1} x^6 = 2/7 and ∫ cos = 2 sin 1.
        let l = legendre(12);
        let s6: f64 = l
            .nodes
            .iter()
            .zip(&l.weights)
            .map(|(x, w)| w * x.powi(6))
            .sum();
        assert!((s6 - 2.0 / 7.0).abs() < 1e-14, "{s6}");
        let sc: f64 = l
            .nodes
            .iter()
            .zip(&l.weights)
            .map(|(x, w)| w * x.cos())
            .sum();
        assert!((sc - 2.0 * 1f64.sin()).abs() < 1e-14, "{sc}");
        // Hermite: ∫ x^4 e^{-x²} = 3√π/4.
        let h = hermite(20);
        let m4: f64 = h
            .nodes
            .iter()
            .zip(&h.weights)
            .map(|(x, w)| w * x.powi(4))
            .sum();
        assert!(
            (m4 - 0.75 * std::f64::consts::PI.sqrt()).abs() < 1e-12,
            "{m4}"
        );
        // Laguerre: ∫ x^5 e^{-x} = 120.
        let g = laguerre(20);
        let m5: f64 = g
            .nodes
            .iter()
            .zip(&g.weights)
            .map(|(x, w)| w * x.powi(5))
            .sum();
        assert!((m5 - 120.0).abs() < 1e-9, "{m5}");
        // Composite with breaks: ∫_0^3 |x − 1| = 0.5 + 2 exactly when 1 is a break.
        let c = composite(0.0, 3.0, &[1.0], 1, &legendre(4));
        let s: f64 = c.iter().map(|(x, w)| w * (x - 1.0).abs()).sum();
        assert!((s - 2.5).abs() < 1e-14, "{s}");
        let c = normal_cdf(1.959963984540054);
        assert!((c - 0.975).abs() < 1e-9, "{c}");
    }
}
