//! The `[[estimator]]` section of an experiment file: its schema and its validation, owned
//! here because the settings are this crate's (see docs/experiments.md). Pure: no IO.

use crate::registry::{NameError, NamedOptions, Registry, SolverKind};
use crate::{EstimatorKind, SharedEstimator};
use serde::Deserialize;
use signest_core::spec::{Source, SpecError};
use std::fmt;
use std::ops::Range;
use toml::Spanned;

/// One `[[estimator]]` table as written.
#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct EstimatorSection {
    name: Spanned<String>,
    #[serde(default)]
    solver: Option<Spanned<String>>,
    #[serde(default)]
    label: Option<Spanned<String>>,
    #[serde(default)]
    max_nodes: Option<Spanned<u64>>,
    #[serde(default)]
    time_limit_seconds: Option<Spanned<f64>>,
    #[serde(default)]
    max_memory_mib: Option<Spanned<u64>>,
    #[serde(default)]
    seed: Option<Spanned<u64>>,
    #[serde(default)]
    ridge: Option<Spanned<f64>>,
    #[serde(default)]
    c: Option<Spanned<f64>>,
    #[serde(default)]
    random_starts: Option<Spanned<u32>>,
    #[serde(default)]
    classes: Option<Spanned<usize>>,
    #[serde(default)]
    profile: Option<Spanned<String>>,
    #[serde(default)]
    command: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    timeout_seconds: Option<Spanned<f64>>,
}

/// One estimator of an experiment, with the label that names it in the results.
#[derive(Clone)]
pub struct EstimatorEntry {
    /// The `estimator` column of runs.csv.
    pub label: String,
    pub kind: EstimatorKind,
    /// The `solver` column of runs.csv is `solver.name`.
    pub solver: &'static SolverKind,
    pub estimator: SharedEstimator,
}

impl EstimatorEntry {
    /// SPEC name of the estimator (`bt`, `sign`, ...).
    pub fn name(&self) -> &'static str {
        self.kind.name
    }
    /// Colour in figures (sRGB), from the registry.
    pub fn colour(&self) -> [u8; 3] {
        self.solver.colour
    }
}

impl fmt::Debug for EstimatorEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EstimatorEntry")
            .field("label", &self.label)
            .field("name", &self.kind.name)
            .field("solver", &self.solver.name)
            .finish()
    }
}

impl PartialEq for EstimatorEntry {
    fn eq(&self, other: &Self) -> bool {
        self.label == other.label && self.kind == other.kind && self.solver == other.solver
    }
}

impl EstimatorSection {
    /// Validates the section against `registry`; `whole` is the table's span (for errors
    /// that concern the table rather than one key). `panel` says whether the design records
    /// respondent ids: an estimator that needs them is an error in a pooled design.
    pub fn resolve(
        &self,
        src: &Source,
        whole: Range<usize>,
        registry: &Registry,
        panel: bool,
    ) -> Result<EstimatorEntry, SpecError> {
        let name = self.name.get_ref().as_str();
        let o = NamedOptions {
            solver: self.solver.as_ref().map(|s| s.get_ref().clone()),
            max_nodes: self.max_nodes.as_ref().map(|v| *v.get_ref()),
            time_limit_seconds: self.time_limit_seconds.as_ref().map(|v| *v.get_ref()),
            max_memory_mib: self.max_memory_mib.as_ref().map(|v| *v.get_ref()),
            seed: self.seed.as_ref().map(|v| *v.get_ref()),
            ridge: self.ridge.as_ref().map(|v| *v.get_ref()),
            c: self.c.as_ref().map(|v| *v.get_ref()),
            random_starts: self.random_starts.as_ref().map(|v| *v.get_ref()),
            classes: self.classes.as_ref().map(|v| *v.get_ref()),
            profile: self.profile.as_ref().map(|v| v.get_ref().clone()),
            command: self.command.as_ref().map(|v| v.get_ref().clone()),
            timeout_seconds: self.timeout_seconds.as_ref().map(|v| *v.get_ref()),
        };
        let built = registry.build(name, &o).map_err(|e| match &e {
            NameError::UnknownEstimator { .. } => {
                src.at(self.name.span(), "estimator.name", e.to_string())
            }
            NameError::UnknownSolver { .. } => src.at(
                self.solver.as_ref().map_or(whole.clone(), |s| s.span()),
                "estimator.solver",
                e.to_string(),
            ),
            NameError::NotApplicable { key, .. } => src.at(
                self.span_of(key).unwrap_or(whole.clone()),
                &format!("estimator.{key}"),
                e.to_string(),
            ),
            NameError::BadSetting(s) => src.at(
                self.span_of(s.key).unwrap_or(whole.clone()),
                &format!("estimator.{}", s.key),
                e.to_string(),
            ),
        })?;
        if built.kind.needs_panel && !panel {
            return Err(src.at(
                self.name.span(),
                "estimator.name",
                format!(
                    "{name} needs respondent ids: set dgp.per_respondent (a panel design), or drop it from a pooled design"
                ),
            ));
        }
        let label = match &self.label {
            Some(l) => {
                let v = l.get_ref();
                if v.is_empty()
                    || v.len() > 64
                    || !v
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
                {
                    return Err(src.at(
                        l.span(),
                        "estimator.label",
                        format!("expected 1 to 64 letters, digits, '_', '-' or '.', got '{v}'"),
                    ));
                }
                v.clone()
            }
            None => built.kind.default_label(built.solver.name),
        };
        Ok(EstimatorEntry {
            label,
            kind: built.kind,
            solver: built.solver,
            estimator: built.estimator,
        })
    }

    /// The span of the label, for errors about duplicate labels.
    pub fn label_span(&self) -> Option<Range<usize>> {
        self.label.as_ref().map(|l| l.span())
    }

    fn span_of(&self, key: &str) -> Option<Range<usize>> {
        match key {
            "max_nodes" => self.max_nodes.as_ref().map(|v| v.span()),
            "time_limit_seconds" => self.time_limit_seconds.as_ref().map(|v| v.span()),
            "max_memory_mib" => self.max_memory_mib.as_ref().map(|v| v.span()),
            "seed" => self.seed.as_ref().map(|v| v.span()),
            "ridge" => self.ridge.as_ref().map(|v| v.span()),
            "c" => self.c.as_ref().map(|v| v.span()),
            "random_starts" => self.random_starts.as_ref().map(|v| v.span()),
            "classes" => self.classes.as_ref().map(|v| v.span()),
            "profile" => self.profile.as_ref().map(|v| v.span()),
            "command" => self.command.as_ref().map(|v| v.span()),
            "timeout_seconds" => self.timeout_seconds.as_ref().map(|v| v.span()),
            _ => None,
        }
    }
}
