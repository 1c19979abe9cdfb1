//! `bt`: Bradley–Terry / logistic MLE without intercept (the RLHF reward-model loss).

use crate::numeric::{add_diagonal_packed, add_outer_packed, sigmoid, softplus};
use crate::par::{add_into, map_reduce};
use crate::registry::{
    EstimatorKind, Family, NamedOptions, SettingError, SharedEstimator, SolverKind, ridge_at_least,
};
use crate::{Estimator, Fit, FitError, Status, check_nonempty};
use nalgebra::{DMatrix, DVector};
use signest_core::Comparisons;
use signest_core::linalg::{dot, norm};
use std::sync::Arc;
use std::time::Instant;

/// Minimises `Σ w_i log(1 + exp(−y_i θ'z_i)) + (ridge/2)|θ|²` by Newton's method with an
/// Armijo line search.
///
/// Guarantee: stops when `|∇| ≤ tol·|∇(0)|` (status `converged`). Separation: an iterate
/// that classifies every non-zero row strictly correctly *proves* the data separable (the MLE
/// does not exist); failing to converge within `max_iter` while |θ| grows is taken as
/// quasi-separation (a heuristic). In both cases the fit is redone with a ridge of
/// `separation_ridge · Σw` and its direction is returned with status `separable`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Bt {
    /// Ridge penalty λ (0 = the plain MLE of SPEC §2).
    pub ridge: f64,
    /// Relative gradient-norm tolerance.
    pub tol: f64,
    pub max_iter: u32,
    /// Ridge, relative to the total weight, used when separation is detected.
    pub separation_ridge: f64,
}

impl Default for Bt {
    fn default() -> Self {
        Bt {
            ridge: 0.0,
            tol: 1e-10,
            max_iter: 100,
            separation_ridge: 1e-6,
        }
    }
}

/// Result of one pass over the data at θ.
struct Eval {
    loss: f64,
    grad: Vec<f64>,
    /// Upper triangle of the Hessian, packed row by row (j ≤ k).
    hess: Vec<f64>,
    /// Rows with margin ≤ 0 (including all-zero rows, whose margin is always 0).
    nonpositive: usize,
}

fn evaluate(
    x: &[f64],
    w: Option<&[f64]>,
    d: usize,
    theta: &[f64],
    ridge: f64,
    with_hess: bool,
) -> Eval {
    let n = x.len() / d;
    let np = d * (d + 1) / 2;
    let (loss, mut part) = map_reduce(
        n,
        |rows| {
            let mut loss = 0.0;
            // grad (d) | hess (np) | nonpositive count (1)
            let mut acc = vec![0.0; d + if with_hess { np } else { 0 } + 1];
            for i in rows {
                let xi = &x[i * d..(i + 1) * d];
                let wi = w.map_or(1.0, |w| w[i]);
                let m = dot(xi, theta);
                loss += wi * softplus(-m);
                let p = sigmoid(-m); // probability of the wrong sign
                let gcoef = -wi * p;
                for j in 0..d {
                    acc[j] += gcoef * xi[j];
                }
                if with_hess {
                    add_outer_packed(&mut acc[d..d + np], wi * p * (1.0 - p), xi);
                }
                if m <= 0.0 {
                    acc[d + if with_hess { np } else { 0 }] += 1.0;
                }
            }
            (loss, acc)
        },
        |(l1, a1), (l2, a2)| (l1 + l2, add_into(a1, a2)),
    )
    .expect("n > 0");
    let nonpositive = part.pop().expect("count slot") as usize;
    let mut grad: Vec<f64> = part[..d].to_vec();
    let mut hess: Vec<f64> = if with_hess {
        part[d..].to_vec()
    } else {
        Vec::new()
    };
    let mut loss = loss;
    if ridge > 0.0 {
        loss += 0.5 * ridge * dot(theta, theta);
        for j in 0..d {
            grad[j] += ridge * theta[j];
        }
        if with_hess {
            add_diagonal_packed(&mut hess, ridge, d);
        }
    }
    Eval {
        loss,
        grad,
        hess,
        nonpositive,
    }
}

