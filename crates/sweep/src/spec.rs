//! Experiment files, stage 1: what the user wrote, parsed and validated without touching
//! any file or fitting anything. Each crate owns the schema of its section — `[dgp]` is
//! [`signest_sim::spec::DgpSection`], `[[estimator]]` is
//! [`signest_estimator::EstimatorSection`], `[verify]` belongs to signest-theory (this stage
//! only carries it) — and this module owns the rest: name, seed, replications, the grid, the
//! test set. Stage 2, reading persona files and building each cell's DGP, is
//! [`crate::plan`].
//!
//! Nothing impossible passes this stage: duplicate grid values, numbers outside the ranges
//! below, panel estimators in a pooled design and settings that do not apply to an estimator
//! are errors naming FILE:LINE:KEY, and the number of work units is checked before anything
//! is allocated for them. The schema is documented in `docs/experiments.md`.

use serde::Deserialize;
use signest_core::spec::{Source, SpecError};
use signest_estimator::{EstimatorEntry, EstimatorSection, Registry};
use signest_sim::spec::{CellParams, DgpSection, MAX_HETEROGENEITY, PersonaSource};
use std::ops::Range;
use toml::Spanned;

/// Largest n of a cell (rows of one data set).
pub const MAX_N: i64 = 1_000_000_000;
/// Largest dimension d.
pub const MAX_D: i64 = 4096;
/// Largest number of replications.
pub const MAX_REPLICATIONS: i64 = 1_000_000;
/// Largest number of grid cells.
pub const MAX_CELLS: u64 = 100_000;
/// Largest number of work units (cells × replications): a run keeps one index per unit.
pub const MAX_UNITS: u64 = 10_000_000;
/// Largest disagreement test set.
pub const MAX_TEST_SIZE: i64 = 10_000_000;
/// Largest number of points of a log-spaced n range.
pub const MAX_POINTS: i64 = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExperiment {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    seed: u64,
    replications: Spanned<i64>,
    #[serde(default)]
    max_failures: Option<Spanned<i64>>,
    dgp: Spanned<DgpSection>,
    grid: Spanned<RawGrid>,
    estimator: Spanned<Vec<Spanned<EstimatorSection>>>,
    #[serde(default)]
    test: Option<RawTest>,
    /// Owned by signest-theory (`signest_theory::spec`): carried, not read, here.
    #[serde(default)]
    #[allow(dead_code)]
    verify: Option<toml::Value>,
}

/// `[grid.dgp]` as written: key → its values, each with its place in the file.
type DgpAxes = std::collections::BTreeMap<String, Spanned<Vec<Spanned<f64>>>>;

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawGrid {
    n: Spanned<toml::Value>,
    #[serde(default)]
    d: Option<Spanned<Vec<Spanned<i64>>>>,
    #[serde(default)]
    heterogeneity: Option<Spanned<Vec<Spanned<f64>>>>,
    #[serde(default)]
    type_weight: Option<Spanned<Vec<Spanned<f64>>>>,
    /// `[grid.dgp]`: axes over `[dgp]` keys (`coupling = [0.2, 0.5]`), in key order.
    #[serde(default)]
    dgp: Option<Spanned<DgpAxes>>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawTest {
    size: Spanned<i64>,
}

/// A point of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Position in the grid (row-major over n, d, heterogeneity, type_weight, then the
    /// `[grid.dgp]` axes in key order).
    pub index: usize,
    /// Stable text key, e.g. `n=1000/d=2/heterogeneity=1`; it keys the RNG streams.
    pub key: String,
    pub n: usize,
    pub d: usize,
    pub heterogeneity: f64,
    pub type_weight: Option<f64>,
    /// Values of the `[grid.dgp]` axes (key, value), in key order; empty without them.
    pub dgp: Vec<(String, f64)>,
}

impl Cell {
    pub fn params(&self) -> CellParams {
        CellParams {
            d: self.d,
            heterogeneity: self.heterogeneity,
            type_weight: self.type_weight,
            dgp: self.dgp.clone(),
        }
    }

    /// The key of its DGP group (the cells that differ only in n): the cell key without
    /// its `n=` part, e.g. `d=2/heterogeneity=1`.
    pub fn group(&self) -> &str {
        group_of(&self.key)
    }

