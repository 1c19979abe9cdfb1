//! Panel estimators (SPEC §2): they use respondent ids.
//!
//! - [`PerUser`]: a ridge-penalised logistic fit per respondent, averaged over respondents.
//! - [`LatentClass`] (`em`): a latent-class logit with K classes fitted by EM, each
//!   respondent's choices sharing one class; beta_bar is estimated by Σ π_k β_k.
//!
//! Guarantees: `peruser` is as exact as its per-respondent Newton fits (strictly convex with
//! ridge > 0). `em` is a local method: the penalised log-likelihood never decreases across its
//! iterations (tested), and the best of several starts is returned — no global guarantee.

use crate::registry::{
    EstimatorKind, Family, NamedOptions, SettingError, SharedEstimator, SolverKind, random_starts,
    ridge_at_least,
};
use crate::{Bt, Estimator, Fit, FitError, Status, check_nonempty, numeric::softplus};
use rand::RngExt;
use rayon::prelude::*;
use signest_core::Comparisons;
use signest_core::linalg::{dot, normalized};
use std::sync::Arc;
use std::time::Instant;

/// Rows of each respondent, in order of first appearance.
fn groups(data: &Comparisons, who: &str) -> Result<Vec<Vec<usize>>, FitError> {
    let r = data.respondents().ok_or_else(|| {
        FitError::Config(format!(
            "{who} needs respondent ids (a `respondent` column, or a panel design)"
        ))
    })?;
    let mut index: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    let mut out: Vec<Vec<usize>> = Vec::new();
    for (i, id) in r.iter().enumerate() {
        let k = *index.entry(*id).or_insert_with(|| {
            out.push(Vec::new());
            out.len() - 1
        });
        out[k].push(i);
    }
    Ok(out)
}

/// Each respondent's ridge-logit coefficients (respondents in order of first appearance;
/// `None` for a respondent whose rows are all zero).
pub fn per_respondent_coefficients(
    data: &Comparisons,
    ridge: f64,
) -> Result<Vec<Option<Vec<f64>>>, FitError> {
    let g = groups(data, "peruser")?;
    let bt = Bt {
        ridge,
        ..Bt::default()
    };
    Ok(g.par_iter()
        .map(|rows| {
            bt.fit(&data.select(rows))
                .ok()
                .map(|f| f.coefficients.unwrap_or(f.direction))
        })
        .collect())
}

/// Average of per-respondent ridge-logit fits.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PerUser {
    /// Ridge λ of each respondent's fit, `Σ log(1 + e^{−θ'x}) + (λ/2)|θ|²`. Default 1: with the
    /// few comparisons a respondent answers (often separable), some shrinkage is needed for a
    /// finite fit; λ = 1 is a unit-variance Gaussian prior on each coefficient.
    pub ridge: f64,
}

impl Default for PerUser {
    fn default() -> Self {
        PerUser { ridge: 1.0 }
    }
}

impl Estimator for PerUser {
    fn name(&self) -> &'static str {
        "peruser"
    }

    fn fit(&self, data: &Comparisons) -> Result<Fit, FitError> {
        let start = Instant::now();
        check_nonempty(data)?;
        if !(self.ridge > 0.0 && self.ridge.is_finite()) {
            return Err(FitError::Config("peruser: ridge must be > 0".into()));
        }
        let g = groups(data, "peruser")?;
        let bt = Bt {
            ridge: self.ridge,
            ..Bt::default()
        };
        let fits: Vec<Result<Fit, FitError>> = g
            .par_iter()
            .map(|rows| bt.fit(&data.select(rows)))
            .collect();
        let d = data.d();
        let mut mean = vec![0.0; d];
        let mut used = 0usize;
        let mut iterations = 0;
        // A respondent whose rows are all zero carries no information: skipped.
        for f in fits.into_iter().flatten() {
            let th = f.coefficients.unwrap_or(f.direction);
            signest_core::linalg::axpy(1.0, &th, &mut mean);
            used += 1;
            iterations += f.iterations;
        }
        if used == 0 {
            return Err(FitError::Degenerate(
                "no respondent has an informative comparison".into(),
            ));
        }
        mean.iter_mut().for_each(|m| *m /= used as f64);
        let direction = normalized(&mean)
            .ok_or_else(|| FitError::Degenerate("the average coefficient is 0".into()))?;
        Ok(Fit {
            estimator: "peruser",
            solver: "newton",
            direction,
            coefficients: Some(mean),
            status: Status::Converged,
            iterations,
            objective: f64::NAN,
            certificate: None,
            fit_seconds: start.elapsed().as_secs_f64(),
            notes: vec![format!(
                "{used} of {} respondents fitted, ridge {}",
                g.len(),
                self.ridge
            )],
        })
    }
}

