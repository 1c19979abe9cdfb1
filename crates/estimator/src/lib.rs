//! # signest-estimator
//!
//! The estimators of SPEC §2, each *configured, then fitted* (linfa style): a config value
//! implements [`Estimator`], and [`Estimator::fit`] returns a [`Fit`] with the unit direction,
//! the objective, a solver [`Status`] and diagnostics.
//!
//! | estimator | solver | guarantee |
//! |---|---|---|
//! | [`Bt`] | Newton with Armijo line search | converged to relative gradient norm `tol` (1e-10), or separation detected and reported |
//! | [`Sign`] `exact`, d ≤ 2 | angular sweep, O(n log n) | exact: certified optimum |
//! | [`Sign`] `exact`, d ≥ 3 | branch and bound over the sphere | certified optimum (lower bound = upper bound) or best found with a proven gap when the budget runs out |
//! | [`Sign`] `smooth` | annealed smoothed 0-1 loss + 0-1 polish | heuristic (reports the achieved 0-1 loss) |
//! | [`Hinge`] | dual coordinate descent | converged to a relative duality gap, reported |
//!
//! Estimators see data only through [`signest_core::Comparisons`]; they know nothing of how it
//! was generated. Every estimator depends on the data only through the signed rows
//! `x_i = y_i z_i` and the weights, so swapping the alternatives of a pair and flipping its
//! label never changes a fit.

mod bt;
mod hinge;
pub mod numeric;
pub mod panel;
pub mod par;
pub mod sign;

pub use bt::{Bt, bt_gradient};
pub use hinge::Hinge;
pub use panel::{LatentClass, PerUser};
pub use sign::{ExactConfig, Sign, SignSolver, SmoothConfig};

use signest_core::Comparisons;
use std::fmt;

/// How a fit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// An iterative solver met its convergence criterion.
    Converged,
    /// An iterative solver stopped at its iteration cap before its criterion.
    MaxIterations,
    /// Exact solver: the returned direction is proven optimal (lower bound = upper bound).
    CertifiedOptimal,
    /// Exact solver: the budget ran out; the certificate holds the remaining gap.
    Gap,
    /// A heuristic solver: no optimality guarantee (the achieved objective is reported).
    Heuristic,
    /// `bt` only: the data are (quasi-)separable, the MLE does not exist; the direction is that
    /// of a tiny-ridge fit.
    Separable,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Converged => "converged",
            Status::MaxIterations => "max_iterations",
            Status::CertifiedOptimal => "certified_optimal",
            Status::Gap => "gap",
            Status::Heuristic => "heuristic",
            Status::Separable => "separable",
        }
    }
}

/// Bounds on the optimal weighted 0-1 loss (sums, SPEC §2) proven by an exact solver.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Certificate {
    /// Proven: no unit vector has a smaller loss.
    pub lower_bound: f64,
    /// The loss of the returned direction (evaluated directly).
    pub upper_bound: f64,
    /// Branch-and-bound nodes processed (0 for the sweep).
    pub nodes: u64,
}

impl Certificate {
    pub fn gap(&self) -> f64 {
        (self.upper_bound - self.lower_bound).max(0.0)
    }
}

/// A fitted estimator.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Fit {
    /// `bt`, `sign` or `hinge`.
    pub estimator: &'static str,
    /// The solver that produced it (`newton`, `sweep`, `branch_and_bound`, `smooth`, `dual_cd`).
    pub solver: &'static str,
    /// Unit vector in R^d: the estimated direction of beta_bar.
    pub direction: Vec<f64>,
    /// The unnormalised minimiser θ, for estimators that have one (`bt`, `hinge`).
    pub coefficients: Option<Vec<f64>>,
    pub status: Status,
    /// Iterations (Newton steps, gradient steps, passes, or nodes — per solver).
    pub iterations: u64,
    /// The estimator's own objective at the solution (log-loss sum for `bt`, weighted 0-1 loss
    /// sum for `sign`, primal hinge objective for `hinge`).
    pub objective: f64,
    /// Exact `sign` solvers only.
    pub certificate: Option<Certificate>,
    /// Wall-clock seconds spent in `fit`.
    pub fit_seconds: f64,
    /// Diagnostics in words (separation detected, budget exhausted, ...).
    pub notes: Vec<String>,
}

impl Fit {
    /// True when an exact solver proved optimality.
    pub fn certified(&self) -> bool {
        self.status == Status::CertifiedOptimal
    }
}

/// Why a fit could not produce a direction.
#[derive(Debug, Clone, PartialEq)]
pub enum FitError {
    /// The data carry no information about a direction (e.g. every row is zero).
    Degenerate(String),
    /// A configuration value is out of range.
    Config(String),
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FitError::Degenerate(s) => write!(f, "degenerate data: {s}"),
            FitError::Config(s) => write!(f, "invalid estimator setting: {s}"),
        }
    }
}
impl std::error::Error for FitError {}

/// A configured estimator.
pub trait Estimator {
    /// SPEC §2 name: `bt`, `sign`, `hinge`, ...
    fn name(&self) -> &'static str;
    /// Fits on `data`.
    fn fit(&self, data: &Comparisons) -> Result<Fit, FitError>;
}

/// Any estimator of this crate, chosen at run time (CLI, experiment files).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "estimator", rename_all = "snake_case")]
pub enum AnyEstimator {
    Bt(Bt),
    Sign(Sign),
    Hinge(Hinge),
    Em(LatentClass),
    Peruser(PerUser),
}

