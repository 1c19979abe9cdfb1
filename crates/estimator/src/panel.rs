//! Panel estimators (SPEC §2): they use respondent ids.
//!
//! - [`PerUser`]: a ridge-penalised logistic fit per respondent, averaged over respondents.
//! - [`LatentClass`] (`em`): a latent-class logit with K classes fitted by EM, each
//!   respondent's choices sharing one class; beta_bar is estimated by Σ π_k β_k.
//!
//! Guarantees: `peruser` is as exact as its per-respondent Newton fits (strictly convex with
//! ridge > 0). `em` is a local method: the penalised log-likelihood never decreases across its
//! iterations (tested), and the best of several starts is returned — no global guarantee.
//!
//! `em` iterates the EM-gradient algorithm (Lange 1995): each iteration is one fused pass over
//! the respondent-sorted rows (E-step, then the gradient and curvature of each class's M-step
//! objective while the respondent's rows are in cache), the exact π update and one Newton
//! step per class from the previous β_k, halved when the penalised log-likelihood would fall.
//! Its fixed points are EM's; the reference EM with exact M-steps (each a `bt` fit from zero)
//! is kept as [`LatentClass::solve_reference`] and the two are tested to agree.

use crate::numeric::{
    add_diagonal_packed, add_outer_packed_rows, logistic_loss_and_wrong_prob, softplus,
};
use crate::registry::{
    EstimatorKind, Family, NamedOptions, SettingError, SharedEstimator, SolverKind, random_starts,
    ridge_at_least,
};
use crate::{Bt, Estimator, Fit, FitError, Status, check_nonempty};
use rand::RngExt;
use rayon::prelude::*;
use signest_core::Comparisons;
use signest_core::linalg::{dot, normalized};
use std::ops::Range;
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

/// The panel in the layout EM works on: signed rows sorted by respondent (respondents in
/// order of first appearance, rows of a respondent in data order), with fixed chunks of
/// respondents for the parallel passes.
struct Panel {
    d: usize,
    x: Vec<f64>,
    w: Vec<f64>,
    /// Rows of respondent r: `start[r]..start[r + 1]`.
    start: Vec<usize>,
    /// Respondent ranges of about [`crate::par::CHUNK`] rows each, fixed by the data alone, so
    /// that the passes fold in the same order for any number of threads (SPEC §7).
    chunks: Vec<Range<usize>>,
}

impl Panel {
    fn new(data: &Comparisons, groups: &[Vec<usize>]) -> Panel {
        let d = data.d();
        let xs = data.signed_rows();
        let mut x = Vec::with_capacity(xs.len());
        let mut w = Vec::with_capacity(data.n());
        let mut start = Vec::with_capacity(groups.len() + 1);
        start.push(0);
        for rows in groups {
            for &i in rows {
                x.extend_from_slice(&xs[i * d..(i + 1) * d]);
                w.push(data.weight(i));
            }
            start.push(w.len());
        }
        let mut chunks = Vec::new();
        let mut first = 0;
        for r in 0..groups.len() {
            if start[r + 1] - start[first] >= crate::par::CHUNK || r + 1 == groups.len() {
                chunks.push(first..r + 1);
                first = r + 1;
            }
        }
        Panel {
            d,
            x,
            w,
            start,
            chunks,
        }
    }

    fn respondents(&self) -> usize {
        self.start.len() - 1
    }

    fn rows(&self, r: usize) -> Range<usize> {
        self.start[r]..self.start[r + 1]
    }

    /// Per respondent and class: Σ_i w_i log σ(β_k'x_i) (the reference E-step).
    fn class_loglik(&self, betas: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let d = self.d;
        (0..self.respondents())
            .map(|r| {
                betas
                    .iter()
                    .map(|b| {
                        self.rows(r)
                            .map(|i| -self.w[i] * softplus(-dot(&self.x[i * d..(i + 1) * d], b)))
                            .sum()
                    })
                    .collect()
            })
            .collect()
    }

