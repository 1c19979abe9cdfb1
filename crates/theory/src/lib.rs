//! # signest-theory
//!
//! Turns the claims of SPEC §5 into checks with numbers, intervals and verdicts:
//!
//! - [`condprob`]: p(z) = P(y = 1 | z) of a DGP without sampling;
//! - [`targets`]: population targets of `bt` and `sign` and their asymptotic bias (SPEC §4),
//!   by quadrature (d = 2) or streamed large samples, each with a numerical error;
//! - [`stats`]: rate slopes, plateau fits and crossovers on sweep results, with bootstrap
//!   intervals over replications;
//! - [`verdict`]: one verdict per claim, estimator and series (`signest verify`);
//! - [`gate`]: the accuracy gate run in CI (`signest check`) against a committed baseline.
//!
//! It owns the `[verify]` section of experiment files ([`spec`]). Depends on the sweep crate
//! for experiments, result rows and the results directory; the report crate and the CLI
//! depend on it.

pub mod calibrate;
pub mod condprob;
pub mod error;
pub mod files;
pub mod gate;
pub mod gaussian;
pub mod quad;
pub mod realdata;
pub mod spec;
pub mod stats;
pub mod targets;
pub mod verdict;

pub use error::TheoryError;
pub use spec::{Study, VerifySpec};
pub use targets::{Target, TargetOptions, targets};