    /// The value of a `[grid.dgp]` axis in this cell.
    pub fn dgp_value(&self, key: &str) -> Option<f64> {
        self.dgp.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
}

/// The DGP group of a cell key (see [`Cell::group`]): everything after `n=.../`.
pub fn group_of(cell_key: &str) -> &str {
    cell_key.split_once('/').map_or(cell_key, |(_, g)| g)
}

/// A validated experiment file: what the user asked for, before any file is read.
#[derive(Debug, Clone)]
pub struct ExperimentSpec {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub replications: u64,
    pub max_failures: u64,
    pub cells: Vec<Cell>,
    pub estimators: Vec<EstimatorEntry>,
    /// Size of the fixed Monte Carlo test set for disagreement (non-isotropic features).
    pub test_size: usize,
    /// Panel design: each respondent answers this many comparisons (n / m respondents with
    /// fixed coefficients and recorded ids); `None` is the pooled design (a fresh user per
    /// comparison, as RLHF collects data).
    pub per_respondent: Option<usize>,
    /// Whether the grid varies type_weight (then it is a column of the results).
    pub has_type_weight: bool,
    /// The `[dgp]` section and where its personas come from.
    pub dgp: DgpSection,
    pub persona_source: PersonaSource,
    /// The file's text, and its FNV-1a-64 hash (hex), recorded in manifests.
    pub text: String,
    pub hash: String,
    /// The file's name as given (errors, relative persona paths).
    pub file: String,
    /// Where `grid.n` is written (errors about the run's size point there).
    pub n_span: Range<usize>,
}

fn duplicates<T: PartialEq + std::fmt::Display>(
    src: &Source,
    values: &[(T, Range<usize>)],
    key: &str,
) -> Result<(), SpecError> {
    for (i, (v, span)) in values.iter().enumerate() {
        if values[..i].iter().any(|(w, _)| w == v) {
            return Err(src.at(
                span.clone(),
                key,
                format!("{v} appears twice: every grid value must be distinct (duplicates would pool replications of one cell and understate its MCSE)"),
            ));
        }
    }
    Ok(())
}

fn parse_n(src: &Source, n: &Spanned<toml::Value>) -> Result<Vec<usize>, SpecError> {
    let span = n.span();
    let shape = "expected a list of integers such as [1000, 10000] or a range such as { from = 100, to = 1000000, points = 5 }";
    let check = |x: i64| -> Result<usize, SpecError> {
        if (2..=MAX_N).contains(&x) {
            Ok(x as usize)
        } else {
            Err(src.at(
                span.clone(),
                "grid.n",
                format!("every n must be at least 2 and at most {MAX_N}, got {x}"),
            ))
        }
    };
    match n.get_ref() {
        toml::Value::Array(items) => {
            if items.is_empty() {
                return Err(src.at(span, "grid.n", "empty list"));
            }
            let mut v = Vec::new();
            for it in items {
                match it {
                    toml::Value::Integer(x) => v.push((check(*x)?, span.clone())),
                    other => {
                        return Err(src.at(
                            span,
                            "grid.n",
                            format!(
                                "{shape}; got the element {other} (a {}), not an integer",
                                other.type_str()
                            ),
                        ));
                    }
                }
            }
            duplicates(src, &v, "grid.n")?;
            Ok(v.into_iter().map(|x| x.0).collect())
        }
        toml::Value::Table(t) => {
            let num = |k: &str| -> Result<f64, SpecError> {
                match t.get(k) {
                    Some(toml::Value::Integer(x)) => Ok(*x as f64),
                    Some(toml::Value::Float(x)) => Ok(*x),
                    Some(other) => Err(src.at(
                        span.clone(),
                        &format!("grid.n.{k}"),
                        format!("expected a number, got {other}"),
                    )),
                    None => Err(src.at(
                        span.clone(),
                        &format!("grid.n.{k}"),
                        format!("missing: {shape}"),
                    )),
                }
            };
            if let Some(k) = t
                .keys()
                .find(|k| !["from", "to", "points"].contains(&k.as_str()))
            {
                return Err(src.at(
                    span,
                    &format!("grid.n.{k}"),
                    format!("unknown key: {shape}"),
                ));
            }
            let (from, to) = (num("from")?, num("to")?);
            let points = match t.get("points") {
                Some(toml::Value::Integer(p)) => *p,
                _ => {
                    return Err(src.at(
                        span,
                        "grid.n.points",
                        "expected an integer number of points",
                    ));
                }
            };
            if !(from >= 2.0
                && to >= from
                && to <= MAX_N as f64
                && (1..=MAX_POINTS).contains(&points))
            {
                return Err(src.at(
                    span,
                    "grid.n",
                    format!("log-spaced range needs 2 <= from <= to <= {MAX_N} and 1 <= points <= {MAX_POINTS}, got from = {from}, to = {to}, points = {points}"),
                ));
            }
            let k = points as usize;
            let v: Vec<(usize, Range<usize>)> = (0..k)
                .map(|i| {
                    let t = if k == 1 {
                        0.0
                    } else {
                        i as f64 / (k - 1) as f64
                    };
                    (
                        (from.ln() + t * (to.ln() - from.ln())).exp().round() as usize,
                        span.clone(),
                    )
                })
                .collect();
            duplicates(src, &v, "grid.n").map_err(|mut e| {
                e.message += "; the range has more points than distinct integers: use fewer points";
                e
            })?;
            Ok(v.into_iter().map(|x| x.0).collect())
        }
        other => Err(src.at(span, "grid.n", format!("{shape}, got {other}"))),
    }
}

fn spanned_list<T: Copy>(v: &Spanned<Vec<Spanned<T>>>) -> Vec<(T, Range<usize>)> {
    v.get_ref()
        .iter()
        .map(|x| (*x.get_ref(), x.span()))
        .collect()
}

impl ExperimentSpec {
    /// Parses and validates experiment text with the built-in estimators; `file` names it in
    /// errors and anchors relative persona paths.
    pub fn parse(text: &str, file: &str) -> Result<ExperimentSpec, SpecError> {
        ExperimentSpec::parse_with(text, file, &Registry::builtin())
    }