    /// One fused pass at (π, β): the E-step and the derivatives of the M-step objective.
    ///
    /// Per respondent r the class log-likelihoods L_rk = Σ_{i∈r} w_i log σ(β_k'x_i) give the
    /// responsibilities τ_rk ∝ π_k e^{L_rk} (or `fixed_tau`), and the rows, still in cache, are
    /// read once more for the gradient Σ_r τ_rk Σ_i w_i σ(−β_k'x_i) x_i of
    /// Q_k(β) = Σ_r τ_rk L_rk(β) — which is also the gradient of the observed log-likelihood
    /// in β_k — and the curvature Σ_r τ_rk Σ_i w_i σ(1−σ) x_i x_i' (−∇²Q_k,
    /// packed upper triangle), with log σ(m) and σ(−m) from one exponential
    /// ([`logistic_loss_and_wrong_prob`]).
    fn pass(&self, pi: &[f64], betas: &[Vec<f64>], fixed_tau: Option<&[f64]>) -> PassOut {
        let d = self.d;
        let k = betas.len();
        let np = d * (d + 1) / 2;
        let width = k * d + k * np;
        let log_pi: Vec<f64> = pi.iter().map(|v| v.ln()).collect();
        let chunk = |resp: &Range<usize>| {
            let mut ll = 0.0;
            let mut tau = Vec::with_capacity(resp.len() * k);
            let mut acc = vec![0.0; width];
            // σ(−β_c'x_i) of the respondent's rows, row-major.
            let mut wrong = Vec::new();
            // The curvature weights g(1 − q) of one respondent's rows for one class.
            let mut curv = Vec::new();
            let mut a = vec![0.0; k];
            for r in resp.clone() {
                let rows = self.rows(r);
                wrong.clear();
                a.copy_from_slice(&log_pi);
                for i in rows.clone() {
                    let xi = &self.x[i * d..(i + 1) * d];
                    for (c, b) in betas.iter().enumerate() {
                        let (loss, p) = logistic_loss_and_wrong_prob(dot(xi, b));
                        a[c] -= self.w[i] * loss;
                        wrong.push(p);
                    }
                }
                let s = logsumexp(&a);
                ll += s;
                let t0 = tau.len();
                match fixed_tau {
                    Some(t) => tau.extend_from_slice(&t[r * k..(r + 1) * k]),
                    None => tau.extend(a.iter().map(|v| (v - s).exp())),
                }
                // Class by class (their sums are disjoint): the gradient row by row, then the
                // curvature of the respondent's rows in one blocked call — each entry takes
                // the same terms in the same order as a row-by-row loop.
                let xr = &self.x[rows.start * d..rows.end * d];
                for c in 0..k {
                    let t = tau[t0 + c];
                    if t == 0.0 {
                        continue;
                    }
                    curv.clear();
                    for (j, i) in rows.clone().enumerate() {
                        let xi = &self.x[i * d..(i + 1) * d];
                        let q = wrong[j * k + c];
                        let g = t * self.w[i] * q;
                        let gc = &mut acc[c * d..(c + 1) * d];
                        for (gj, xj) in gc.iter_mut().zip(xi) {
                            *gj += g * xj;
                        }
                        curv.push(g * (1.0 - q));
                    }
                    add_outer_packed_rows(
                        &mut acc[k * d + c * np..k * d + (c + 1) * np],
                        &curv,
                        xr,
                        d,
                    );
                }
            }
            (ll, tau, acc)
        };
        let parts: Vec<(f64, Vec<f64>, Vec<f64>)> = if self.w.len() >= crate::par::PAR_MIN_ROWS {
            self.chunks.par_iter().map(chunk).collect()
        } else {
            self.chunks.iter().map(chunk).collect()
        };
        let mut loglik = 0.0;
        let mut tau = Vec::with_capacity(self.respondents() * k);
        let mut acc = vec![0.0; width];
        for (l, t, a) in parts {
            loglik += l;
            tau.extend(t);
            for (x, y) in acc.iter_mut().zip(a) {
                *x += y;
            }
        }
        let hess = acc.split_off(k * d);
        PassOut {
            loglik,
            tau,
            grad: acc,
            hess,
        }
    }
}

/// What one [`Panel::pass`] returns.
struct PassOut {
    /// Unpenalised observed log-likelihood Σ_r log Σ_k π_k e^{L_rk}.
    loglik: f64,
    /// Responsibilities, respondent-major (r·K + k).
    tau: Vec<f64>,
    /// ∂ℓ/∂β_k, class-major (k·d + j), unpenalised.
    grad: Vec<f64>,
    /// −∇²Q_k packed (k·d(d+1)/2 + …), unpenalised.
    hess: Vec<f64>,
}

