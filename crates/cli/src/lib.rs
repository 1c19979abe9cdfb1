//! # signest (CLI library)
//!
//! Everything the `signest` binary does is a call into this library, so tests can make the same
//! calls. `main.rs` only parses arguments, prints, and maps [`CliError`] to exit codes:
//! 0 success, 2 bad input (file, column, setting), 1 anything else.

pub mod demo;
pub mod fit;
pub mod sweep;
pub mod theory;

use std::fmt;

/// An error with the exit code it deserves.
#[derive(Debug, Clone, PartialEq)]
pub struct CliError {
    pub code: i32,
    pub message: String,
}

impl CliError {
    /// Bad input: exit code 2.
    pub fn input(message: impl Into<String>) -> Self {
        CliError {
            code: 2,
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for CliError {}

impl From<signest_sweep::SweepError> for CliError {
    fn from(e: signest_sweep::SweepError) -> Self {
        CliError {
            code: if e.is_input() { 2 } else { 1 },
            message: e.to_string(),
        }
    }
}

impl From<signest_theory::TheoryError> for CliError {
    fn from(e: signest_theory::TheoryError) -> Self {
        CliError {
            code: if e.is_input() { 2 } else { 1 },
            message: e.to_string(),
        }
    }
}

impl From<signest_report::ReportError> for CliError {
    fn from(e: signest_report::ReportError) -> Self {
        CliError {
            code: if e.is_input() { 2 } else { 1 },
            message: e.to_string(),
        }
    }
}

impl From<signest_core::spec::SpecError> for CliError {
    fn from(e: signest_core::spec::SpecError) -> Self {
        CliError::input(e.to_string())
    }
}
