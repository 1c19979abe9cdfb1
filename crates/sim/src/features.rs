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
    /// z ~ N(0, Σ) with `Σ = R R'`: `z = R g`, g ~ N(0, I_d), `root` = R row-major d×d (any
    /// square root; full rank). Built by [`Features::spectral`] for the twin panels (SPEC §6
    /// `twins`) or from a covariance with [`Features::gaussian_from_covariance`].
    Gaussian { d: usize, root: Arc<Vec<f64>> },
    /// Embeddings of N ≥ 2 alternatives (`rows`, row-major N×d, e.g. a user's sentence
    /// embeddings): z = x_i − x_j for a uniformly drawn ordered pair i ≠ j. Mean 0 and
    /// E[z z'] = 2N/(N−1)·(S − m m'), S and m the rows' second moment and mean.
    Pairs { d: usize, rows: Arc<Vec<f64>> },
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

    /// Features of a twin panel (SPEC §6 `twins`): an alternative's embedding x ~ N(0, Σ_x)
    /// with eigenvalues λ_j ∝ j^(−alpha) (j = 1..d, scaled to mean 1, so trace Σ_x = d; alpha =
    /// 0 is isotropic) in a fixed random rotation Q (Haar, from modified Gram–Schmidt on a
    /// Gaussian matrix drawn from the stream `(rotation_seed, "signest/twins-rotation", 0)`),
    /// and z = x_a − x_b ~ N(0, 2Σ_x): `root` = √2 Q Λ^½.
    pub fn spectral(d: usize, alpha: f64, rotation_seed: u64) -> Self {
        let mut rng = signest_core::seed::stream(rotation_seed, "signest/twins-rotation", 0);
        let q = haar_rotation(d, &mut rng);
        let lam: Vec<f64> = (1..=d).map(|j| (j as f64).powf(-alpha)).collect();
        let mean = lam.iter().sum::<f64>() / d as f64;
        let mut root = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                // Column j of Q scaled by sqrt(2 λ_j / mean).
                root[i * d + j] = q[i * d + j] * (2.0 * lam[j] / mean).sqrt();
            }
        }
        Features::Gaussian {
            d,
            root: Arc::new(root),
        }
    }

    /// z ~ N(0, Σ_z) from a covariance (row-major d×d, symmetric positive definite), via its
    /// Cholesky factor. `Err` names what is wrong (not square, not symmetric, not positive
    /// definite).
    pub fn gaussian_from_covariance(d: usize, cov: &[f64]) -> Result<Self, SimError> {
        if d == 0 || cov.len() != d * d {
            return err(format!(
                "features: covariance must be d×d = {d}×{d}, got {} values",
                cov.len()
            ));
        }
        if let Some(bad) = cov.iter().find(|x| !x.is_finite()) {
            return err(format!("features: covariance has a non-finite entry {bad}"));
        }
        for i in 0..d {
            for j in 0..i {
                let (a, b) = (cov[i * d + j], cov[j * d + i]);
                if (a - b).abs() > 1e-9 * (1.0 + a.abs().max(b.abs())) {
                    return err(format!(
                        "features: covariance is not symmetric: entry ({}, {}) = {a} but ({}, {}) = {b}",
                        i + 1,
                        j + 1,
                        j + 1,
                        i + 1
                    ));
                }
            }
        }
        let mut l = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..=i {
                let mut s = cov[i * d + j];
                for k in 0..j {
                    s -= l[i * d + k] * l[j * d + k];
                }
                if i == j {
                    if s.is_nan() || s <= 1e-12 * cov[i * d + i].abs().max(f64::MIN_POSITIVE) {
                        return err(format!(
                            "features: covariance is not positive definite (pivot {} is {s:e})",
                            i + 1
                        ));
                    }
                    l[i * d + i] = s.sqrt();
                } else {
                    l[i * d + j] = s / l[j * d + j];
                }
            }
        }
        Ok(Features::Gaussian {
            d,
            root: Arc::new(l),
        })
    }

    /// The covariance Σ of z (row-major d×d), when it is known exactly: every variant but
    /// [`Features::Resampled`], whose covariance is the pool's (see
    /// [`Features::second_moment`]). Used by the Σ-weighted angle (SPEC §3).
    pub fn covariance(&self) -> Vec<f64> {
        let d = self.dim();
        let diag = |v: &mut Vec<f64>, f: &dyn Fn(usize) -> f64| {
            for j in 0..d {
                v[j * d + j] = f(j);
            }
        };
        let mut c = vec![0.0; d * d];
        match self {
            Features::Isotropic { .. } => diag(&mut c, &|_| 1.0),
            Features::Anisotropic { scales } => diag(&mut c, &|j| scales[j] * scales[j]),
            Features::Laplace { scale, .. } => diag(&mut c, &|_| 2.0 * scale * scale),
            Features::Uniform { half_width, .. } => {
                diag(&mut c, &|_| half_width * half_width / 3.0)
            }
            Features::EmbeddingLike {
                rank,
                loadings,
                noise,
                ..
            } => {
                for i in 0..d {
                    for j in 0..d {
                        let a = &loadings[i * rank..(i + 1) * rank];
                        let b = &loadings[j * rank..(j + 1) * rank];
                        c[i * d + j] = signest_core::linalg::dot(a, b)
                            + if i == j { noise * noise } else { 0.0 };
                    }
                }
            }
            Features::Gaussian { root, .. } => {
                for i in 0..d {
                    for j in 0..=i {
                        let v = signest_core::linalg::dot(
                            &root[i * d..(i + 1) * d],
                            &root[j * d..(j + 1) * d],
                        );
                        c[i * d + j] = v;
                        c[j * d + i] = v;
                    }
                }
            }
            Features::Resampled { .. } => return self.second_moment(),
            Features::Pairs { d, rows } => {
                let d = *d;
                let n = (rows.len() / d) as f64;
                let mut m = vec![0.0; d];
                for row in rows.chunks_exact(d) {
                    signest_core::linalg::axpy(1.0 / n, row, &mut m);
                }
                // Centred rows: S − m m' summed without cancellation.
                for row in rows.chunks_exact(d) {
                    for i in 0..d {
                        for j in 0..=i {
                            c[i * d + j] += (row[i] - m[i]) * (row[j] - m[j]);
                        }
                    }
                }
                let f = 2.0 / (n - 1.0);
                for i in 0..d {
                    for j in 0..=i {
                        c[i * d + j] *= f;
                        c[j * d + i] = c[i * d + j];
                    }
                }
            }
        }
        c
    }

    /// E[z z'] (row-major d×d): the covariance for every variant (all have mean 0) and, for
    /// [`Features::Resampled`], the pool's second moment about 0.
    pub fn second_moment(&self) -> Vec<f64> {
        match self {
            Features::Resampled { d, rows } => {
                let d = *d;
                let m = (rows.len() / d).max(1) as f64;
                let mut c = vec![0.0; d * d];
                for row in rows.chunks_exact(d) {
                    for i in 0..d {
                        for j in 0..=i {
                            c[i * d + j] += row[i] * row[j] / m;
                        }
                    }
                }
                for i in 0..d {
                    for j in 0..i {
                        c[j * d + i] = c[i * d + j];
                    }
                }
                c
            }
            _ => self.covariance(),
        }
    }

    /// True when z is exactly Gaussian with mean 0 (isotropic, anisotropic, embedding-like,
    /// Gaussian): then disagreement = Σ-angle / 180° exactly (SPEC §3).
    pub fn is_gaussian(&self) -> bool {
        matches!(
            self,
            Features::Isotropic { .. }
                | Features::Anisotropic { .. }
                | Features::EmbeddingLike { .. }
                | Features::Gaussian { .. }
        )
    }

    pub fn dim(&self) -> usize {
        match self {
            Features::Gaussian { d, .. } => *d,
            Features::Isotropic { d }
            | Features::Laplace { d, .. }
            | Features::Uniform { d, .. }
            | Features::EmbeddingLike { d, .. }
            | Features::Resampled { d, .. }
            | Features::Pairs { d, .. } => *d,
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
            Features::Gaussian { root, .. } => {
                if root.len() != d * d {
                    return err(format!("features: Gaussian root must be d×d = {d}×{d}"));
                }
                if root.iter().any(|x| !x.is_finite()) {
                    return err("features: Gaussian root has a non-finite entry");
                }
                Ok(())
            }
            Features::Pairs { rows, .. } => {
                if rows.len() < 2 * d || rows.len() % d != 0 {
                    return err(format!(
                        "features: embeddings need at least 2 rows of d = {d} values, got {} values",
                        rows.len()
                    ));
                }
                if rows.iter().any(|x| !x.is_finite()) {
                    return err("features: embeddings have a non-finite value");
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
            Features::Pairs { d, rows } => {
                let m = rows.len() / d;
                let i = rng.random_range(0..m);
                let mut j = rng.random_range(0..m - 1);
                if j >= i {
                    j += 1;
                }
                for (k, o) in out.iter_mut().enumerate() {
                    *o = rows[i * d + k] - rows[j * d + k];
                }
            }
            Features::Gaussian { d, root } => {
                // g first (d normals), then z = R g.
                let mut g = [0.0f64; 64];
                let mut heap;
                let g: &mut [f64] = if *d <= 64 {
                    &mut g[..*d]
                } else {
                    heap = vec![0.0; *d];
                    &mut heap
                };
                g.iter_mut().for_each(|x| *x = StandardNormal.sample(rng));
                for (i, o) in out.iter_mut().enumerate() {
                    *o = signest_core::linalg::dot(&root[i * d..(i + 1) * d], g);
                }
            }
        }
    }
}

/// A Haar-distributed d×d orthogonal matrix (row-major): modified Gram–Schmidt on the columns
/// of a matrix of independent N(0, 1) entries (drawn row by row).
fn haar_rotation<R: Rng + ?Sized>(d: usize, rng: &mut R) -> Vec<f64> {
    let a: Vec<f64> = (0..d * d).map(|_| StandardNormal.sample(rng)).collect();
    // Columns as vectors.
    let mut cols: Vec<Vec<f64>> = (0..d)
        .map(|j| (0..d).map(|i| a[i * d + j]).collect())
        .collect();
    for j in 0..d {
        for k in 0..j {
            let (done, rest) = cols.split_at_mut(j);
            let p = signest_core::linalg::dot(&done[k], &rest[0]);
            signest_core::linalg::axpy(-p, &done[k], &mut rest[0]);
        }
        signest_core::linalg::normalize(&mut cols[j]);
    }
    let mut q = vec![0.0; d * d];
    for (j, c) in cols.iter().enumerate() {
        for i in 0..d {
            q[i * d + j] = c[i];
        }
    }
    q
}