impl Estimator for AnyEstimator {
    fn name(&self) -> &'static str {
        match self {
            AnyEstimator::Bt(e) => e.name(),
            AnyEstimator::Sign(e) => e.name(),
            AnyEstimator::Hinge(e) => e.name(),
            AnyEstimator::Em(e) => e.name(),
            AnyEstimator::Peruser(e) => e.name(),
        }
    }
    fn fit(&self, data: &Comparisons) -> Result<Fit, FitError> {
        match self {
            AnyEstimator::Bt(e) => e.fit(data),
            AnyEstimator::Sign(e) => e.fit(data),
            AnyEstimator::Hinge(e) => e.fit(data),
            AnyEstimator::Em(e) => e.fit(data),
            AnyEstimator::Peruser(e) => e.fit(data),
        }
    }
}

pub(crate) fn check_nonempty(data: &Comparisons) -> Result<(), FitError> {
    if data.n() == 0 {
        return Err(FitError::Degenerate("no rows".into()));
    }
    Ok(())
}

/// Settings that can be given by name (command-line flags, experiment files); `None` keeps
/// the estimator's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NamedOptions {
    /// `exact` or `smooth` (sign only; default exact).
    pub solver: Option<String>,
    /// sign exact: branch-and-bound node budget.
    pub max_nodes: Option<u64>,
    /// sign exact: time budget in seconds.
    pub time_limit_seconds: Option<f64>,
    /// sign smooth: seed of the random starts.
    pub seed: Option<u64>,
    /// sign smooth: random starts besides bt and the mean signed row (default 8); em: random
    /// starts besides the one from bt (default 4).
    pub random_starts: Option<u32>,
    /// em: number of latent classes (0 = choose 1..=4 by BIC; default 2).
    pub classes: Option<usize>,
    /// bt: ridge penalty.
    pub ridge: Option<f64>,
    /// hinge: C.
    pub c: Option<f64>,
}

/// Why [`AnyEstimator::from_name`] refused; callers say where the bad value came from.
#[derive(Debug, Clone, PartialEq)]
pub enum NameError {
    /// Not `bt`, `sign` or `hinge`.
    UnknownEstimator(String),
    /// Not `exact` or `smooth`.
    UnknownSolver(String),
    /// A solver was given for an estimator other than sign.
    SolverNotApplicable(String),
    /// A setting out of range (the message says which).
    BadSetting(String),
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::UnknownEstimator(s) => {
                write!(f, "expected bt, sign, hinge, em or peruser, got '{s}'")
            }
            NameError::UnknownSolver(s) => write!(f, "expected exact or smooth, got '{s}'"),
            NameError::SolverNotApplicable(s) => {
                write!(f, "a solver applies to the sign estimator only, not {s}")
            }
            NameError::BadSetting(s) => f.write_str(s),
        }
    }
}

impl AnyEstimator {
    /// Builds an estimator from its SPEC name and named settings. Returns it with the name of
    /// its solver (`newton`, `exact`, `smooth`, `dual_cd`).
    pub fn from_name(
        name: &str,
        o: &NamedOptions,
    ) -> Result<(AnyEstimator, &'static str), NameError> {
        if name != "sign" && o.solver.is_some() {
            return Err(NameError::SolverNotApplicable(name.to_string()));
        }
        if let Some(t) = o.time_limit_seconds
            && !(t > 0.0 && t.is_finite())
        {
            return Err(NameError::BadSetting(format!(
                "time limit must be a positive number of seconds, got {t}"
            )));
        }
        Ok(match name {
            "bt" => (
                AnyEstimator::Bt(Bt {
                    ridge: o.ridge.unwrap_or(0.0),
                    ..Bt::default()
                }),
                "newton",
            ),
            "peruser" => (
                AnyEstimator::Peruser(PerUser {
                    ridge: o.ridge.unwrap_or(PerUser::default().ridge),
                }),
                "newton",
            ),
            "em" => {
                let d = LatentClass::default();
                (
                    AnyEstimator::Em(LatentClass {
                        classes: match o.classes {
                            Some(0) => None,
                            Some(k) => Some(k),
                            None => d.classes,
                        },
                        random_starts: o.random_starts.unwrap_or(d.random_starts),
                        ridge: o.ridge.unwrap_or(d.ridge),
                        seed: o.seed.unwrap_or(d.seed),
                        ..d
                    }),
                    "em",
                )
            }
            "hinge" => (
                AnyEstimator::Hinge(Hinge {
                    c: o.c.unwrap_or(Hinge::default().c),
                    ..Hinge::default()
                }),
                "dual_cd",
            ),
            "sign" => match o.solver.as_deref().unwrap_or("exact") {
                "exact" => {
                    let d = ExactConfig::default();
                    let cfg = ExactConfig {
                        max_nodes: o.max_nodes.unwrap_or(d.max_nodes),
                        time_limit_seconds: o.time_limit_seconds.unwrap_or(d.time_limit_seconds),
                        ..d
                    };
                    (
                        AnyEstimator::Sign(Sign {
                            solver: SignSolver::Exact(cfg),
                        }),
                        "exact",
                    )
                }
                "smooth" => {
                    let cfg = SmoothConfig {
                        seed: o.seed.unwrap_or(0),
                        random_starts: o
                            .random_starts
                            .unwrap_or(SmoothConfig::default().random_starts),
                        ..SmoothConfig::default()
                    };
                    (
                        AnyEstimator::Sign(Sign {
                            solver: SignSolver::Smooth(cfg),
                        }),
                        "smooth",
                    )
                }
                other => return Err(NameError::UnknownSolver(other.to_string())),
            },
            other => return Err(NameError::UnknownEstimator(other.to_string())),
        })
    }
}
