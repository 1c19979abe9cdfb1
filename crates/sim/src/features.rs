//! Distributions of the comparison differences z.

use crate::{SimError, VectorDistribution, err};
use rand::distr::{Distribution, Open01};
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;
use std::sync::Arc;

/// The distribution Q of z = x_a − x_b (SPEC §6).
#[derive(Debug, Clone, PartialEq)]
pub enum Features {
    /// z ~ N(0, I_d). Rotationally symmetric: disagreement = angle/180° exactly.
    Isotropic { d: usize },
    /// Independent N(0, scales[j]²) coordinates.
    Anisotropic { scales: Vec<f64> },
    /// Independent Laplace(0, scale) coordinates.
    Laplace { d: usize, scale: f64 },
    /// Independent uniform coordinates on [−half_width, half_width].
    Uniform { d: usize, half_width: f64 },
    /// Embedding-like: `z = A g + noise·e`, with A a fixed d×rank loading matrix (row-major),
    /// g ~ N(0, I_rank), e ~ N(0, I_d). Build A with [`Features::embedding_like`].
    EmbeddingLike {
        d: usize,
        rank: usize,
        loadings: Vec<f64>,
        noise: f64,
    },
    /// Rows drawn uniformly with replacement from a fixed pool (for example a real data set).
    Resampled { d: usize, rows: Arc<Vec<f64>> },
}

impl Features {
    /// Embedding-like features whose loadings A (entries N(0, 1/rank)) are drawn once from the
    /// stream `(loading_seed, "signest/embedding-loadings", 0)`, so the same seed always gives
    /// the same A, independent of any replication.
    pub fn embedding_like(d: usize, rank: usize, noise: f64, loading_seed: u64) -> Self {
        let mut rng = signest_core::seed::stream(loading_seed, "signest/embedding-loadings", 0);
        let s = 1.0 / (rank.max(1) as f64).sqrt();
        let loadings = (0..d * rank)
            .map(|_| {
                let g: f64 = StandardNormal.sample(&mut rng);
                s * g
            })
            .collect();
        Features::EmbeddingLike {
            d,
            rank,
            loadings,
            noise,
        }
    }

    pub fn dim(&self) -> usize {
        match self {
            Features::Isotropic { d }
            | Features::Laplace { d, .. }
            | Features::Uniform { d, .. }
            | Features::EmbeddingLike { d, .. }
            | Features::Resampled { d, .. } => *d,
            Features::Anisotropic { scales } => scales.len(),
        }
    }

    /// True when Q is rotationally symmetric about 0, so disagreement is exactly angle/180°.
    pub fn is_rotationally_symmetric(&self) -> bool {
        matches!(self, Features::Isotropic { .. })
    }

    pub fn validate(&self) -> Result<(), SimError> {
        let d = self.dim();
        if d == 0 {
            return err("features: dimension d must be at least 1");
        }
        let pos = |name: &str, x: f64| {
            if x.is_finite() && x > 0.0 {
                Ok(())
            } else {
                err(format!("features: {name} must be finite and > 0, got {x}"))
            }
        };
        match self {
            Features::Isotropic { .. } => Ok(()),
            Features::Anisotropic { scales } => scales.iter().try_for_each(|s| pos("scale", *s)),
            Features::Laplace { scale, .. } => pos("scale", *scale),
            Features::Uniform { half_width, .. } => pos("half_width", *half_width),
            Features::EmbeddingLike {
                rank,
                loadings,
                noise,
                ..
            } => {
                if *rank == 0 || loadings.len() != d * rank {
                    return err(format!(
                        "features: embedding loadings must be d×rank = {d}×{rank}"
                    ));
                }
                if !(noise.is_finite() && *noise >= 0.0) {
                    return err(format!("features: noise must be >= 0, got {noise}"));
                }
                Ok(())
            }
            Features::Resampled { rows, .. } => {
                if rows.is_empty() || rows.len() % d != 0 {
                    return err(format!(
                        "features: resampling pool of {} values is not a non-empty multiple of d = {d}",
                        rows.len()
                    ));
                }
                if rows.iter().any(|x| !x.is_finite()) {
                    return err("features: resampling pool has a non-finite value");
                }
                Ok(())
            }
        }
    }

    /// A fixed test set of m draws (row-major m×d) for Monte Carlo disagreement.
    pub fn test_set<R: Rng + ?Sized>(&self, m: usize, rng: &mut R) -> Vec<f64> {
        let d = self.dim();
        let mut z = vec![0.0; m * d];
        for row in z.chunks_exact_mut(d) {
            self.sample_into(rng, row);
        }
        z
    }
}

impl VectorDistribution for Features {
    fn dim(&self) -> usize {
        Features::dim(self)
    }

    fn sample_into<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]) {
        match self {
            Features::Isotropic { .. } => {
                out.iter_mut().for_each(|o| *o = StandardNormal.sample(rng));
            }
            Features::Anisotropic { scales } => {
                for (o, s) in out.iter_mut().zip(scales) {
                    let g: f64 = StandardNormal.sample(rng);
                    *o = s * g;
                }
            }
            Features::Laplace { scale, .. } => {
                for o in out.iter_mut() {
                    let u: f64 = Open01.sample(rng);
                    // Inverse CDF of Laplace(0, scale) at u.
                    *o = if u < 0.5 {
                        scale * (2.0 * u).ln()
                    } else {
                        -scale * (2.0 - 2.0 * u).ln()
                    };
                }
            }
            Features::Uniform { half_width, .. } => {
                for o in out.iter_mut() {
                    let u: f64 = rng.random();
                    *o = half_width * (2.0 * u - 1.0);
                }
            }
            Features::EmbeddingLike {
                d,
                rank,
                loadings,
                noise,
            } => {
                let g: Vec<f64> = (0..*rank).map(|_| StandardNormal.sample(rng)).collect();
                for j in 0..*d {
                    let a = &loadings[j * rank..(j + 1) * rank];
                    let e: f64 = StandardNormal.sample(rng);
                    out[j] = a.iter().zip(&g).map(|(x, y)| x * y).sum::<f64>() + noise * e;
                }
            }
            Features::Resampled { d, rows } => {
                let m = rows.len() / d;
                let k = rng.random_range(0..m);
                out.copy_from_slice(&rows[k * d..(k + 1) * d]);
            }
        }
    }
}
