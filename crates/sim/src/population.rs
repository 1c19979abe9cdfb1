//! Populations of user coefficients beta (heterogeneity).

use crate::{SimError, VectorDistribution, err};
use rand::distr::{Distribution, Open01};
use rand::{Rng, RngExt};
use rand_distr::{Exp1, StandardNormal};
use std::sync::Arc;

/// The distribution P of beta (SPEC §1, §6).
#[derive(Debug, Clone, PartialEq)]
pub enum Population {
    /// `beta = beta_bar ± delta·v`, each sign with probability ½ (symmetric about beta_bar).
    TwoType {
        beta_bar: Vec<f64>,
        v: Vec<f64>,
        delta: f64,
    },
    /// K types: `beta = means[k]` with probability `weights[k]` (symmetric or not).
    Mixture {
        means: Vec<Vec<f64>>,
        weights: Vec<f64>,
    },
    /// `beta ~ N(beta_bar, tau² S)`, `S = L L'` with `chol` the row-major lower-triangular L.
    Gaussian {
        beta_bar: Vec<f64>,
        tau: f64,
        chol: Vec<f64>,
    },
    /// `beta = s·b` with `s ~ LogNormal(−σ²/2, σ)` (E s = 1): users differ in intensity only.
    Scale { b: Vec<f64>, sigma: f64 },
    /// `beta = beta_bar + tau·(E − 1)·v`, `E ~ Exp(1)`: mean beta_bar, skewed (not symmetric).
    Skewed {
        beta_bar: Vec<f64>,
        v: Vec<f64>,
        tau: f64,
    },
    /// A finite panel of personas (SPEC §6 `persona_panel`): beta is one of the rows of
    /// `betas` (row-major, `betas.len() / d` personas), each with probability 1/R.
    Personas { d: usize, betas: Arc<Vec<f64>> },
}

impl Population {
    /// [`Population::TwoType`], validated.
    pub fn two_type(beta_bar: Vec<f64>, v: Vec<f64>, delta: f64) -> Result<Self, SimError> {
        let p = Population::TwoType { beta_bar, v, delta };
        p.validate()?;
        Ok(p)
    }

    /// No heterogeneity: every user has `beta`.
    pub fn homogeneous(beta: Vec<f64>) -> Self {
        let d = beta.len();
        Population::TwoType {
            beta_bar: beta,
            v: vec![0.0; d],
            delta: 0.0,
        }
    }

    /// `Gaussian` with isotropic S = I.
    pub fn isotropic_gaussian(beta_bar: Vec<f64>, tau: f64) -> Self {
        let d = beta_bar.len();
        let mut chol = vec![0.0; d * d];
        for j in 0..d {
            chol[j * d + j] = 1.0;
        }
        Population::Gaussian {
            beta_bar,
            tau,
            chol,
        }
    }

    pub fn dim(&self) -> usize {
        match self {
            Population::TwoType { beta_bar, .. }
            | Population::Gaussian { beta_bar, .. }
            | Population::Skewed { beta_bar, .. } => beta_bar.len(),
            Population::Mixture { means, .. } => means.first().map_or(0, |m| m.len()),
            Population::Scale { b, .. } => b.len(),
            Population::Personas { d, .. } => *d,
        }
    }

    /// `beta_bar = E[beta]`.
    pub fn beta_bar(&self) -> Vec<f64> {
        match self {
            Population::TwoType { beta_bar, .. }
            | Population::Gaussian { beta_bar, .. }
            | Population::Skewed { beta_bar, .. } => beta_bar.clone(),
            Population::Mixture { means, weights } => {
                let mut m = vec![0.0; self.dim()];
                for (mu, w) in means.iter().zip(weights) {
                    signest_core::linalg::axpy(*w, mu, &mut m);
                }
                m
            }
            Population::Scale { b, .. } => b.clone(),
            Population::Personas { d, betas } => {
                let r = (betas.len() / d.max(&1)).max(1) as f64;
                let mut m = vec![0.0; *d];
                for row in betas.chunks_exact(*d) {
                    signest_core::linalg::axpy(1.0 / r, row, &mut m);
                }
                m
            }
        }
    }

