//! # signest-core
//!
//! The shared vocabulary of signest, with no knowledge of how data are generated or fitted:
//!
//! - [`Comparisons`]: a data set of pairwise comparisons (SPEC §1): differences `z` (row-major
//!   n×d), labels `y ∈ {+1, −1}`, optional weights and respondent ids, feature names.
//! - [`seed`]: the reproducibility contract of SPEC §7 (one ChaCha stream per
//!   (master seed, cell key, replication)).
//! - [`metrics`]: angular error, disagreement, 0-1 loss (SPEC §3).
//! - [`spec`]: the error every section of an experiment file reports with (FILE:LINE: KEY).
//! - [`linalg`]: the handful of small dense-vector helpers every crate needs.
//!
//! Data flow in the workspace is one way: config → DGP (`signest-sim`) → [`Comparisons`] →
//! estimators (`signest-estimator`) → [`metrics`]. This crate sits under all of them and
//! depends on none.

pub mod data;
pub mod linalg;
pub mod metrics;
pub mod seed;
pub mod spec;

pub use data::{Comparisons, DataError, Standardization};