fn logsumexp(v: &[f64]) -> f64 {
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// The M-step used by [`LatentClass::run_from`].
#[derive(Clone, Copy, PartialEq)]
enum MStep {
    /// One Newton step on Q_k per iteration from the previous β_k, halved until the penalised
    /// observed log-likelihood does not decrease (the EM-gradient algorithm, Lange 1995).
    Newton,
    /// Q_k maximised to bt's tolerance from a fresh copy of the data (the reference).
    Exact,
}

impl LatentClass {
    /// Reference E-step: responsibilities and the unpenalised log-likelihood.
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

    /// Reference M-step for class k: weighted ridge logit with weights τ_{r(i)k} w_i, fitted
    /// by `bt` to relative gradient 1e-10.
    fn m_step_exact(&self, p: &Panel, tau: &[Vec<f64>], k: usize, start: &[f64]) -> Vec<f64> {
        let n = p.w.len();
        let mut wk = vec![0.0; n];
        for (r, t) in tau.iter().enumerate() {
            for i in p.rows(r) {
                wk[i] = (t[k] * p.w[i]).max(1e-300);
            }
        }
        let dk = Comparisons::new(p.d, p.x.clone(), vec![1.0; n])
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

    /// The Newton step for each class from a pass: Δ_k = (C_k + λI)^{-1} (g_k − λβ_k).
    fn newton_steps(&self, p: &Panel, out: &PassOut, betas: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let d = p.d;
        let np = d * (d + 1) / 2;
        betas
            .iter()
            .enumerate()
            .map(|(c, b)| {
                let mut h = out.hess[c * np..(c + 1) * np].to_vec();
                add_diagonal_packed(&mut h, self.ridge, d);
                // newton_direction solves H s = −g: pass −(g − λβ).
                let neg: Vec<f64> = (0..d)
                    .map(|j| -(out.grad[c * d + j] - self.ridge * b[j]))
                    .collect();
                crate::bt::newton_direction(&h, &neg, d)
            })
            .collect()
    }

    fn run_from(&self, p: &Panel, pi: Vec<f64>, betas: Vec<Vec<f64>>, m_step: MStep) -> EmSolution {
        match m_step {
            MStep::Newton => self.run_newton(p, pi, betas),
            MStep::Exact => self.run_exact(p, pi, betas),
        }
    }

    /// EM with one safeguarded Newton M-step per iteration (the EM-gradient algorithm).
    ///
    /// Each iteration is one fused [`Panel::pass`] at the candidate point (two or more only
    /// when the step is halved). The π update is the exact M-step (mean responsibility); β_k
    /// moves by the Newton step of Q_k, whose gradient at β equals the observed
    /// log-likelihood's, so a short enough step always ascends: the step (π and β together)
    /// is halved until the penalised observed log-likelihood does not fall by more than its
    /// rounding error. Converged when it rose by less than `tol`·(1 + |ℓ|) in two
    /// successive iterations, or when no step improves it in f64.
    fn run_newton(&self, p: &Panel, mut pi: Vec<f64>, mut betas: Vec<Vec<f64>>) -> EmSolution {
        let mut trace = Vec::new();
        let mut converged = false;
        let mut collapsed = 0;
        let mut small = 0;
        let mut cur = p.pass(&pi, &betas, None);
        let mut pen = cur.loglik - self.penalty(&betas);
        let rr = p.respondents();
        for _ in 0..self.max_iter {
            let k = betas.len();
            let mut pi_new: Vec<f64> = (0..k)
                .map(|c| (0..rr).map(|r| cur.tau[r * k + c]).sum::<f64>() / rr as f64)
                .collect();
            // Collapsing classes are removed (and the pass redone on the remaining ones).
            let keep: Vec<usize> = (0..k).filter(|&c| pi_new[c] > 1e-10).collect();
            if keep.len() < k {
                collapsed += k - keep.len();
                betas = keep.iter().map(|&c| betas[c].clone()).collect();
                let s: f64 = keep.iter().map(|&c| pi[c]).sum();
                pi = keep.iter().map(|&c| pi[c] / s).collect();
                let s: f64 = keep.iter().map(|&c| pi_new[c]).sum();
                pi_new = keep.iter().map(|&c| pi_new[c] / s).collect();
                cur = p.pass(&pi, &betas, None);
                pen = cur.loglik - self.penalty(&betas);
            }
            let steps = self.newton_steps(p, &cur, &betas);
            let noise = 8.0 * f64::EPSILON * (1.0 + pen.abs());
            let mut alpha = 1.0;
            let mut accepted = None;
            for _ in 0..40 {
                let pi_t: Vec<f64> = pi
                    .iter()
                    .zip(&pi_new)
                    .map(|(a, b)| a + alpha * (b - a))
                    .collect();
                let betas_t: Vec<Vec<f64>> = betas
                    .iter()
                    .zip(&steps)
                    .map(|(b, s)| b.iter().zip(s).map(|(x, y)| x + alpha * y).collect())
                    .collect();
                let next = p.pass(&pi_t, &betas_t, None);
                let pen_t = next.loglik - self.penalty(&betas_t);
                if pen_t >= pen - noise {
                    accepted = Some((pi_t, betas_t, next, pen_t));
                    break;
                }
                alpha *= 0.5;
            }
            let Some((pi_t, betas_t, next, pen_t)) = accepted else {
                // No step changes the penalised log-likelihood in f64: a stationary point.
                converged = true;
                break;
            };
            trace.push(pen_t);
            let rise = (pen_t - pen).abs();
            pi = pi_t;
            betas = betas_t;
            cur = next;
            pen = pen_t;
            if rise <= self.tol * (1.0 + pen.abs()) {
                small += 1;
                if small >= 2 {
                    converged = true;
                    break;
                }
            } else {
                small = 0;
            }
        }
        self.solution(p, pi, betas, cur.loglik, trace, converged, collapsed)
    }

    #[allow(clippy::too_many_arguments)]
    fn solution(
        &self,
        p: &Panel,
        pi: Vec<f64>,
        betas: Vec<Vec<f64>>,
        ll: f64,
        trace: Vec<f64>,
        converged: bool,
        collapsed: usize,
    ) -> EmSolution {
        let kk = betas.len() as f64;
        let params = kk * p.d as f64 + (kk - 1.0);
        EmSolution {
            bic: -2.0 * ll + params * (p.respondents() as f64).ln(),
            weights: pi,
            betas,
            loglik: ll,
            trace,
            converged,
            collapsed,
        }
    }

    /// The reference EM: exact M-steps by `bt` from zero (the algorithm of signest ≤ 0.x,
    /// kept to check [`Self::run_newton`] against and to time it).
    fn run_exact(&self, p: &Panel, mut pi: Vec<f64>, mut betas: Vec<Vec<f64>>) -> EmSolution {
        let mut trace = Vec::new();
        let mut converged = false;
        let mut collapsed = 0;
        let (mut tau, mut ll) = Self::e_step(p, &pi, &betas);
        for _ in 0..self.max_iter {
            let r = p.respondents() as f64;
            pi = (0..betas.len())
                .map(|k| tau.iter().map(|t| t[k]).sum::<f64>() / r)
                .collect();
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
                .map(|k| self.m_step_exact(p, &tau, k, &betas[k]))
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
        self.solution(p, pi, betas, ll, trace, converged, collapsed)
    }

    fn best_for_k(&self, p: &Panel, k: usize, theta_bt: &[f64], m_step: MStep) -> EmSolution {
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
        sols.push(self.run_from(p, vec![1.0 / k as f64; k], betas, m_step));
        // Random starts: random responsibilities, then an M-step from θ_bt (one Newton step
        // on each Q_k, or the exact M-step for the reference).
        let rr = p.respondents();
        for _ in 0..self.random_starts {
            let tau: Vec<Vec<f64>> = (0..rr)
                .map(|_| {
                    let v: Vec<f64> = (0..k)
                        .map(|_| -rng.random::<f64>().max(1e-12).ln())
                        .collect();
                    let s: f64 = v.iter().sum();
                    v.iter().map(|x| x / s).collect()
                })
                .collect();
            let pi: Vec<f64> = (0..k)
                .map(|c| tau.iter().map(|t| t[c]).sum::<f64>() / rr as f64)
                .collect();
            let betas: Vec<Vec<f64>> = match m_step {
                MStep::Exact => (0..k)
                    .map(|c| self.m_step_exact(p, &tau, c, theta_bt))
                    .collect(),
                MStep::Newton => {
                    let at = vec![theta_bt.to_vec(); k];
                    let flat: Vec<f64> = tau.concat();
                    let out = p.pass(&pi, &at, Some(&flat));
                    self.newton_steps(p, &out, &at)
                        .iter()
                        .map(|s| theta_bt.iter().zip(s).map(|(t, v)| t + v).collect())
                        .collect()
                }
            };
            sols.push(self.run_from(p, pi, betas, m_step));
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
        self.solve_with(data, MStep::Newton)
    }

    /// The same fit by the reference algorithm (exact M-steps, each a `bt` fit from zero on
    /// a weighted copy of the data): many times slower; for tests and benchmarks.
    pub fn solve_reference(&self, data: &Comparisons) -> Result<EmSolution, FitError> {
        self.solve_with(data, MStep::Exact)
    }

    fn solve_with(&self, data: &Comparisons, m_step: MStep) -> Result<EmSolution, FitError> {
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
        let p = Panel::new(data, &groups);
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
            .map(|&k| self.best_for_k(&p, k, &theta, m_step))
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
