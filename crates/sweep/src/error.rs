//! The one error type of signest-sweep. It says what went wrong; the CLI alone decides the
//! exit code ([`SweepError::is_input`]: the user's file, settings or directory, exit 2;
//! anything else, exit 1).

use signest_core::spec::SpecError;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub enum SweepError {
    /// An invalid experiment file: FILE:LINE: KEY: what was expected.
    Spec(SpecError),
    /// Bad input that is not a file's setting: a flag, the state of an output directory, a
    /// results directory that is not one.
    Input(String),
    /// The run cannot fit on this machine (memory, units); the message has the estimate.
    Resources(String),
    /// Reading or writing a file failed.
    Io { path: PathBuf, message: String },
    /// The run itself failed (too many failed fits, a worker thread).
    Failed(String),
}

impl SweepError {
    /// Whether the user's input is at fault (exit code 2 in the CLI).
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            SweepError::Spec(_) | SweepError::Input(_) | SweepError::Resources(_)
        )
    }

    pub fn io(path: &Path, e: impl fmt::Display) -> SweepError {
        SweepError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }

    /// The message alone (what `Display` prints).
    pub fn message(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for SweepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SweepError::Spec(e) => write!(f, "{e}"),
            SweepError::Input(m) | SweepError::Resources(m) | SweepError::Failed(m) => {
                f.write_str(m)
            }
            SweepError::Io { path, message } => write!(f, "{}: {message}", path.display()),
        }
    }
}

impl std::error::Error for SweepError {}

impl From<SpecError> for SweepError {
    fn from(e: SpecError) -> Self {
        SweepError::Spec(e)
    }
}

pub(crate) fn input(message: impl Into<String>) -> SweepError {
    SweepError::Input(message.into())
}

pub(crate) fn failure(message: impl Into<String>) -> SweepError {
    SweepError::Failed(message.into())
}