    /// Checks dimensions and ranges; messages name the offending parameter.
    pub fn validate(&self) -> Result<(), SimError> {
        let d = self.dim();
        if d == 0 {
            return err("population: dimension d must be at least 1");
        }
        let finite = |name: &str, v: &[f64]| -> Result<(), SimError> {
            if v.iter().all(|x| x.is_finite()) {
                Ok(())
            } else {
                err(format!("population: {name} has a non-finite entry"))
            }
        };
        let nonneg = |name: &str, x: f64| -> Result<(), SimError> {
            if x.is_finite() && x >= 0.0 {
                Ok(())
            } else {
                err(format!("population: {name} must be >= 0, got {x}"))
            }
        };
        // beta_bar ± scale·v shapes (two_type, skewed).
        let shift = |beta_bar: &[f64], v: &[f64], name: &str, scale: f64| {
            finite("beta_bar", beta_bar)?;
            finite("v", v)?;
            if v.len() != d {
                return err(format!(
                    "population: v has length {}, beta_bar has d = {d}",
                    v.len()
                ));
            }
            nonneg(name, scale)
        };
        match self {
            Population::TwoType { beta_bar, v, delta } => shift(beta_bar, v, "delta", *delta)?,
            Population::Skewed { beta_bar, v, tau } => shift(beta_bar, v, "tau", *tau)?,
            Population::Mixture { means, weights } => {
                if means.len() != weights.len() || means.is_empty() {
                    return err(format!(
                        "population: {} means but {} weights",
                        means.len(),
                        weights.len()
                    ));
                }
                for (k, m) in means.iter().enumerate() {
                    if m.len() != d {
                        return err(format!(
                            "population: means[{k}] has length {}, expected {d}",
                            m.len()
                        ));
                    }
                    finite(&format!("means[{k}]"), m)?;
                }
                if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
                    return err("population: weights must be finite and >= 0");
                }
                let s: f64 = weights.iter().sum();
                if (s - 1.0).abs() > 1e-9 {
                    return err(format!("population: weights sum to {s}, not 1"));
                }
            }
            Population::Gaussian {
                beta_bar,
                tau,
                chol,
            } => {
                finite("beta_bar", beta_bar)?;
                finite("chol", chol)?;
                if chol.len() != d * d {
                    return err(format!(
                        "population: chol has {} entries, expected d*d = {}",
                        chol.len(),
                        d * d
                    ));
                }
                nonneg("tau", *tau)?;
            }
            Population::Scale { b, sigma } => {
                finite("b", b)?;
                nonneg("sigma", *sigma)?;
            }
            Population::Personas { betas, .. } => {
                if betas.is_empty() || betas.len() % d != 0 {
                    return err(format!(
                        "population: {} persona coefficients are not a non-empty multiple of d = {d}",
                        betas.len()
                    ));
                }
                finite("personas", betas)?;
            }
        }
        Ok(())
    }

    /// One plus the last coordinate in which some user's beta can be non-zero, read off the
    /// population's parameters (for `Gaussian`, the rows of L too); `None` for an empty panel.
    pub fn support_dim(&self) -> Option<usize> {
        let last = |v: &[f64]| v.iter().rposition(|x| *x != 0.0).map_or(0, |j| j + 1);
        let d = self.dim();
        Some(match self {
            Population::TwoType { beta_bar, v, .. } | Population::Skewed { beta_bar, v, .. } => {
                last(beta_bar).max(last(v))
            }
            Population::Mixture { means, .. } => means.iter().map(|m| last(m)).max()?,
            Population::Gaussian { beta_bar, chol, .. } => {
                let rows = chol
                    .chunks_exact(d)
                    .map(last)
                    .zip(0..)
                    .filter(|(l, _)| *l > 0);
                last(beta_bar).max(rows.map(|(_, j)| j + 1).max().unwrap_or(0))
            }
            Population::Scale { b, .. } => last(b),
            Population::Personas { d, betas } => betas.chunks_exact(*d).map(last).max()?,
        })
    }

    /// The population of the first k coordinates of beta (k ≥ [`Self::support_dim`], so the
    /// others are 0): the same law for (beta_1, …, beta_k).
    pub fn truncated(&self, k: usize) -> Population {
        let d = self.dim();
        let cut = |v: &[f64]| v[..k].to_vec();
        match self {
            Population::TwoType { beta_bar, v, delta } => Population::TwoType {
                beta_bar: cut(beta_bar),
                v: cut(v),
                delta: *delta,
            },
            Population::Skewed { beta_bar, v, tau } => Population::Skewed {
                beta_bar: cut(beta_bar),
                v: cut(v),
                tau: *tau,
            },
            Population::Mixture { means, weights } => Population::Mixture {
                means: means.iter().map(|m| cut(m)).collect(),
                weights: weights.clone(),
            },
            // L is lower-triangular: beta_1..k use only L's top-left k×k block.
            Population::Gaussian {
                beta_bar,
                tau,
                chol,
            } => Population::Gaussian {
                beta_bar: cut(beta_bar),
                tau: *tau,
                chol: (0..k)
                    .flat_map(|i| chol[i * d..i * d + k].iter().copied())
                    .collect(),
            },
            Population::Scale { b, sigma } => Population::Scale {
                b: cut(b),
                sigma: *sigma,
            },
            Population::Personas { d, betas } => Population::Personas {
                d: k,
                betas: std::sync::Arc::new(
                    betas
                        .chunks_exact(*d)
                        .flat_map(|r| r[..k].iter().copied())
                        .collect(),
                ),
            },
        }
    }

    /// Whether beta − beta_bar is symmetric about 0 by construction (the sufficient condition
    /// of SPEC §4 for `sign` to identify u*, together with symmetric noise).
    pub fn is_symmetric(&self) -> bool {
        match self {
            Population::TwoType { .. } | Population::Gaussian { .. } => true,
            Population::Skewed { tau, v, .. } => *tau == 0.0 || v.iter().all(|x| *x == 0.0),
            Population::Scale { sigma, .. } => *sigma == 0.0,
            Population::Personas { d, betas } => {
                // Symmetric iff the multiset {beta_r − beta_bar} is closed under negation.
                let bar = self.beta_bar();
                let mut c: Vec<Vec<f64>> = betas
                    .chunks_exact(*d)
                    .map(|r| r.iter().zip(&bar).map(|(a, b)| a - b).collect())
                    .collect();
                let mut neg: Vec<Vec<f64>> =
                    c.iter().map(|r| r.iter().map(|x| -x).collect()).collect();
                let key = |a: &Vec<f64>, b: &Vec<f64>| {
                    a.iter()
                        .zip(b)
                        .map(|(x, y)| x.total_cmp(y))
                        .find(|o| o.is_ne())
                        .unwrap_or(std::cmp::Ordering::Equal)
                };
                c.sort_by(key);
                neg.sort_by(key);
                c.iter()
                    .zip(&neg)
                    .all(|(a, b)| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9))
            }
            Population::Mixture { means, weights } => {
                // Symmetric iff the multiset {(mean_k − beta_bar, w_k)} is closed under negation.
                let bar = self.beta_bar();
                let c: Vec<Vec<f64>> = means
                    .iter()
                    .map(|m| m.iter().zip(&bar).map(|(a, b)| a - b).collect())
                    .collect();
                c.iter().zip(weights).all(|(ck, wk)| {
                    let mirrored: f64 = c
                        .iter()
                        .zip(weights)
                        .filter(|(cj, _)| cj.iter().zip(ck).all(|(a, b)| (a + b).abs() < 1e-12))
                        .map(|(_, w)| *w)
                        .sum();
                    (mirrored - wk).abs() < 1e-12 || *wk == 0.0 && mirrored == 0.0
                })
            }
        }
    }
}