    /// [`ExperimentSpec::parse`] with the estimators of `registry`.
    pub fn parse_with(
        text: &str,
        file: &str,
        registry: &Registry,
    ) -> Result<ExperimentSpec, SpecError> {
        let src = Source::new(file, text);
        let at = |span: Range<usize>, key: &str, message: String| src.at(span, key, message);
        let raw: RawExperiment = toml::from_str(text).map_err(|e| {
            let msg = e.message().replace('\n', " ");
            let key = msg.split('`').nth(1).unwrap_or("toml").to_string();
            SpecError {
                file: file.to_string(),
                line: e.span().map(|s| signest_core::spec::line_of(text, s.start)),
                key,
                message: msg,
            }
        })?;
        let name = raw.name.get_ref().clone();
        if name.is_empty()
            || name.len() > 100
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(at(
                raw.name.span(),
                "name",
                format!("expected 1 to 100 letters, digits, '_' or '-', got '{name}'"),
            ));
        }
        let reps = *raw.replications.get_ref();
        if !(1..=MAX_REPLICATIONS).contains(&reps) {
            return Err(at(
                raw.replications.span(),
                "replications",
                if reps < 1 {
                    format!("must be at least 1, got {reps}")
                } else {
                    format!("must be at most {MAX_REPLICATIONS}, got {reps}")
                },
            ));
        }
        let max_failures = match &raw.max_failures {
            Some(m) if *m.get_ref() < 0 => {
                return Err(at(m.span(), "max_failures", "must be >= 0".into()));
            }
            Some(m) => *m.get_ref() as u64,
            None => 0,
        };
        let test_size = match &raw.test {
            Some(t) if !(1..=MAX_TEST_SIZE).contains(t.size.get_ref()) => {
                return Err(at(
                    t.size.span(),
                    "test.size",
                    format!("must lie in [1, {MAX_TEST_SIZE}], got {}", t.size.get_ref()),
                ));
            }
            Some(t) => *t.size.get_ref() as usize,
            None => 100_000,
        };
        let dgp = raw.dgp.get_ref().clone();
        let persona_source = dgp.check(&src)?;
        // Grid.
        let grid = raw.grid.get_ref();
        let ns = parse_n(&src, &grid.n)?;
        let ds: Vec<usize> = match &grid.d {
            Some(d) => {
                let v = spanned_list(d);
                if v.is_empty() {
                    return Err(at(d.span(), "grid.d", "empty list".into()));
                }
                if let Some((bad, span)) = v.iter().find(|(x, _)| !(1..=MAX_D).contains(x)) {
                    return Err(at(
                        span.clone(),
                        "grid.d",
                        format!("every d must be at least 1 and at most {MAX_D}, got {bad}"),
                    ));
                }
                duplicates(&src, &v, "grid.d")?;
                v.iter().map(|x| x.0 as usize).collect()
            }
            None => {
                // Personas from a file fix d only when read (stage 2); 0 stands for "theirs".
                let d = dgp.base_d(None);
                let from_files = dgp.personas_file.is_some()
                    || dgp.covariance_file.is_some()
                    || dgp.embeddings_file.is_some();
                match (d, &persona_source) {
                    (Some(d), _) => vec![d],
                    (None, PersonaSource::File { .. }) => vec![0],
                    (None, _) if from_files => vec![0],
                    (None, PersonaSource::Synthetic) => {
                        return Err(at(
                            raw.dgp.span(),
                            "dgp.beta_bar",
                            "missing: give beta_bar (or means for a mixture)".into(),
                        ));
                    }
                }
            }
        };
        if let Some(d) = ds.iter().find(|d| **d as i64 > MAX_D) {
            return Err(at(
                raw.dgp.span(),
                "grid.d",
                format!("d = {d} is more than {MAX_D}"),
            ));
        }
        let hets: Vec<f64> = match &grid.heterogeneity {
            Some(h) => {
                let v = spanned_list(h);
                if v.is_empty() {
                    return Err(at(h.span(), "grid.heterogeneity", "empty list".into()));
                }
                if let Some((bad, span)) = v
                    .iter()
                    .find(|(x, _)| !(x.is_finite() && *x >= 0.0 && *x <= MAX_HETEROGENEITY))
                {
                    return Err(at(
                        span.clone(),
                        "grid.heterogeneity",
                        if *bad < 0.0 {
                            format!("heterogeneity (a spread) must be >= 0, got {bad}")
                        } else {
                            format!(
                                "heterogeneity (a spread) must be finite and at most {MAX_HETEROGENEITY:e}, got {bad:e}"
                            )
                        },
                    ));
                }
                duplicates(&src, &v, "grid.heterogeneity")?;
                v.iter().map(|x| x.0).collect()
            }
            None => vec![dgp.heterogeneity.as_ref().map_or(1.0, |h| *h.get_ref())],
        };
        let tws: Vec<Option<f64>> = match &grid.type_weight {
            Some(t) => {
                if dgp.population() != "mixture"
                    || dgp.means.as_ref().is_none_or(|m| m.get_ref().len() != 2)
                {
                    return Err(at(
                        t.span(),
                        "grid.type_weight",
                        "applies to a mixture of exactly two types".into(),
                    ));
                }
                let v = spanned_list(t);
                if let Some((bad, span)) = v.iter().find(|(x, _)| !(*x >= 0.0 && *x <= 1.0)) {
                    return Err(at(
                        span.clone(),
                        "grid.type_weight",
                        format!("must lie in [0, 1], got {bad}"),
                    ));
                }
                duplicates(&src, &v, "grid.type_weight")?;
                v.iter().map(|x| Some(x.0)).collect()
            }
            None => vec![None],
        };
        // `[grid.dgp]` axes: each value checked as if written in [dgp] (errors point at it).
        let mut axes: Vec<(String, Vec<f64>)> = Vec::new();
        if let Some(t) = &grid.dgp {
            if t.get_ref().is_empty() {
                return Err(at(
                    t.span(),
                    "grid.dgp",
                    "empty table: name a [dgp] key and its values, e.g. coupling = [0.2, 0.5]"
                        .into(),
                ));
            }
            for (key, values) in t.get_ref() {
                let gkey = format!("grid.dgp.{key}");
                let v = spanned_list(values);
                if v.is_empty() {
                    return Err(at(values.span(), &gkey, "empty list".into()));
                }
                duplicates(&src, &v, &gkey)?;
                for (x, span) in &v {
                    let one = dgp
                        .with_value(key, *x, span.clone())
                        .map_err(|m| at(span.clone(), &gkey, m))?;
                    one.check(&src).map_err(|mut e| {
                        if e.key == format!("dgp.{key}") {
                            e.key = gkey.clone();
                        }
                        e
                    })?;
                }
                if !dgp.uses(key) {
                    return Err(at(
                        values.span(),
                        &gkey,
                        format!(
                            "does not change a DGP with population = \"{}\", features = \"{}\", noise = \"{}\"",
                            dgp.population(),
                            dgp.features.get_ref(),
                            dgp.noise.get_ref()
                        ),
                    ));
                }
                axes.push((key.clone(), v.into_iter().map(|x| x.0).collect()));
            }
        }
        let combos: Vec<Vec<(String, f64)>> = axes.iter().fold(vec![Vec::new()], |acc, (k, vs)| {
            acc.iter()
                .flat_map(|c| {
                    vs.iter().map(move |v| {
                        let mut c = c.clone();
                        c.push((k.clone(), *v));
                        c
                    })
                })
                .collect()
        });
        // Counts before anything is allocated for them.
        let axis_sizes = axes.iter().map(|(_, v)| v.len());
        let cells_count = [ns.len(), ds.len(), hets.len(), tws.len()]
            .into_iter()
            .chain(axis_sizes)
            .collect::<Vec<_>>()
            .iter()
            .try_fold(1u64, |a, b| a.checked_mul(*b as u64))
            .filter(|c| *c <= MAX_CELLS)
            .ok_or_else(|| {
                at(
                    raw.grid.span(),
                    "grid",
                    format!("more than {MAX_CELLS} cells"),
                )
            })?;
        let units = cells_count
            .checked_mul(reps as u64)
            .filter(|u| *u <= MAX_UNITS);
        if units.is_none() {
            return Err(at(
                raw.replications.span(),
                "replications",
                format!(
                    "{cells_count} cells × {reps} replications is more than {MAX_UNITS} work units: use fewer replications or cells, or split the experiment"
                ),
            ));
        }
        let mut cells = Vec::with_capacity(cells_count as usize);
        for &n in &ns {
            for &d in &ds {
                for &h in &hets {
                    for &tw in &tws {
                        for dv in &combos {
                            cells.push(Cell {
                                index: cells.len(),
                                key: cell_key(n, d, h, tw, dv),
                                n,
                                d,
                                heterogeneity: h,
                                type_weight: tw,
                                dgp: dv.clone(),
                            });
                        }
                    }
                }
            }
        }
        let per_respondent = match &dgp.per_respondent {
            None => None,
            Some(m) if !(1..=MAX_N).contains(m.get_ref()) => {
                return Err(at(
                    m.span(),
                    "dgp.per_respondent",
                    format!(
                        "must be at least 1 and at most {MAX_N}, got {}",
                        m.get_ref()
                    ),
                ));
            }
            Some(m) => {
                let m_us = *m.get_ref() as usize;
                if let Some(bad) = ns.iter().find(|n| **n % m_us != 0) {
                    return Err(at(
                        grid.n.span(),
                        "grid.n",
                        format!(
                            "panel design with per_respondent = {m_us}: every n must be a multiple of it, got {bad}"
                        ),
                    ));
                }
                Some(m_us)
            }
        };
        // Estimators.
        if raw.estimator.get_ref().is_empty() {
            return Err(at(
                raw.estimator.span(),
                "estimator",
                "at least one [[estimator]] is required".into(),
            ));
        }
        let mut estimators: Vec<EstimatorEntry> = Vec::new();
        for e in raw.estimator.get_ref() {
            let entry = e
                .get_ref()
                .resolve(&src, e.span(), registry, per_respondent.is_some())?;
            if estimators.iter().any(|x| x.label == entry.label) {
                return Err(at(
                    e.get_ref().label_span().unwrap_or(e.span()),
                    "estimator.label",
                    format!(
                        "two estimators are labelled '{}': give each a distinct label",
                        entry.label
                    ),
                ));
            }
            estimators.push(entry);
        }
        Ok(ExperimentSpec {
            name,
            description: raw.description,
            seed: raw.seed,
            replications: reps as u64,
            max_failures,
            has_type_weight: tws[0].is_some(),
            cells,
            estimators,
            test_size,
            per_respondent,
            dgp,
            persona_source,
            text: text.to_string(),
            hash: format!("{:016x}", signest_core::seed::fnv1a64(text.as_bytes())),
            file: file.to_string(),
            n_span: grid.n.span(),
        })
    }

