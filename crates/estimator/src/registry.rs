//! The estimator registry: one [`EstimatorKind`] per estimator of SPEC §2, with its family,
//! its solvers (each with the settings it takes, its guarantee and its colour in figures),
//! whether it needs a panel design, and how to build it from named settings.
//!
//! Sweep (experiment files), theory (verdict roles), report (colours, which line is "sign")
//! and the CLI (`signest fit`) all ask the registry; nobody matches estimator names or label
//! prefixes. Adding an estimator is one new file that defines its `KIND`, plus one line in
//! [`BUILTIN`]; a caller may also extend a [`Registry`] at run time ([`Registry::with`]).

use crate::{Estimator, panel};
use std::fmt;
use std::sync::Arc;

/// An estimator shared by the threads of a sweep.
pub type SharedEstimator = Arc<dyn Estimator + Send + Sync>;

/// What an estimator is, for the claims of SPEC §5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Minimises the 0-1 loss (the sign estimator).
    Sign,
    /// Minimises the logistic (Bradley–Terry) loss: the RLHF baseline.
    Bt,
    /// Another convex surrogate of the 0-1 loss (hinge).
    Surrogate,
    /// Uses respondent ids (latent classes, per-respondent fits).
    Panel,
    /// A user's estimator run as a worker process (`external`): no claim is made about it.
    External,
}

impl Family {
    pub fn as_str(&self) -> &'static str {
        match self {
            Family::Sign => "sign",
            Family::Bt => "bt",
            Family::Surrogate => "surrogate",
            Family::Panel => "panel",
            Family::External => "external",
        }
    }
}

/// One solver of an estimator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolverKind {
    /// As written in files and on the command line, and in the `solver` column of runs.csv.
    pub name: &'static str,
    /// The settings (keys of [`NamedOptions`]) this solver takes; any other is an error.
    pub settings: &'static [&'static str],
    /// What the solver guarantees, in words (README's table).
    pub guarantee: &'static str,
    /// Its colour in every figure (sRGB).
    pub colour: [u8; 3],
}

/// One estimator of SPEC §2.
#[derive(Clone, Copy)]
pub struct EstimatorKind {
    /// SPEC name: `bt`, `sign`, ...
    pub name: &'static str,
    pub family: Family,
    /// Solvers; the first is the default.
    pub solvers: &'static [SolverKind],
    /// Needs respondent ids (a panel design).
    pub needs_panel: bool,
    /// Rows of the default (first) solver are labelled by the estimator's name alone, even
    /// with several solvers (`bt`, whose results predate its second solver, keeps `bt`).
    pub plain_default_label: bool,
    /// Builds the estimator with a solver of [`EstimatorKind::solvers`] from settings that
    /// solver takes; a setting out of range is an error whose message says what is allowed.
    pub build: fn(solver: &str, o: &NamedOptions) -> Result<SharedEstimator, SettingError>,
}

impl fmt::Debug for EstimatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EstimatorKind")
            .field("name", &self.name)
            .field("family", &self.family)
            .field(
                "solvers",
                &self.solvers.iter().map(|s| s.name).collect::<Vec<_>>(),
            )
            .field("needs_panel", &self.needs_panel)
            .finish()
    }
}

impl PartialEq for EstimatorKind {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl EstimatorKind {
    pub fn solver(&self, name: &str) -> Option<&'static SolverKind> {
        self.solvers.iter().find(|s| s.name == name)
    }
    pub fn default_solver(&self) -> &'static SolverKind {
        &self.solvers[0]
    }
    /// The label an estimator gets when the file gives none: its name, or `name_solver` when
    /// the estimator has several solvers (`sign_exact`, `sign_smooth`).
    pub fn default_label(&self, solver: &str) -> String {
        let plain = self.plain_default_label && solver == self.solvers[0].name;
        if self.solvers.len() > 1 && !plain {
            format!("{}_{solver}", self.name)
        } else {
            self.name.to_string()
        }
    }
}

