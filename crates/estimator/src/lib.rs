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
//! Each estimator is registered once ([`registry`]): its family, solvers, settings and
//! colour are looked up there by every other crate.
//!
//! Estimators see data only through [`signest_core::Comparisons`]; they know nothing of how it
//! was generated. Every estimator depends on the data only through the signed rows
//! `x_i = y_i z_i` and the weights, so swapping the alternatives of a pair and flipping its
//! label never changes a fit.

mod bt;
pub mod external;
mod hinge;
pub mod logistic;
pub mod numeric;
pub mod panel;
pub mod par;
pub mod registry;
pub mod sgd;
pub mod sign;
pub mod spec;

pub use bt::{Bt, BtSolver, bt_gradient};
pub use external::External;
pub use hinge::Hinge;
pub use panel::{EmSolution, LatentClass, PerUser};
pub use registry::{
    Built, EstimatorKind, Family, NameError, NamedOptions, Registry, SettingError, SharedEstimator,
    SolverKind,
};
pub use sgd::{Sgd, SgdConfig, SgdLoss};
pub use sign::{AnnealConfig, ExactConfig, Sign, SignSolver, SmoothConfig};
pub use spec::{EstimatorEntry, EstimatorSection};

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
    /// An external estimator's worker failed (timeout, crash, malformed answer).
    External(String),
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FitError::Degenerate(s) => write!(f, "degenerate data: {s}"),
            FitError::Config(s) => write!(f, "invalid estimator setting: {s}"),
            FitError::External(s) => write!(f, "external estimator: {s}"),
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
    /// Bytes this estimator allocates for a fit on n rows of dimension d, beyond the data
    /// themselves (the sweep's memory estimate adds it before any work starts). The default,
    /// two copies of the rows, covers the built-in convex solvers' signed rows and margins.
    fn memory_bytes(&self, n: usize, d: usize) -> u64 {
        2 * (n as u64) * (d as u64 + 1) * 8
    }
    /// The same estimator at `factor` times its search effort (starts, iterations, polish
    /// rounds), for the effort check of heuristic solvers; `None` where effort does not apply
    /// (exact and convex solvers reach their optimum at any effort).
    fn at_effort(&self, _factor: f64) -> Option<SharedEstimator> {
        None
    }
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