/// Latent-class logit fitted by EM.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatentClass {
    /// Number of classes; `None` chooses K in 1..=`max_classes` by BIC.
    pub classes: Option<usize>,
    pub max_classes: usize,
    /// Random starts (random responsibilities) besides the start from `bt`.
    pub random_starts: u32,
    pub max_iter: u32,
    /// Stop when the penalised log-likelihood rises by less than `tol`·(1 + |ℓ|).
    pub tol: f64,
    /// Ridge (λ/2)|β_k|² on each class (keeps M-steps finite on separable classes).
    pub ridge: f64,
    /// Seed of the random starts.
    pub seed: u64,
}

impl Default for LatentClass {
    fn default() -> Self {
        LatentClass {
            classes: Some(2),
            max_classes: 4,
            random_starts: 4,
            max_iter: 300,
            tol: 1e-9,
            ridge: 1e-3,
            seed: 0,
        }
    }
}

/// One EM solution.
#[derive(Debug, Clone, PartialEq)]
pub struct EmSolution {
    pub weights: Vec<f64>,
    pub betas: Vec<Vec<f64>>,
    /// Unpenalised log-likelihood at the solution.
    pub loglik: f64,
    /// Penalised log-likelihood after each iteration (non-decreasing).
    pub trace: Vec<f64>,
    pub bic: f64,
    pub converged: bool,
    /// Classes removed because their weight collapsed to 0.
    pub collapsed: usize,
}

struct Panel {
    d: usize,
    x: Vec<f64>,
    w: Vec<f64>,
    groups: Vec<Vec<usize>>,
}

impl Panel {
    /// Per respondent and class: Σ_i w_i log σ(β_k'x_i).
    fn class_loglik(&self, betas: &[Vec<f64>]) -> Vec<Vec<f64>> {
        self.groups
            .iter()
            .map(|rows| {
                betas
                    .iter()
                    .map(|b| {
                        rows.iter()
                            .map(|&i| {
                                -self.w[i]
                                    * softplus(-dot(&self.x[i * self.d..(i + 1) * self.d], b))
                            })
                            .sum()
                    })
                    .collect()
            })
            .collect()
    }
}

