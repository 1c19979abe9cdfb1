//! # signest-sim
//!
//! Data-generating processes (SPEC §6), shaped like `rand`: each piece is a distribution that
//! is handed an RNG, never one that owns or creates one. Randomness comes only from the caller's
//! stream (SPEC §7, [`signest_core::seed`]).
//!
//! - [`Population`]: the distribution P of user coefficients beta (heterogeneity), with its
//!   mean `beta_bar` and the target direction `u* = beta_bar / ||beta_bar||`.
//! - [`Features`]: the distribution of comparison differences z.
//! - [`Noise`]: idiosyncratic noise eta (logistic, Gaussian or none).
//! - [`Dgp`]: the three together; [`Dgp::sample`] draws a [`Comparisons`] data set under a
//!   pooled or panel [`Design`].
//!
//! Draw order inside one data set (part of the reproducibility contract): for a panel, first
//! the R respondent coefficients in respondent order; then, row by row, the d features of z,
//! then (pooled) that row's beta, then its noise.

mod features;
pub mod personas;
mod population;
pub mod spec;
pub mod twins;

pub use features::Features;
pub use personas::PersonaSpec;
pub use population::Population;
pub use twins::TwinSpec;

use rand::distr::{Distribution, Open01};
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;
use signest_core::Comparisons;
use signest_core::linalg::dot;
use std::fmt;

/// An invalid DGP specification.
#[derive(Debug, Clone, PartialEq)]
pub struct SimError(pub String);

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for SimError {}

pub(crate) fn err<T>(msg: impl Into<String>) -> Result<T, SimError> {
    Err(SimError(msg.into()))
}

/// A distribution over vectors of a fixed dimension that writes into a caller's buffer
/// (no allocation per draw). [`AsDistribution`] adapts it to `rand`'s `Distribution`.
pub trait VectorDistribution {
    fn dim(&self) -> usize;
    fn sample_into<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]);
}

/// Adapts a [`VectorDistribution`] to `rand::distr::Distribution<Vec<f64>>`.
pub struct AsDistribution<'a, T>(pub &'a T);

impl<T: VectorDistribution> Distribution<Vec<f64>> for AsDistribution<'_, T> {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f64> {
        let mut v = vec![0.0; self.0.dim()];
        self.0.sample_into(rng, &mut v);
        v
    }
}

/// Idiosyncratic noise eta = eps_a − eps_b (SPEC §1).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Noise {
    /// Logistic(0, scale): Gumbel utility noise, so one user follows Bradley–Terry.
    Logistic { scale: f64 },
    /// N(0, scale²): probit.
    Gaussian { scale: f64 },
    /// No noise: y = sign(beta'z).
    None,
}

impl Noise {
    pub fn validate(&self) -> Result<(), SimError> {
        match self {
            Noise::Logistic { scale } | Noise::Gaussian { scale }
                if !(scale.is_finite() && *scale > 0.0) =>
            {
                err(format!("noise scale must be finite and > 0, got {scale}"))
            }
            _ => Ok(()),
        }
    }

    /// One draw of eta.
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Noise::Logistic { scale } => {
                let u: f64 = Open01.sample(rng);
                scale * (u / (1.0 - u)).ln()
            }
            Noise::Gaussian { scale } => {
                let g: f64 = StandardNormal.sample(rng);
                scale * g
            }
            Noise::None => 0.0,
        }
    }
}

/// How comparisons are assigned to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Design {
    /// n comparisons, each answered by a fresh user (RLHF's pooled design).
    Pooled { n: usize },
    /// `respondents` users with fixed beta, each answering `per_respondent` comparisons;
    /// respondent ids are recorded.
    Panel {
        respondents: usize,
        per_respondent: usize,
    },
}

impl Design {
    pub fn n(&self) -> usize {
        match *self {
            Design::Pooled { n } => n,
            Design::Panel {
                respondents,
                per_respondent,
            } => respondents * per_respondent,
        }
    }
}

/// A data-generating process: population × features × noise.
#[derive(Debug, Clone, PartialEq)]
pub struct Dgp {
    pub population: Population,
    pub features: Features,
    pub noise: Noise,
}