/// Settings that can be given by name (command-line flags, experiment files); `None` keeps
/// the estimator's default. Which apply depends on the solver ([`SolverKind::settings`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NamedOptions {
    /// The solver (default: the estimator's first).
    pub solver: Option<String>,
    /// sign exact: branch-and-bound node budget.
    pub max_nodes: Option<u64>,
    /// sign exact: time budget in seconds.
    pub time_limit_seconds: Option<f64>,
    /// sign exact: memory budget for open branch-and-bound nodes, in MiB.
    pub max_memory_mib: Option<u64>,
    /// sign smooth, em: seed of the random starts.
    pub seed: Option<u64>,
    /// sign smooth: random starts besides bt and the mean signed row (default 8); em: random
    /// starts besides the one from bt (default 4).
    pub random_starts: Option<u32>,
    /// em: number of latent classes (0 = choose 1..=4 by BIC; default 2).
    pub classes: Option<usize>,
    /// sign anneal: `thorough` (the default) or `fast` ([`crate::AnnealConfig::fast`]).
    pub profile: Option<String>,
    /// bt, em, peruser: ridge penalty.
    pub ridge: Option<f64>,
    /// hinge: C.
    pub c: Option<f64>,
    /// external: the worker's argv.
    pub command: Option<Vec<String>>,
    /// external: seconds a worker may take for one fit.
    pub timeout_seconds: Option<f64>,
}

impl NamedOptions {
    /// The keys that are set, in the order of the struct.
    pub fn given(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let mut add = |set: bool, k: &'static str| {
            if set {
                v.push(k)
            }
        };
        add(self.max_nodes.is_some(), "max_nodes");
        add(self.time_limit_seconds.is_some(), "time_limit_seconds");
        add(self.max_memory_mib.is_some(), "max_memory_mib");
        add(self.seed.is_some(), "seed");
        add(self.random_starts.is_some(), "random_starts");
        add(self.classes.is_some(), "classes");
        add(self.profile.is_some(), "profile");
        add(self.ridge.is_some(), "ridge");
        add(self.c.is_some(), "c");
        add(self.command.is_some(), "command");
        add(self.timeout_seconds.is_some(), "timeout_seconds");
        v
    }
}

/// Why the registry refused to build an estimator; callers say where the bad value came from.
#[derive(Debug, Clone, PartialEq)]
pub enum NameError {
    /// No estimator of that name (the message lists the known ones).
    UnknownEstimator {
        name: String,
        known: Vec<&'static str>,
    },
    /// The estimator has no solver of that name.
    UnknownSolver {
        estimator: &'static str,
        solver: String,
        known: Vec<&'static str>,
    },
    /// A setting given that the chosen solver does not take.
    NotApplicable {
        estimator: &'static str,
        solver: &'static str,
        key: &'static str,
        takes: &'static [&'static str],
    },
    /// A setting out of range (which one, and what is allowed).
    BadSetting(SettingError),
}

/// A setting out of range: its key (as in [`NamedOptions::given`]) and a message that says
/// what is allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingError {
    pub key: &'static str,
    pub message: String,
}

impl SettingError {
    pub fn new(key: &'static str, message: impl Into<String>) -> SettingError {
        SettingError {
            key,
            message: message.into(),
        }
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::UnknownEstimator { name, known } => {
                write!(f, "expected {}, got '{name}'", or_list(known))
            }
            NameError::UnknownSolver {
                estimator,
                solver,
                known,
            } => {
                if known.len() == 1 {
                    write!(
                        f,
                        "{estimator} has one solver ({}), got '{solver}'",
                        known[0]
                    )
                } else {
                    write!(f, "expected {}, got '{solver}'", or_list(known))
                }
            }
            NameError::NotApplicable {
                estimator,
                solver,
                key,
                takes,
            } => write!(
                f,
                "{key} does not apply to {estimator} ({solver}); it takes {}",
                if takes.is_empty() {
                    "no settings".to_string()
                } else {
                    takes.join(", ")
                }
            ),
            NameError::BadSetting(s) => f.write_str(&s.message),
        }
    }
}

/// `a, b or c`.
pub fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// An estimator built from the registry, with the names that identify it in results.
#[derive(Clone)]
pub struct Built {
    pub kind: EstimatorKind,
    pub solver: &'static SolverKind,
    pub estimator: SharedEstimator,
}