/// Solves `H p = −g` (H packed upper triangle) by Cholesky, falling back to a tiny diagonal
/// shift when H is numerically singular.
pub(crate) fn newton_direction(hess: &[f64], grad: &[f64], d: usize) -> Vec<f64> {
    let mut h = DMatrix::<f64>::zeros(d, d);
    let mut k = 0;
    for a in 0..d {
        for b in a..d {
            h[(a, b)] = hess[k];
            h[(b, a)] = hess[k];
            k += 1;
        }
    }
    let g = DVector::from_column_slice(grad);
    let scale = (0..d)
        .map(|j| h[(j, j)].abs())
        .fold(0.0, f64::max)
        .max(1e-300);
    let mut shift = 0.0;
    for _ in 0..20 {
        let mut hs = h.clone();
        for j in 0..d {
            hs[(j, j)] += shift;
        }
        if let Some(ch) = hs.cholesky() {
            let p = ch.solve(&(-&g));
            if p.iter().all(|v| v.is_finite()) {
                return p.as_slice().to_vec();
            }
        }
        shift = if shift == 0.0 {
            1e-12 * scale
        } else {
            shift * 100.0
        };
    }
    grad.iter().map(|v| -v / scale).collect()
}

struct NewtonOut {
    theta: Vec<f64>,
    loss: f64,
    iterations: u64,
    converged: bool,
    separable_proof: bool,
    grad_rel: f64,
}

fn newton(
    x: &[f64],
    w: Option<&[f64]>,
    d: usize,
    ridge: f64,
    tol: f64,
    max_iter: u32,
    zero_rows: usize,
) -> NewtonOut {
    let mut theta = vec![0.0; d];
    let mut cur = evaluate(x, w, d, &theta, ridge, true);
    let g0 = norm(&cur.grad).max(1e-300);
    let mut iterations = 0;
    loop {
        let gn = norm(&cur.grad);
        if gn <= tol * g0 {
            return NewtonOut {
                theta,
                loss: cur.loss,
                iterations,
                converged: true,
                separable_proof: false,
                grad_rel: gn / g0,
            };
        }
        if ridge == 0.0 && iterations > 0 && cur.nonpositive == zero_rows {
            // θ classifies every non-zero row strictly correctly: a proof of separation.
            return NewtonOut {
                theta,
                loss: cur.loss,
                iterations,
                converged: false,
                separable_proof: true,
                grad_rel: gn / g0,
            };
        }
        if iterations >= max_iter as u64 {
            return NewtonOut {
                theta,
                loss: cur.loss,
                iterations,
                converged: false,
                separable_proof: false,
                grad_rel: gn / g0,
            };
        }
        iterations += 1;
        let p = newton_direction(&cur.hess, &cur.grad, d);
        let slope = dot(&p, &cur.grad);
        let (p, slope) = if slope < 0.0 {
            (p, slope)
        } else {
            (cur.grad.iter().map(|g| -g).collect(), -gn * gn)
        };
        let mut alpha = 1.0;
        let mut accepted = None;
        for _ in 0..60 {
            let trial: Vec<f64> = theta.iter().zip(&p).map(|(t, s)| t + alpha * s).collect();
            let e = evaluate(x, w, d, &trial, ridge, true);
            // Armijo; near the optimum the predicted decrease falls below the rounding error
            // of the loss sum (all terms are positive, so that error is about ε·loss): then a
            // step that keeps the loss within rounding and lowers the gradient norm is taken.
            let noise = 8.0 * f64::EPSILON * cur.loss.abs();
            if e.loss <= cur.loss + 1e-4 * alpha * slope
                || (e.loss <= cur.loss + noise && norm(&e.grad) < gn)
            {
                accepted = Some((trial, e));
                break;
            }
            alpha *= 0.5;
        }
        match accepted {
            Some((t, e)) => {
                theta = t;
                cur = e;
            }
            None => {
                // No decrease representable in f64: we are at the optimum to machine precision.
                let gn = norm(&cur.grad);
                return NewtonOut {
                    theta,
                    loss: cur.loss,
                    iterations,
                    converged: gn <= 1e-6 * g0,
                    separable_proof: false,
                    grad_rel: gn / g0,
                };
            }
        }
    }
}