    /// Errors point into this file.
    pub fn source(&self) -> Source<'_> {
        Source::new(&self.file, &self.text)
    }

    /// The population's name as written in the file (`two_type`, `gaussian`, ...).
    pub fn population(&self) -> &str {
        self.dgp.population()
    }

    /// The sampling design of a cell: pooled, or a panel of n / m respondents.
    pub fn design(&self, cell: &Cell) -> signest_sim::Design {
        match self.per_respondent {
            None => signest_sim::Design::Pooled { n: cell.n },
            Some(m) => signest_sim::Design::Panel {
                respondents: cell.n / m,
                per_respondent: m,
            },
        }
    }

    /// The cell with this key.
    pub fn cell(&self, key: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.key == key)
    }

    /// Total work units (cells × replications).
    pub fn units(&self) -> u64 {
        self.cells.len() as u64 * self.replications
    }

    /// The labels of the estimators, in file order.
    pub fn labels(&self) -> Vec<String> {
        self.estimators.iter().map(|e| e.label.clone()).collect()
    }

    /// The estimator with this label.
    pub fn estimator(&self, label: &str) -> Option<&EstimatorEntry> {
        self.estimators.iter().find(|e| e.label == label)
    }
}

/// The stable text key of a cell (it keys the RNG streams: never change its format).
pub fn cell_key(n: usize, d: usize, h: f64, tw: Option<f64>, dgp: &[(String, f64)]) -> String {
    let mut key = format!("n={n}/d={d}/heterogeneity={h}");
    if let Some(p) = tw {
        key += &format!("/type_weight={p}");
    }
    for (k, v) in dgp {
        key += &format!("/{k}={v}");
    }
    key
}
