//! Where a setting came from: the error type every crate's section of an experiment file
//! reports with ([`SpecError`]: FILE:LINE: KEY: message), and the [`Source`] that turns a byte
//! span of the file into a line number. Each crate owns the schema of its own section
//! (`[dgp]` in signest-sim, `[[estimator]]` in signest-estimator, `[verify]` in
//! signest-theory, the rest in signest-sweep); this is the vocabulary they share.

use std::fmt;
use std::ops::Range;

/// An invalid setting in a file: which file, which line (when known), which key, and what
/// was expected.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecError {
    pub file: String,
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}: {}", self.file, l, self.key, self.message),
            None => write!(f, "{}: {}: {}", self.file, self.key, self.message),
        }
    }
}
impl std::error::Error for SpecError {}

/// The text of a file and its name, for errors that point into it.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

impl<'a> Source<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Source<'a> {
        Source { file, text }
    }

    /// An error at a byte span of the text (an empty span `0..0` means "no line known", as
    /// for a default value that was not written).
    pub fn at(&self, span: Range<usize>, key: &str, message: impl Into<String>) -> SpecError {
        SpecError {
            file: self.file.to_string(),
            line: (span.end > 0).then(|| line_of(self.text, span.start)),
            key: key.to_string(),
            message: message.into(),
        }
    }
}

/// 1-based line number of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_unknown_positions() {
        let s = Source::new("f.toml", "a = 1\nb = 2\n");
        assert_eq!(s.at(6..7, "b", "bad").to_string(), "f.toml:2: b: bad");
        assert_eq!(s.at(0..0, "c", "missing").to_string(), "f.toml: c: missing");
    }
}
