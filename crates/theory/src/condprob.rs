//! The conditional choice probability p(z) = P(y = 1 | z) of a DGP (SPEC §1), computed without
//! sampling: exactly for finite mixtures and closed forms, by Gauss–Hermite / Gauss–Laguerre
//! quadrature (64 nodes) over the one-dimensional index beta'z otherwise.
//!
//! Everything downstream (population targets) depends on the DGP only through p(z) and the
//! distribution of z; the large-sample route in [`crate::targets`] samples y from the DGP
//! itself instead, which is how the two are checked against each other.

use crate::quad::{Rule, hermite, laguerre, normal_cdf, sigmoid};
use signest_core::linalg::dot;
use signest_sim::{Dgp, Noise, Population};

/// p(z) for one DGP, with its quadrature rules built once.
#[derive(Debug, Clone)]
pub struct CondProb {
    population: Population,
    noise: Noise,
    gh: Rule,
    gl: Rule,
}

/// Noise CDF F(t) = P(eta > −t) = P(beta'z + eta > 0 | beta'z = t).
fn noise_cdf(noise: &Noise, t: f64) -> f64 {
    match *noise {
        Noise::Logistic { scale } => sigmoid(t / scale),
        Noise::Gaussian { scale } => normal_cdf(t / scale),
        Noise::None => {
            if t > 0.0 {
                1.0
            } else if t < 0.0 {
                0.0
            } else {
                0.5 // the sampler breaks exact ties with a fair coin
            }
        }
    }
}

impl CondProb {
    pub fn new(dgp: &Dgp) -> Self {
        CondProb {
            population: dgp.population.clone(),
            noise: dgp.noise,
            gh: hermite(64),
            gl: laguerre(64),
        }
    }

    /// E over t ~ N(m, s²) of F(t).
    fn gauss_index(&self, m: f64, s: f64) -> f64 {
        if s == 0.0 {
            return noise_cdf(&self.noise, m);
        }
        match self.noise {
            Noise::Gaussian { scale } => normal_cdf(m / (s * s + scale * scale).sqrt()),
            Noise::None => normal_cdf(m / s),
            Noise::Logistic { .. } => {
                let c = std::f64::consts::SQRT_2 * s;
                let sum: f64 = self
                    .gh
                    .nodes
                    .iter()
                    .zip(&self.gh.weights)
                    .map(|(x, w)| w * noise_cdf(&self.noise, m + c * x))
                    .sum();
                sum / std::f64::consts::PI.sqrt()
            }
        }
    }

    /// P(y = 1 | z).
    pub fn p(&self, z: &[f64]) -> f64 {
        let f = |t: f64| noise_cdf(&self.noise, t);
        match &self.population {
            Population::TwoType { beta_bar, v, delta } => {
                let (a, b) = (dot(beta_bar, z), delta * dot(v, z));
                0.5 * (f(a + b) + f(a - b))
            }
            Population::Mixture { means, weights } => means
                .iter()
                .zip(weights)
                .map(|(m, w)| w * f(dot(m, z)))
                .sum(),
            Population::Gaussian {
                beta_bar,
                tau,
                chol,
            } => {
                // beta'z ~ N(beta_bar'z, tau² |L'z|²).
                let d = z.len();
                let mut s2 = 0.0;
                for j in 0..d {
                    let mut lz = 0.0;
                    for i in j..d {
                        lz += chol[i * d + j] * z[i];
                    }
                    s2 += lz * lz;
                }
                self.gauss_index(dot(beta_bar, z), tau * s2.sqrt())
            }
            Population::Scale { b, sigma } => {
                let t = dot(b, z);
                if *sigma == 0.0 || matches!(self.noise, Noise::None) {
                    return f(t);
                }
                // s = exp(−σ²/2 + σ g), g ~ N(0, 1).
                let sum: f64 = self
                    .gh
                    .nodes
                    .iter()
                    .zip(&self.gh.weights)
                    .map(|(x, w)| {
                        let s = (-0.5 * sigma * sigma + sigma * std::f64::consts::SQRT_2 * x).exp();
                        w * f(s * t)
                    })
                    .sum();
                sum / std::f64::consts::PI.sqrt()
            }
            Population::Personas { d, betas } => {
                let r = betas.len() / d;
                betas.chunks_exact(*d).map(|b| f(dot(b, z))).sum::<f64>() / r as f64
            }
            Population::Skewed { beta_bar, v, tau } => {
                // t = a + c (E − 1), E ~ Exp(1).
                let (a, c) = (dot(beta_bar, z), tau * dot(v, z));
                if c == 0.0 {
                    return f(a);
                }
                if matches!(self.noise, Noise::None) {
                    let e0 = 1.0 - a / c; // t > 0 ⟺ E > e0 (c > 0) or E < e0 (c < 0)
                    let tail = (-e0.max(0.0)).exp();
                    return if c > 0.0 { tail } else { 1.0 - tail };
                }
                self.gl
                    .nodes
                    .iter()
                    .zip(&self.gl.weights)
                    .map(|(e, w)| w * f(a + c * (e - 1.0)))
                    .sum()
            }
        }
    }