impl Dgp {
    /// Builds and validates (dimensions agree, parameters in range).
    pub fn new(population: Population, features: Features, noise: Noise) -> Result<Self, SimError> {
        population.validate()?;
        features.validate()?;
        noise.validate()?;
        if population.dim() != features.dim() {
            return err(format!(
                "population has d = {} but features have d = {}",
                population.dim(),
                features.dim()
            ));
        }
        Ok(Dgp {
            population,
            features,
            noise,
        })
    }

    /// The SPEC §6 reference case: d = 2, types (3, 0) and (−1, 1) with probability ½ each,
    /// z ~ N(0, I), logistic noise.
    pub fn reference() -> Self {
        Dgp::new(
            Population::two_type(vec![1.0, 0.5], vec![2.0, -0.5], 1.0).expect("valid"),
            Features::Isotropic { d: 2 },
            Noise::Logistic { scale: 1.0 },
        )
        .expect("valid")
    }

    pub fn dim(&self) -> usize {
        self.population.dim()
    }

    /// The DGP restricted to its first k coordinates, when the others are pure noise: every
    /// user's beta is 0 beyond k (by construction, not by chance: the population's own
    /// parameters are 0 there) and the features have independent coordinates, each symmetric
    /// about 0 (isotropic, anisotropic, Laplace, uniform). Then (y, z_1..k) is independent of
    /// z_(k+1)..d and has the law of the returned DGP's (y, z). `None` when no coordinate can
    /// be dropped. Used by population targets (a padded DGP's targets are the block's, padded
    /// with zeros).
    pub fn leading_block(&self) -> Option<(usize, Dgp)> {
        let d = self.dim();
        let k = self.population.support_dim()?;
        if k == 0 || k >= d {
            return None;
        }
        let features = match &self.features {
            Features::Isotropic { .. } => Features::Isotropic { d: k },
            Features::Anisotropic { scales } => Features::Anisotropic {
                scales: scales[..k].to_vec(),
            },
            Features::Laplace { scale, .. } => Features::Laplace {
                d: k,
                scale: *scale,
            },
            Features::Uniform { half_width, .. } => Features::Uniform {
                d: k,
                half_width: *half_width,
            },
            Features::EmbeddingLike { .. }
            | Features::Resampled { .. }
            | Features::Pairs { .. }
            | Features::Gaussian { .. } => return None,
        };
        let block = Dgp::new(self.population.truncated(k), features, self.noise).ok()?;
        Some((k, block))
    }

    /// `u* = beta_bar / ||beta_bar||` (SPEC §1). `None` when beta_bar = 0 (no target).
    pub fn u_star(&self) -> Option<Vec<f64>> {
        signest_core::linalg::normalized(&self.population.beta_bar())
    }

    /// Draws one data set. All randomness comes from `rng`, in the order documented above.
    pub fn sample<R: Rng + ?Sized>(&self, design: Design, rng: &mut R) -> Comparisons {
        let d = self.dim();
        let n = design.n();
        let mut z = vec![0.0; n * d];
        let mut y = vec![0.0; n];
        let mut beta = vec![0.0; d];
        let mut respondents = None;
        let panel_betas: Vec<f64> = match design {
            Design::Pooled { .. } => Vec::new(),
            Design::Panel {
                respondents: r,
                per_respondent: m,
            } => {
                let mut b = vec![0.0; r * d];
                for chunk in b.chunks_exact_mut(d) {
                    self.population.sample_into(rng, chunk);
                }
                respondents = Some((0..n).map(|i| (i / m) as u32).collect::<Vec<u32>>());
                b
            }
        };
        for i in 0..n {
            let zi = &mut z[i * d..(i + 1) * d];
            self.features.sample_into(rng, zi);
            let b: &[f64] = match design {
                Design::Pooled { .. } => {
                    self.population.sample_into(rng, &mut beta);
                    &beta
                }
                Design::Panel {
                    per_respondent: m, ..
                } => {
                    let r = i / m;
                    &panel_betas[r * d..(r + 1) * d]
                }
            };
            let s = dot(b, zi) + self.noise.sample(rng);
            y[i] = if s > 0.0 {
                1.0
            } else if s < 0.0 {
                -1.0
            } else if rng.random::<bool>() {
                1.0
            } else {
                -1.0
            };
        }
        let data = Comparisons::new(d, z, y).expect("sampled data are valid by construction");
        match respondents {
            Some(r) => data.with_respondents(r).expect("lengths agree"),
            None => data,
        }
    }
}

#[cfg(test)]
mod tests;