fn logsumexp(v: &[f64]) -> f64 {
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

impl LatentClass {
    /// E-step quantities: responsibilities and the unpenalised log-likelihood.
    fn e_step(p: &Panel, pi: &[f64], betas: &[Vec<f64>]) -> (Vec<Vec<f64>>, f64) {
        let ll = p.class_loglik(betas);
        let mut total = 0.0;
        let tau = ll
            .iter()
            .map(|row| {
                let a: Vec<f64> = row.iter().zip(pi).map(|(l, w)| l + w.ln()).collect();
                let s = logsumexp(&a);
                total += s;
                a.iter().map(|v| (v - s).exp()).collect()
            })
            .collect();
        (tau, total)
    }

    fn penalty(&self, betas: &[Vec<f64>]) -> f64 {
        betas.iter().map(|b| 0.5 * self.ridge * dot(b, b)).sum()
    }

    /// M-step for class k: weighted ridge logit with weights τ_{r(i)k} w_i.
    fn m_step(
        &self,
        data: &Comparisons,
        p: &Panel,
        tau: &[Vec<f64>],
        k: usize,
        start: &[f64],
    ) -> Vec<f64> {
        let mut wk = vec![0.0; data.n()];
        for (r, rows) in p.groups.iter().enumerate() {
            for &i in rows {
                wk[i] = (tau[r][k] * p.w[i]).max(1e-300);
            }
        }
        let dk = Comparisons::new(p.d, p.x.clone(), vec![1.0; data.n()])
            .and_then(|c| c.with_weights(wk))
            .expect("valid");
        let bt = Bt {
            ridge: self.ridge,
            ..Bt::default()
        };
        match bt.fit(&dk) {
            Ok(f) => f.coefficients.unwrap_or(f.direction),
            Err(_) => start.to_vec(),
        }
    }

    fn run_from(
        &self,
        data: &Comparisons,
        p: &Panel,
        mut pi: Vec<f64>,
        mut betas: Vec<Vec<f64>>,
    ) -> EmSolution {
        let mut trace = Vec::new();
        let mut converged = false;
        let mut collapsed = 0;
        let (mut tau, mut ll) = Self::e_step(p, &pi, &betas);
        for _ in 0..self.max_iter {
            // M-step.
            let r = p.groups.len() as f64;
            pi = (0..betas.len())
                .map(|k| tau.iter().map(|t| t[k]).sum::<f64>() / r)
                .collect();
            // Collapsing classes are removed.
            let keep: Vec<usize> = (0..pi.len()).filter(|&k| pi[k] > 1e-10).collect();
            if keep.len() < pi.len() {
                collapsed += pi.len() - keep.len();
                betas = keep.iter().map(|&k| betas[k].clone()).collect();
                tau = tau
                    .iter()
                    .map(|t| keep.iter().map(|&k| t[k]).collect())
                    .collect();
                let s: f64 = keep.iter().map(|&k| pi[k]).sum();
                pi = keep.iter().map(|&k| pi[k] / s).collect();
            }
            betas = (0..betas.len())
                .map(|k| self.m_step(data, p, &tau, k, &betas[k]))
                .collect();
            let (t2, ll2) = Self::e_step(p, &pi, &betas);
            let pen = ll2 - self.penalty(&betas);
            let prev = trace.last().copied();
            trace.push(pen);
            tau = t2;
            ll = ll2;
            if let Some(prev) = prev
                && (pen - prev).abs() <= self.tol * (1.0 + pen.abs())
            {
                converged = true;
                break;
            }
        }
        let kk = betas.len() as f64;
        let params = kk * p.d as f64 + (kk - 1.0);
        EmSolution {
            bic: -2.0 * ll + params * (p.groups.len() as f64).ln(),
            weights: pi,
            betas,
            loglik: ll,
            trace,
            converged,
            collapsed,
        }
    }

    fn best_for_k(&self, data: &Comparisons, p: &Panel, k: usize, theta_bt: &[f64]) -> EmSolution {
        let mut rng = signest_core::seed::solver_rng(self.seed ^ ((k as u64) << 32));
        let scale = signest_core::linalg::norm(theta_bt).max(1e-3);
        let mut sols = Vec::new();
        // Start from bt: every class at θ_bt plus a k-specific perturbation of 30% of |θ_bt|.
        let betas: Vec<Vec<f64>> = (0..k)
            .map(|_| {
                theta_bt
                    .iter()
                    .map(|t| t + 0.3 * scale * (rng.random::<f64>() * 2.0 - 1.0))
                    .collect()
            })
            .collect();
        sols.push(self.run_from(data, p, vec![1.0 / k as f64; k], betas));
        // Random starts: random responsibilities, then an M-step.
        for _ in 0..self.random_starts {
            let tau: Vec<Vec<f64>> = p
                .groups
                .iter()
                .map(|_| {
                    let v: Vec<f64> = (0..k)
                        .map(|_| -rng.random::<f64>().max(1e-12).ln())
                        .collect();
                    let s: f64 = v.iter().sum();
                    v.iter().map(|x| x / s).collect()
                })
                .collect();
            let betas: Vec<Vec<f64>> = (0..k)
                .map(|c| self.m_step(data, p, &tau, c, theta_bt))
                .collect();
            let pi: Vec<f64> = (0..k)
                .map(|c| tau.iter().map(|t| t[c]).sum::<f64>() / p.groups.len() as f64)
                .collect();
            sols.push(self.run_from(data, p, pi, betas));
        }
        sols.into_iter()
            .max_by(|a, b| {
                let pa = a.loglik - self.penalty(&a.betas);
                let pb = b.loglik - self.penalty(&b.betas);
                pa.total_cmp(&pb)
            })
            .expect("at least one start")
    }

    /// Fits and returns the EM solution behind the direction.
    pub fn solve(&self, data: &Comparisons) -> Result<EmSolution, FitError> {
        check_nonempty(data)?;
        if !(self.ridge > 0.0 && self.tol > 0.0 && self.max_classes >= 1) {
            return Err(FitError::Config(
                "em: ridge > 0, tol > 0 and max_classes >= 1 are required".into(),
            ));
        }
        if self.classes == Some(0) {
            return Err(FitError::Config("em: classes must be at least 1".into()));
        }
        let groups = groups(data, "em")?;
        let p = Panel {
            d: data.d(),
            x: data.signed_rows(),
            w: (0..data.n()).map(|i| data.weight(i)).collect(),
            groups,
        };
        let bt = Bt {
            ridge: self.ridge,
            ..Bt::default()
        }
        .fit(data)?;
        let theta = bt.coefficients.unwrap_or(bt.direction);
        let ks: Vec<usize> = match self.classes {
            Some(k) => vec![k],
            None => (1..=self.max_classes).collect(),
        };
        let sols: Vec<EmSolution> = ks
            .iter()
            .map(|&k| self.best_for_k(data, &p, k, &theta))
            .collect();
        Ok(sols
            .into_iter()
            .min_by(|a, b| a.bic.total_cmp(&b.bic))
            .expect("one K"))
    }
}

impl Estimator for LatentClass {
    fn name(&self) -> &'static str {
        "em"
    }

    fn fit(&self, data: &Comparisons) -> Result<Fit, FitError> {
        let start = Instant::now();
        let s = self.solve(data)?;
        let d = data.d();
        let mut bar = vec![0.0; d];
        for (w, b) in s.weights.iter().zip(&s.betas) {
            signest_core::linalg::axpy(*w, b, &mut bar);
        }
        let direction =
            normalized(&bar).ok_or_else(|| FitError::Degenerate("Σ π_k β_k = 0".into()))?;
        let mut notes = vec![format!(
            "K = {}{}, weights {:?}, log-likelihood {:.4}, BIC {:.2}",
            s.betas.len(),
            if self.classes.is_none() {
                " (by BIC)"
            } else {
                ""
            },
            s.weights
                .iter()
                .map(|w| (w * 1e4).round() / 1e4)
                .collect::<Vec<_>>(),
            s.loglik,
            s.bic
        )];
        if s.collapsed > 0 {
            notes.push(format!(
                "{} class(es) collapsed to weight 0 and were removed",
                s.collapsed
            ));
        }
        Ok(Fit {
            estimator: "em",
            solver: "em",
            direction,
            coefficients: Some(bar),
            status: if s.converged {
                Status::Converged
            } else {
                Status::MaxIterations
            },
            iterations: s.trace.len() as u64,
            objective: -s.loglik,
            certificate: None,
            fit_seconds: start.elapsed().as_secs_f64(),
            notes,
        })
    }
}