    /// Directions (normals of hyperplanes through 0) where p may be non-smooth in z: used as
    /// quadrature breakpoints. Returned as vectors w, the kinks lying on {z : w'z = 0}.
    pub fn kink_normals(&self) -> Vec<Vec<f64>> {
        match &self.population {
            Population::TwoType { beta_bar, v, delta } => {
                let plus: Vec<f64> = beta_bar.iter().zip(v).map(|(b, x)| b + delta * x).collect();
                let minus: Vec<f64> = beta_bar.iter().zip(v).map(|(b, x)| b - delta * x).collect();
                vec![plus, minus]
            }
            Population::Mixture { means, .. } => means.clone(),
            Population::Gaussian { beta_bar, .. } => vec![beta_bar.clone()],
            Population::Scale { b, .. } => vec![b.clone()],
            Population::Skewed { beta_bar, v, .. } => vec![beta_bar.clone(), v.clone()],
            Population::Personas { d, betas } => betas
                .chunks_exact(*d)
                .take(64)
                .map(|b| b.to_vec())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signest_sim::{Design, Features};

    /// p(z) against the empirical frequency of y = 1 at a fixed z, from the sampler itself
    /// (features resampled from a one-row pool, so every draw has that z).
    #[test]
    fn p_matches_the_sampler_at_fixed_points() {
        let pops = [
            Population::two_type(vec![1.0, 0.5], vec![2.0, -0.5], 1.0).unwrap(),
            Population::Mixture {
                means: vec![vec![3.0, 0.0], vec![-1.0, 1.0]],
                weights: vec![0.3, 0.7],
            },
            Population::Gaussian {
                beta_bar: vec![1.0, 0.5],
                tau: 1.0,
                chol: vec![2.0, 0.0, 0.3, 0.5],
            },
            Population::Scale {
                b: vec![1.0, -2.0],
                sigma: 0.8,
            },
            Population::Skewed {
                beta_bar: vec![1.0, 0.5],
                v: vec![1.0, -1.0],
                tau: 1.5,
            },
        ];
        let noises = [
            Noise::Logistic { scale: 1.0 },
            Noise::Gaussian { scale: 0.7 },
            Noise::None,
        ];
        let z = [0.4, 0.9];
        let n = 200_000;
        let mut worst: f64 = 0.0;
        for (i, pop) in pops.iter().enumerate() {
            for (j, noise) in noises.iter().enumerate() {
                let dgp = Dgp::new(
                    pop.clone(),
                    Features::Resampled {
                        d: 2,
                        rows: std::sync::Arc::new(z.to_vec()),
                    },
                    *noise,
                )
                .unwrap();
                let p = CondProb::new(&dgp).p(&z);
                let mut rng = signest_core::seed::stream(7, "condprob", (i * 3 + j) as u64);
                let data = dgp.sample(Design::Pooled { n }, &mut rng);
                let freq = data.y().iter().filter(|y| **y > 0.0).count() as f64 / n as f64;
                let se = (p * (1.0 - p) / n as f64).sqrt().max(1e-9);
                // 4.5 standard errors: false-alarm rate ≈ 7e-6 per case, 15 cases.
                let zscore = (freq - p).abs() / se;
                worst = worst.max(zscore);
                assert!(
                    zscore < 4.5 || (freq - p).abs() < 1e-12,
                    "population {i}, noise {j}: p = {p}, frequency = {freq} ({zscore:.1} SE)"
                );
            }
        }
        eprintln!("largest |frequency − p| = {worst:.2} SE");
    }
}