/// The estimators a program knows.
#[derive(Debug, Clone)]
pub struct Registry {
    kinds: Vec<EstimatorKind>,
}

/// The built-in estimators, in the order they are listed in messages and docs.
pub const BUILTIN: &[EstimatorKind] = &[
    crate::bt::KIND,
    crate::sign::KIND,
    crate::hinge::KIND,
    panel::EM_KIND,
    panel::PERUSER_KIND,
    crate::external::KIND,
];

impl Default for Registry {
    fn default() -> Self {
        Registry::builtin()
    }
}

impl Registry {
    /// The built-in estimators ([`BUILTIN`]).
    pub fn builtin() -> Registry {
        Registry {
            kinds: BUILTIN.to_vec(),
        }
    }

    /// This registry with one more estimator (replacing one of the same name).
    pub fn with(mut self, kind: EstimatorKind) -> Registry {
        self.kinds.retain(|k| k.name != kind.name);
        self.kinds.push(kind);
        self
    }

    pub fn get(&self, name: &str) -> Option<&EstimatorKind> {
        self.kinds.iter().find(|k| k.name == name)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.kinds.iter().map(|k| k.name).collect()
    }

    pub fn kinds(&self) -> &[EstimatorKind] {
        &self.kinds
    }

    /// Builds estimator `name` with `o` (its solver, or the default one), refusing unknown
    /// names and solvers, settings the solver does not take, and values out of range.
    pub fn build(&self, name: &str, o: &NamedOptions) -> Result<Built, NameError> {
        let kind = *self.get(name).ok_or_else(|| NameError::UnknownEstimator {
            name: name.to_string(),
            known: self.names(),
        })?;
        let solver = match &o.solver {
            None => kind.default_solver(),
            Some(s) => kind.solver(s).ok_or_else(|| NameError::UnknownSolver {
                estimator: kind.name,
                solver: s.clone(),
                known: kind.solvers.iter().map(|s| s.name).collect(),
            })?,
        };
        if let Some(key) = o.given().into_iter().find(|k| !solver.settings.contains(k)) {
            return Err(NameError::NotApplicable {
                estimator: kind.name,
                solver: solver.name,
                key,
                takes: solver.settings,
            });
        }
        let estimator = (kind.build)(solver.name, o).map_err(NameError::BadSetting)?;
        Ok(Built {
            kind,
            solver,
            estimator,
        })
    }
}

// ---- checks shared by the built-in kinds' `build` functions ----

pub(crate) fn ridge_at_least(
    o: &NamedOptions,
    default: f64,
    strict: bool,
) -> Result<f64, SettingError> {
    let r = o.ridge.unwrap_or(default);
    let ok = r.is_finite() && if strict { r > 0.0 } else { r >= 0.0 } && r <= 1e12;
    if ok {
        Ok(r)
    } else {
        Err(SettingError::new(
            "ridge",
            format!(
                "ridge must be a finite number {} 0 and at most 1e12, got {r}",
                if strict { ">" } else { ">=" }
            ),
        ))
    }
}

pub(crate) fn random_starts(o: &NamedOptions, default: u32) -> Result<u32, SettingError> {
    let r = o.random_starts.unwrap_or(default);
    if r <= 1000 {
        Ok(r)
    } else {
        Err(SettingError::new(
            "random_starts",
            format!("random_starts must be at most 1000, got {r}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::BUILTIN;

    /// Figures tell lines apart by colour: no two solvers of the built-in estimators share
    /// one (sign sgd once had em's, and bt sgd peruser's).
    #[test]
    fn every_builtin_solver_has_its_own_colour() {
        let mut seen: Vec<([u8; 3], String)> = Vec::new();
        for k in BUILTIN {
            for s in k.solvers {
                let name = format!("{} {}", k.name, s.name);
                if let Some((_, other)) = seen.iter().find(|(c, _)| *c == s.colour) {
                    panic!("{name} and {other} share the colour {:?}", s.colour);
                }
                seen.push((s.colour, name));
            }
        }
    }
}