impl Estimator for Bt {
    fn name(&self) -> &'static str {
        "bt"
    }

    fn fit(&self, data: &Comparisons) -> Result<Fit, FitError> {
        let start = Instant::now();
        check_nonempty(data)?;
        if !(self.ridge >= 0.0 && self.tol > 0.0 && self.separation_ridge > 0.0) {
            return Err(FitError::Config(
                "bt: ridge >= 0, tol > 0 and separation_ridge > 0 are required".into(),
            ));
        }
        let d = data.d();
        let x = data.signed_rows();
        let w = data.weights();
        let zero_rows = x
            .chunks_exact(d)
            .filter(|r| r.iter().all(|v| *v == 0.0))
            .count();
        if zero_rows == data.n() {
            return Err(FitError::Degenerate("every comparison has z = 0".into()));
        }
        let mut notes = Vec::new();
        let out = newton(&x, w, d, self.ridge, self.tol, self.max_iter, zero_rows);
        let (theta, loss, iterations, status) = if out.converged {
            (out.theta, out.loss, out.iterations, Status::Converged)
        } else if out.separable_proof || self.ridge == 0.0 {
            if out.separable_proof {
                notes.push(format!(
                    "data are separable: iteration {} classifies every row correctly, so the MLE does not exist",
                    out.iterations
                ));
            } else {
                notes.push(format!(
                    "no convergence in {} Newton steps (relative gradient {:.2e}, |θ| = {:.3e}): treated as quasi-separable",
                    out.iterations,
                    out.grad_rel,
                    norm(&out.theta)
                ));
            }
            let lam = self.separation_ridge * data.total_weight();
            let r = newton(&x, w, d, lam, self.tol, self.max_iter, zero_rows);
            notes.push(format!("direction from a ridge fit with λ = {lam:.3e}"));
            (
                r.theta,
                r.loss,
                out.iterations + r.iterations,
                Status::Separable,
            )
        } else {
            notes.push(format!(
                "relative gradient {:.2e} after {} steps",
                out.grad_rel, out.iterations
            ));
            (out.theta, out.loss, out.iterations, Status::MaxIterations)
        };
        let direction = signest_core::linalg::normalized(&theta).ok_or_else(|| {
            FitError::Degenerate(
                "the fitted θ is 0: the data are balanced in every direction".into(),
            )
        })?;
        Ok(Fit {
            estimator: "bt",
            solver: "newton",
            direction,
            coefficients: Some(theta),
            status,
            iterations,
            objective: loss,
            certificate: None,
            fit_seconds: start.elapsed().as_secs_f64(),
            notes,
        })
    }
}

/// The `bt` objective's gradient at θ, from signed rows `x_i = y_i z_i` (row-major n×d, see
/// [`Comparisons::signed_rows`]): one pass over the data. For tests, diagnostics and benches.
pub fn bt_gradient(x: &[f64], w: Option<&[f64]>, d: usize, theta: &[f64], ridge: f64) -> Vec<f64> {
    evaluate(x, w, d, theta, ridge, false).grad
}

/// The registry entry of `bt` (see [`crate::registry`]).
pub const KIND: EstimatorKind = EstimatorKind {
    name: "bt",
    family: Family::Bt,
    solvers: &[
        SolverKind {
            name: "newton",
            settings: &["ridge"],
            guarantee: "relative gradient norm < 1e-10; separable data detected and reported, direction from a tiny ridge",
            colour: [0, 114, 178],
        },
        SolverKind {
            name: "sgd",
            settings: &["seed"],
            guarantee: "heuristic: minibatch Adam on the logistic loss, 20 epochs from w = 0 (no convergence test); reports the achieved log-loss",
            colour: [51, 34, 136],
        },
    ],
    needs_panel: false,
    plain_default_label: true,
    build,
};

fn build(solver: &str, o: &NamedOptions) -> Result<SharedEstimator, SettingError> {
    if solver == "sgd" {
        return Ok(Arc::new(crate::Sgd {
            loss: crate::SgdLoss::Logistic,
            config: crate::SgdConfig {
                seed: o.seed.unwrap_or(0),
                ..crate::SgdConfig::default()
            },
        }));
    }
    Ok(Arc::new(Bt {
        ridge: ridge_at_least(o, 0.0, false)?,
        ..Bt::default()
    }))
}
