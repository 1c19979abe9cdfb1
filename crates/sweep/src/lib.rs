//! # signest-sweep
//!
//! Monte Carlo sweeps (SPEC §7). An experiment file goes through two stages: [`spec`] parses
//! and validates what the user wrote (pure: no IO, no fits; each crate owns its section's
//! schema) and [`plan`] resolves it (reads persona files, fixes each cell's DGP, estimates the
//! memory a run needs). Each *work unit* (cell, replication) draws one data set from its own
//! stream `(master seed, cell key, replication)` and fits every estimator on it (common random
//! numbers). [`run::run`] executes the units in parallel (rayon), appends each finished unit
//! durably to `progress.jsonl`, and at the end writes `runs.csv`, `summary.csv` and
//! `manifest.json` ([`output`]) into a [`results::ResultsDir`], the one owner of that layout.
//! Results do not depend on the thread count or order; any interrupted run can be resumed;
//! shards of a run can be merged ([`merge`]); any unit can be replayed alone
//! ([`run::run_unit`]).
//!
//! Errors are one type, [`SweepError`]; the CLI decides exit codes from it.

pub mod cost;
pub mod error;
pub mod merge;
pub mod output;
pub mod plan;
mod progress;
pub mod results;
pub mod run;
pub mod spec;

pub use error::SweepError;
pub use output::{Row, SummaryRow};
pub use plan::{Experiment, Inputs, RealPersonas};
pub use results::{Manifest, ResultsDir};
pub use run::{
    AuditReport, EffortRow, Observer, ReuseReport, RunOptions, Shard, Tick, audit, backfill_truth,
    effort_check, reuse_from, run, run_observed, run_unit, run_unit_from, sample_unit,
    truth_loss01,
};
pub use spec::{Cell, ExperimentSpec};
