//! # signest-sweep
//!
//! Monte Carlo sweeps (SPEC §7): an experiment file ([`config`]) defines a grid of cells and R
//! replications; each *work unit* (cell, replication) draws one data set from its own stream
//! `(master seed, cell key, replication)` and fits every estimator on it (common random
//! numbers). [`run::run`] executes the units in parallel (rayon), appends each finished unit
//! durably to `progress.jsonl`, and at the end writes `runs.csv`, `summary.csv` and
//! `manifest.json` ([`output`]). Results do not depend on the thread count or order; any
//! interrupted run can be resumed; shards of a run can be merged ([`merge`]); any unit can be
//! replayed alone ([`run::run_unit`]).

pub mod config;
pub mod merge;
pub mod output;
pub mod run;

pub use config::{ConfigError, Experiment, VerifySpec};
pub use output::{Row, SummaryRow};
pub use run::{
    ReuseReport, RunError, RunOptions, Shard, reuse_from, run, run_unit, run_unit_from,
    truth_loss01,
};