impl VectorDistribution for Population {
    fn dim(&self) -> usize {
        Population::dim(self)
    }

    fn sample_into<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]) {
        match self {
            Population::TwoType { beta_bar, v, delta } => {
                let s = if rng.random::<bool>() {
                    *delta
                } else {
                    -*delta
                };
                for ((o, b), vi) in out.iter_mut().zip(beta_bar).zip(v) {
                    *o = b + s * vi;
                }
            }
            Population::Mixture { means, weights } => {
                let u: f64 = Open01.sample(rng);
                let mut acc = 0.0;
                let mut k = means.len() - 1;
                for (j, w) in weights.iter().enumerate() {
                    acc += w;
                    if u < acc {
                        k = j;
                        break;
                    }
                }
                out.copy_from_slice(&means[k]);
            }
            Population::Gaussian {
                beta_bar,
                tau,
                chol,
            } => {
                // out <- g ~ N(0, I), then out[j] <- beta_bar[j] + tau (L g)[j], from the last
                // row up so that g[..=j] is still intact when row j is formed.
                let d = beta_bar.len();
                out.iter_mut().for_each(|o| *o = StandardNormal.sample(rng));
                for j in (0..d).rev() {
                    let lg: f64 = chol[j * d..=j * d + j]
                        .iter()
                        .zip(&out[..=j])
                        .map(|(a, b)| a * b)
                        .sum();
                    out[j] = beta_bar[j] + tau * lg;
                }
            }
            Population::Scale { b, sigma } => {
                let g: f64 = StandardNormal.sample(rng);
                let s = (sigma * g - 0.5 * sigma * sigma).exp();
                for (o, bi) in out.iter_mut().zip(b) {
                    *o = s * bi;
                }
            }
            Population::Skewed { beta_bar, v, tau } => {
                let e: f64 = Exp1.sample(rng);
                for ((o, b), vi) in out.iter_mut().zip(beta_bar).zip(v) {
                    *o = b + tau * (e - 1.0) * vi;
                }
            }
            Population::Personas { d, betas } => {
                let r = rng.random_range(0..betas.len() / d);
                out.copy_from_slice(&betas[r * d..(r + 1) * d]);
            }
        }
    }
}
