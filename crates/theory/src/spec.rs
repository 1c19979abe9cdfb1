//! The `[verify]` section of an experiment file, owned here because the claims are this
//! crate's: which claims must pass, the rate fits' smallest n, bootstrap resamples, and the
//! sample size of streamed targets. The sweep crate carries the section unread.
//! [`Study`] is an experiment together with its `[verify]` section: what every verdict,
//! target and gate function of this crate takes.

use serde::Deserialize;
use signest_core::spec::{Source, SpecError, line_of};
use signest_sweep::Experiment;
use toml::Spanned;

/// The claim ids of SPEC §5.
pub const CLAIMS: [&str; 6] = ["C1", "C2", "C3", "C4", "C5", "C6"];

#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
struct RawVerify {
    #[serde(default)]
    expect: Vec<Spanned<String>>,
    #[serde(default)]
    rate_min_n: Option<Spanned<i64>>,
    #[serde(default)]
    bootstrap: Option<Spanned<i64>>,
    #[serde(default)]
    target_sample: Option<Spanned<i64>>,
}

/// The file with only the section this crate reads; the rest is the sweep crate's.
#[derive(Deserialize)]
struct VerifyOnly {
    #[serde(default)]
    verify: Option<RawVerify>,
}

/// The claims an experiment checks (`[verify]`): see `signest verify` in docs/experiments.md.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifySpec {
    /// Claims (C1–C6) whose every verdict must pass; the others are reported only.
    pub expect: Vec<String>,
    /// Smallest n used in rate fits (default: the upper half of each series' n values).
    pub rate_min_n: Option<usize>,
    /// Bootstrap resamples for intervals.
    pub bootstrap: usize,
    /// Comparisons drawn for streamed population targets (d > 2).
    pub target_sample: u64,
}

impl Default for VerifySpec {
    fn default() -> Self {
        VerifySpec {
            expect: Vec::new(),
            rate_min_n: None,
            bootstrap: 2000,
            target_sample: 10_000_000,
        }
    }
}

impl VerifySpec {
    /// Parses the `[verify]` section of experiment text (pure); `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<VerifySpec, SpecError> {
        let src = Source::new(file, text);
        let raw: VerifyOnly = toml::from_str(text).map_err(|e| SpecError {
            file: file.to_string(),
            line: e.span().map(|s| line_of(text, s.start)),
            key: "verify".into(),
            message: e.message().replace('\n', " "),
        })?;
        let mut v = VerifySpec::default();
        let Some(r) = raw.verify else {
            return Ok(v);
        };
        for c in &r.expect {
            if !CLAIMS.contains(&c.get_ref().as_str()) {
                return Err(src.at(
                    c.span(),
                    "verify.expect",
                    format!("expected claim ids C1 to C6, got '{}'", c.get_ref()),
                ));
            }
            v.expect.push(c.get_ref().clone());
        }
        if let Some(m) = &r.rate_min_n {
            if !(2..=signest_sweep::spec::MAX_N).contains(m.get_ref()) {
                return Err(src.at(m.span(), "verify.rate_min_n", "must be at least 2"));
            }
            v.rate_min_n = Some(*m.get_ref() as usize);
        }
        if let Some(b) = &r.bootstrap {
            if !(100..=1_000_000).contains(b.get_ref()) {
                return Err(src.at(
                    b.span(),
                    "verify.bootstrap",
                    "must be at least 100 and at most 1000000",
                ));
            }
            v.bootstrap = *b.get_ref() as usize;
        }
        if let Some(t) = &r.target_sample {
            if !(10_000..=10_000_000_000).contains(t.get_ref()) {
                return Err(src.at(
                    t.span(),
                    "verify.target_sample",
                    "must be at least 10000 and at most 10000000000",
                ));
            }
            v.target_sample = *t.get_ref() as u64;
        }
        Ok(v)
    }
}

/// An experiment and the claims to check on it.
#[derive(Debug, Clone)]
pub struct Study {
    pub experiment: Experiment,
    pub verify: VerifySpec,
}

impl std::ops::Deref for Study {
    type Target = Experiment;
    fn deref(&self) -> &Experiment {
        &self.experiment
    }
}

impl std::ops::DerefMut for Study {
    fn deref_mut(&mut self) -> &mut Experiment {
        &mut self.experiment
    }
}

impl Study {
    /// The experiment with its own `[verify]` section.
    pub fn new(experiment: Experiment) -> Result<Study, SpecError> {
        let verify = VerifySpec::parse(&experiment.text, &experiment.file)?;
        Ok(Study { experiment, verify })
    }

    /// Reads, validates and resolves an experiment file, `[verify]` included.
    pub fn from_file(path: &std::path::Path) -> Result<Study, crate::TheoryError> {
        Ok(Study::new(Experiment::from_file(path)?)?)
    }
}
