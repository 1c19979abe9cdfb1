//! The one error type of signest-theory; the CLI decides exit codes from
//! [`TheoryError::is_input`].

use signest_core::spec::SpecError;
use signest_sweep::SweepError;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum TheoryError {
    /// The user's input is at fault (a file, a directory, a setting).
    Input(String),
    /// Something failed while computing or writing.
    Failed(String),
    /// From the sweep crate (reading results, running the gate's experiment).
    Sweep(SweepError),
}

impl TheoryError {
    pub fn is_input(&self) -> bool {
        match self {
            TheoryError::Input(_) => true,
            TheoryError::Failed(_) => false,
            TheoryError::Sweep(e) => e.is_input(),
        }
    }
}

impl fmt::Display for TheoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TheoryError::Input(m) | TheoryError::Failed(m) => f.write_str(m),
            TheoryError::Sweep(e) => write!(f, "{e}"),
        }
    }
}
impl std::error::Error for TheoryError {}

impl From<SweepError> for TheoryError {
    fn from(e: SweepError) -> Self {
        TheoryError::Sweep(e)
    }
}
impl From<SpecError> for TheoryError {
    fn from(e: SpecError) -> Self {
        TheoryError::Sweep(SweepError::Spec(e))
    }
}

pub(crate) fn input(m: impl Into<String>) -> TheoryError {
    TheoryError::Input(m.into())
}
pub(crate) fn other(m: impl Into<String>) -> TheoryError {
    TheoryError::Failed(m.into())
}