/// The registry entry of `em` (see [`crate::registry`]).
pub const EM_KIND: EstimatorKind = EstimatorKind {
    name: "em",
    family: Family::Panel,
    solvers: &[SolverKind {
        name: "em",
        settings: &["classes", "random_starts", "ridge", "seed"],
        guarantee: "local: penalised log-likelihood non-decreasing; best of several starts kept",
        colour: [204, 121, 167],
    }],
    needs_panel: true,
    plain_default_label: false,
    build: build_em,
};

/// The registry entry of `peruser` (see [`crate::registry`]).
pub const PERUSER_KIND: EstimatorKind = EstimatorKind {
    name: "peruser",
    family: Family::Panel,
    solvers: &[SolverKind {
        name: "newton",
        settings: &["ridge"],
        guarantee: "each per-respondent ridge logit exact (strictly convex), averaged",
        colour: [86, 180, 233],
    }],
    needs_panel: true,
    plain_default_label: false,
    build: build_peruser,
};

fn build_em(_solver: &str, o: &NamedOptions) -> Result<SharedEstimator, SettingError> {
    let d = LatentClass::default();
    let classes = match o.classes {
        Some(0) => None,
        Some(k) if k <= 20 => Some(k),
        Some(k) => {
            return Err(SettingError::new(
                "classes",
                format!("classes must be 0 (choose by BIC) or 1 to 20, got {k}"),
            ));
        }
        None => d.classes,
    };
    Ok(Arc::new(LatentClass {
        classes,
        random_starts: random_starts(o, d.random_starts)?,
        ridge: ridge_at_least(o, d.ridge, false)?,
        seed: o.seed.unwrap_or(d.seed),
        ..d
    }))
}

fn build_peruser(_solver: &str, o: &NamedOptions) -> Result<SharedEstimator, SettingError> {
    Ok(Arc::new(PerUser {
        ridge: ridge_at_least(o, PerUser::default().ridge, true)?,
    }))
}
