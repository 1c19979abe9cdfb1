//! Solver `sgd` of `sign` and of `bt`: minibatch Adam, the way a reward-model pipeline trains
//! a linear reward r(z) = w'z (the paper's "implementation simplicity" claim: the sign loss is a
//! drop-in replacement for the cross-entropy in the same loop).
//!
//! - `bt`: the mean logistic loss softplus(−y·w'z), from w = 0.
//! - `sign`: the smoothed 0-1 loss σ(−y·u'z / h) of the unit direction u = w/|w| (w is
//!   renormalised after every step: the loss does not depend on |w|), from the mean signed row,
//!   the temperature h annealed geometrically per epoch from `h_start·s` to `h_end·s` (s the
//!   mean |y·u'z| at the start).
//!
//! Each epoch visits the rows in a fresh order drawn from the solver's own stream
//! ([`signest_core::seed::solver_rng`] of `seed`) in minibatches of `batch` rows; Adam with
//! step decaying geometrically from `lr` to `lr_end` over the epochs and the usual moments
//! (0.9, 0.999). Single-threaded, so the result depends on
//! the data and the seed only. Guarantee: heuristic for both (a fixed number of epochs, no
//! convergence test); the reported objective is the achieved 0-1 loss (`sign`) or log-loss
//! sum (`bt`).

use crate::numeric::{sigmoid, softplus};
use crate::registry::SharedEstimator;
use crate::{Estimator, Fit, FitError, Status, check_nonempty};
use rand::seq::SliceRandom;
use signest_core::Comparisons;
use signest_core::linalg::{dot, norm, normalize};
use std::sync::Arc;

/// Which loss the loop minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SgdLoss {
    /// bt's cross-entropy.
    Logistic,
    /// The sign estimator's smoothed 0-1 loss.
    Smoothed01,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SgdConfig {
    pub epochs: u32,
    pub batch: usize,
    /// Adam step size at the first epoch, decaying geometrically to `lr_end` at the last.
    pub lr: f64,
    pub lr_end: f64,
    /// First and last temperature (smoothed 0-1 loss only), relative to the mean |margin|.
    pub h_start: f64,
    pub h_end: f64,
    pub seed: u64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            epochs: 20,
            batch: 256,
            lr: 0.05,
            lr_end: 5e-4,
            h_start: 0.5,
            h_end: 0.02,
            seed: 0,
        }
    }
}

/// The minibatch-Adam estimator (`bt` or `sign` by its loss).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sgd {
    pub loss: SgdLoss,
    pub config: SgdConfig,
}

impl Estimator for Sgd {
    fn name(&self) -> &'static str {
        match self.loss {
            SgdLoss::Logistic => "bt",
            SgdLoss::Smoothed01 => "sign",
        }
    }

    /// Epochs × factor.
    fn at_effort(&self, factor: f64) -> Option<SharedEstimator> {
        let epochs = ((self.config.epochs as f64) * factor).round() as u32;
        Some(Arc::new(Sgd {
            loss: self.loss,
            config: SgdConfig {
                epochs: epochs.max(self.config.epochs),
                ..self.config.clone()
            },
        }))
    }

    fn fit(&self, data: &Comparisons) -> Result<Fit, FitError> {
        check_nonempty(data)?;
        let c = &self.config;
        if !(c.epochs >= 1
            && c.batch >= 1
            && c.lr > 0.0
            && c.lr_end > 0.0
            && c.h_end > 0.0
            && c.h_end <= c.h_start)
        {
            return Err(FitError::Config(
                "sgd: need epochs >= 1, batch >= 1, lr > 0, lr_end > 0, 0 < h_end <= h_start"
                    .into(),
            ));
        }
        let start = std::time::Instant::now();
        let d = data.d();
        let n = data.n();
        let x = data.signed_rows();
        let wts = data.weights();
        let sign = self.loss == SgdLoss::Smoothed01;
        let mut w = vec![0.0; d];
        let mut s = 1.0;
        if sign {
            for r in x.chunks_exact(d) {
                for (a, b) in w.iter_mut().zip(r) {
                    *a += b;
                }
            }
            if !normalize(&mut w) {
                return Err(FitError::Degenerate("the mean signed row is 0".into()));
            }
            s = x.chunks_exact(d).map(|r| dot(r, &w).abs()).sum::<f64>() / n as f64;
            if s.is_nan() || s <= 0.0 {
                s = 1.0;
            }
        }
        let mut rng = signest_core::seed::solver_rng(c.seed);
        let mut order: Vec<usize> = (0..n).collect();
        let (mut m1, mut m2) = (vec![0.0; d], vec![0.0; d]);
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
        let mut t = 0i32;
        let mut g = vec![0.0; d];
        for epoch in 0..c.epochs {
            let frac = if c.epochs == 1 {
                1.0
            } else {
                epoch as f64 / (c.epochs - 1) as f64
            };
            let h = s * c.h_start * (c.h_end / c.h_start).powf(frac);
            let lr = c.lr * (c.lr_end / c.lr).powf(frac);
            order.shuffle(&mut rng);
            for chunk in order.chunks(c.batch) {
                g.iter_mut().for_each(|v| *v = 0.0);
                let mut wsum = 0.0;
                for &i in chunk {
                    let xi = &x[i * d..(i + 1) * d];
                    let wi = wts.map_or(1.0, |v| v[i]);
                    let m = dot(xi, &w);
                    // d loss / d margin, per row.
                    let dm = if sign {
                        let p = sigmoid(-m / h);
                        -wi * p * (1.0 - p) / h
                    } else {
                        -wi * sigmoid(-m)
                    };
                    for (gj, xj) in g.iter_mut().zip(xi) {
                        *gj += dm * xj;
                    }
                    wsum += wi;
                }
                if wsum <= 0.0 {
                    continue;
                }
                if sign {
                    // Tangential part (|w| = 1): the loss is invariant to the scale of w.
                    let gu = dot(&g, &w);
                    for (gj, wj) in g.iter_mut().zip(&w) {
                        *gj -= gu * wj;
                    }
                }
                t += 1;
                let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
                for j in 0..d {
                    let gj = g[j] / wsum;
                    m1[j] = b1 * m1[j] + (1.0 - b1) * gj;
                    m2[j] = b2 * m2[j] + (1.0 - b2) * gj * gj;
                    w[j] -= lr * (m1[j] / c1) / ((m2[j] / c2).sqrt() + eps);
                }
                if sign && !normalize(&mut w) {
                    return Err(FitError::Degenerate("sgd: w collapsed to 0".into()));
                }
            }
        }
        let nw = norm(&w);
        if !(nw > 0.0 && nw.is_finite()) {
            return Err(FitError::Degenerate(format!(
                "sgd: |w| = {nw} after training"
            )));
        }
        let direction: Vec<f64> = w.iter().map(|v| v / nw).collect();
        let objective = if sign {
            signest_core::metrics::loss01(data, &direction).weighted
        } else {
            x.chunks_exact(d)
                .enumerate()
                .map(|(i, r)| wts.map_or(1.0, |v| v[i]) * softplus(-dot(r, &w)))
                .sum()
        };
        Ok(Fit {
            estimator: self.name(),
            solver: "sgd",
            direction,
            coefficients: (!sign).then_some(w),
            status: Status::Heuristic,
            iterations: t as u64,
            objective,
            certificate: None,
            fit_seconds: start.elapsed().as_secs_f64(),
            notes: vec![format!(
                "{} epochs of minibatch Adam ({} rows per batch, {t} steps)",
                c.epochs, c.batch
            )],
        })
    }
}
