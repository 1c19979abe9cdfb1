//! Experiment files: parsing and validation (before any work is done).
//!
//! The schema is documented, with a complete commented example, in `docs/experiments.md`.
//! Every error names the file, the line and the key.

use serde::Deserialize;
use signest_estimator::{AnyEstimator, NameError, NamedOptions};
use signest_sim::{Dgp, Features, Noise, Population};
use std::fmt;
use toml::Spanned;

/// An invalid experiment file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}: {}", self.file, l, self.key, self.message),
            None => write!(f, "{}: {}: {}", self.file, self.key, self.message),
        }
    }
}
impl std::error::Error for ConfigError {}

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
    dgp: Spanned<RawDgp>,
    grid: Spanned<RawGrid>,
    estimator: Spanned<Vec<Spanned<RawEstimator>>>,
    #[serde(default)]
    test: Option<RawTest>,
    #[serde(default)]
    verify: Option<Spanned<RawVerify>>,
}

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

#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
struct RawDgp {
    population: Spanned<String>,
    #[serde(default)]
    beta_bar: Option<Spanned<Vec<f64>>>,
    #[serde(default)]
    v: Option<Spanned<Vec<f64>>>,
    #[serde(default)]
    means: Option<Spanned<Vec<Vec<f64>>>>,
    #[serde(default)]
    weights: Option<Spanned<Vec<f64>>>,
    #[serde(default)]
    cov_diag: Option<Spanned<Vec<f64>>>,
    #[serde(default)]
    heterogeneity: Option<Spanned<f64>>,
    #[serde(default = "default_features")]
    features: Spanned<String>,
    #[serde(default)]
    feature_scales: Option<Spanned<Vec<f64>>>,
    #[serde(default)]
    rank: Option<usize>,
    #[serde(default)]
    embedding_noise: Option<f64>,
    #[serde(default)]
    loading_seed: Option<u64>,
    #[serde(default = "default_noise")]
    noise: Spanned<String>,
    #[serde(default)]
    noise_scale: Option<Spanned<f64>>,
    #[serde(default)]
    pad: bool,
    #[serde(default)]
    per_respondent: Option<Spanned<i64>>,
    #[serde(default)]
    personas: Option<Spanned<i64>>,
    #[serde(default)]
    archetypes: Option<Spanned<Vec<Vec<f64>>>>,
    #[serde(default)]
    spread: Option<f64>,
    #[serde(default)]
    intensity_sigma: Option<f64>,
    #[serde(default)]
    lexicographic_share: Option<f64>,
    #[serde(default)]
    lexicographic_factor: Option<f64>,
    #[serde(default)]
    persona_seed: Option<u64>,
    #[serde(default)]
    persona_source: Option<Spanned<String>>,
    #[serde(default)]
    persona_data: Option<Spanned<String>>,
    #[serde(default)]
    persona_ridge: Option<f64>,
    #[serde(default)]
    mirror: Option<bool>,
}

/// Personas fitted to a real panel: coefficients and the pool of (scaled) differences.
#[derive(Debug, Clone, PartialEq)]
pub struct RealPersonas {
    pub d: usize,
    /// Row-major persona coefficients, in scaled units.
    pub betas: std::sync::Arc<Vec<f64>>,
    /// The data's differences divided by each column's standard deviation (row-major).
    pub pool: std::sync::Arc<Vec<f64>>,
    /// Column standard deviations used for scaling.
    pub scales: Vec<f64>,
    pub feature_names: Vec<String>,
    pub respondents: usize,
    pub source: String,
}

/// [`real_personas`], memoised per (path, ridge) for the life of the process (experiment
/// files are parsed more than once by `verify`, `report` and tests).
fn real_personas_cached(path: &std::path::Path, ridge: f64) -> Result<RealPersonas, String> {
    use std::sync::{Mutex, OnceLock};
    type Cache = Mutex<Vec<((std::path::PathBuf, u64), RealPersonas)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = (path.to_path_buf(), ridge.to_bits());
    let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
    if let Some((_, r)) = cache.lock().unwrap().iter().find(|(k, _)| *k == key) {
        return Ok(r.clone());
    }
    let r = real_personas(path, ridge)?;
    cache.lock().unwrap().push((key, r.clone()));
    Ok(r)
}

/// Fits one ridge logit per respondent of a real panel (`peruser`'s fits) on the differences
/// scaled by their column standard deviations; those are the personas.
pub fn real_personas(path: &std::path::Path, ridge: f64) -> Result<RealPersonas, String> {
    let csv = signest_io::read_comparisons_csv(path).map_err(|e| e.to_string())?;
    let data = csv.data;
    let d = data.d();
    let scales = data.column_sd();
    let scaled = data.scale_columns(&scales);
    let fits = signest_estimator::panel::per_respondent_coefficients(&scaled, ridge)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let betas: Vec<f64> = fits
        .iter()
        .flatten()
        .flat_map(|b| b.iter().copied())
        .collect();
    Ok(RealPersonas {
        d,
        respondents: betas.len() / d,
        betas: std::sync::Arc::new(betas),
        pool: std::sync::Arc::new(scaled.z().to_vec()),
        scales,
        feature_names: data.feature_names().to_vec(),
        source: path.display().to_string(),
    })
}

fn default_features() -> Spanned<String> {
    Spanned::new(0..0, "isotropic".into())
}
fn default_noise() -> Spanned<String> {
    Spanned::new(0..0, "logistic".into())
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum RawN {
    List(Vec<i64>),
    Range { from: f64, to: f64, points: i64 },
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawGrid {
    n: Spanned<RawN>,
    #[serde(default)]
    d: Option<Spanned<Vec<i64>>>,
    #[serde(default)]
    heterogeneity: Option<Spanned<Vec<f64>>>,
    #[serde(default)]
    type_weight: Option<Spanned<Vec<f64>>>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawEstimator {
    name: Spanned<String>,
    #[serde(default)]
    solver: Option<Spanned<String>>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    max_nodes: Option<u64>,
    #[serde(default)]
    time_limit_seconds: Option<f64>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    ridge: Option<f64>,
    #[serde(default)]
    c: Option<f64>,
    #[serde(default)]
    random_starts: Option<u32>,
    #[serde(default)]
    classes: Option<usize>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawTest {
    size: Spanned<i64>,
}

/// One estimator of an experiment, with the label that names it in the results.
#[derive(Debug, Clone, PartialEq)]
pub struct EstimatorEntry {
    pub label: String,
    pub name: String,
    pub solver: String,
    pub estimator: AnyEstimator,
}

/// A point of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Position in the grid (row-major over n, d, heterogeneity, type_weight).
    pub index: usize,
    /// Stable text key, e.g. `n=1000/d=2/heterogeneity=1`; it keys the RNG streams.
    pub key: String,
    pub n: usize,
    pub d: usize,
    pub heterogeneity: f64,
    pub type_weight: Option<f64>,
}

/// A validated experiment.
#[derive(Debug, Clone)]
pub struct Experiment {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub replications: u64,
    pub max_failures: u64,
    pub cells: Vec<Cell>,
    pub estimators: Vec<EstimatorEntry>,
    /// Size of the fixed Monte Carlo test set for disagreement (non-isotropic features).
    pub test_size: usize,
    /// What `signest verify` checks and expects.
    pub verify: VerifySpec,
    /// Personas fitted to real data (`persona_source = "train"`), loaded once at parse time.
    pub real_personas: Option<RealPersonas>,
    /// Panel design: each respondent answers this many comparisons (n / m respondents with
    /// fixed coefficients and recorded ids); `None` is the pooled design (a fresh user per
    /// comparison, as RLHF collects data).
    pub per_respondent: Option<usize>,
    /// Whether the grid varies type_weight (then it is a column of the results).
    pub has_type_weight: bool,
    /// The file's text, and its FNV-1a-64 hash (hex), recorded in manifests.
    pub text: String,
    pub hash: String,
    dgp: RawDgp,
    file: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

impl Experiment {
    /// Reads and validates an experiment file.
    pub fn from_file(path: &std::path::Path) -> Result<Experiment, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: None,
            key: "file".into(),
            message: format!("cannot read: {e}"),
        })?;
        Experiment::parse(&text, &file)
    }

    /// Parses and validates experiment text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Experiment, ConfigError> {
        let at = |span: std::ops::Range<usize>, key: &str, message: String| ConfigError {
            file: file.to_string(),
            line: (span.end > 0).then(|| line_of(text, span.start)),
            key: key.to_string(),
            message,
        };
        let raw: RawExperiment = toml::from_str(text).map_err(|e| {
            let msg = e.message().replace('\n', " ");
            let key = msg.split('`').nth(1).unwrap_or("toml").to_string();
            ConfigError {
                file: file.to_string(),
                line: e.span().map(|s| line_of(text, s.start)),
                key,
                message: msg,
            }
        })?;
        let name = raw.name.get_ref().clone();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(at(
                raw.name.span(),
                "name",
                format!("expected letters, digits, '_' or '-', got '{name}'"),
            ));
        }
        if *raw.replications.get_ref() < 1 {
            return Err(at(
                raw.replications.span(),
                "replications",
                format!("must be at least 1, got {}", raw.replications.get_ref()),
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
            Some(t) if *t.size.get_ref() < 1 => {
                return Err(at(t.size.span(), "test.size", "must be at least 1".into()));
            }
            Some(t) => *t.size.get_ref() as usize,
            None => 100_000,
        };
        // Grid.
        let grid = raw.grid.get_ref();
        let ns: Vec<usize> = match grid.n.get_ref() {
            RawN::List(v) => {
                if v.is_empty() {
                    return Err(at(grid.n.span(), "grid.n", "empty list".into()));
                }
                if let Some(bad) = v.iter().find(|n| **n < 2) {
                    return Err(at(
                        grid.n.span(),
                        "grid.n",
                        format!("every n must be at least 2, got {bad}"),
                    ));
                }
                v.iter().map(|n| *n as usize).collect()
            }
            RawN::Range { from, to, points } => {
                if !(*from >= 2.0 && to >= from && *points >= 1 && to.is_finite()) {
                    return Err(at(
                        grid.n.span(),
                        "grid.n",
                        format!(
                            "log-spaced range needs 2 <= from <= to and points >= 1, got from = {from}, to = {to}, points = {points}"
                        ),
                    ));
                }
                let k = *points as usize;
                let mut v: Vec<usize> = (0..k)
                    .map(|i| {
                        let t = if k == 1 {
                            0.0
                        } else {
                            i as f64 / (k - 1) as f64
                        };
                        (from.ln() + t * (to.ln() - from.ln())).exp().round() as usize
                    })
                    .collect();
                v.dedup();
                v
            }
        };
        let dgp = raw.dgp.get_ref().clone();
        let mut real_personas = None;
        if dgp.population.get_ref() == "personas" {
            match dgp.persona_source.as_ref().map(|s| s.get_ref().as_str()) {
                None | Some("synthetic") => {
                    if dgp.archetypes.is_none() {
                        return Err(at(
                            dgp.population.span(),
                            "dgp.archetypes",
                            "is required for synthetic personas".into(),
                        ));
                    }
                    if dgp.features.get_ref() == "data" {
                        return Err(at(
                            dgp.features.span(),
                            "dgp.features",
                            "'data' needs persona_source = \"train\"".into(),
                        ));
                    }
                }
                Some("train") => {
                    let src = dgp.persona_source.as_ref().unwrap();
                    let path = dgp.persona_data.as_ref().ok_or_else(|| {
                        at(src.span(), "dgp.persona_data", "is required with persona_source = \"train\" (e.g. \"data/train/train.csv\")".into())
                    })?;
                    if dgp.features.get_ref() != "data" {
                        return Err(at(dgp.features.span(), "dgp.features", "must be \"data\" with persona_source = \"train\" (differences resampled from the data)".into()));
                    }
                    // Relative paths: the working directory first, then each directory
                    // above the experiment file (so `data/...` works from anywhere in the repo).
                    let given = std::path::PathBuf::from(path.get_ref());
                    let resolved = if given.is_absolute() || given.exists() {
                        given.clone()
                    } else {
                        std::path::Path::new(file)
                            .ancestors()
                            .skip(1)
                            .map(|a| a.join(&given))
                            .find(|c| c.exists())
                            .unwrap_or(given.clone())
                    };
                    let p = resolved.as_path();
                    if !p.exists() {
                        return Err(at(
                            path.span(),
                            "dgp.persona_data",
                            format!(
                                "{} does not exist: run `python3 scripts/setup_train_data.py` (or `just train-data`) first",
                                p.display()
                            ),
                        ));
                    }
                    real_personas = Some(
                        real_personas_cached(p, dgp.persona_ridge.unwrap_or(1.0))
                            .map_err(|e| at(path.span(), "dgp.persona_data", e))?,
                    );
                }
                Some(other) => {
                    let src = dgp.persona_source.as_ref().unwrap();
                    return Err(at(
                        src.span(),
                        "dgp.persona_source",
                        format!("expected synthetic or train, got '{other}'"),
                    ));
                }
            }
        }
        let base_d = real_personas
            .as_ref()
            .map(|r: &RealPersonas| r.d)
            .or_else(|| {
                dgp.archetypes
                    .as_ref()
                    .and_then(|a| a.get_ref().first().map(|r| r.len()))
            })
            .or_else(|| {
                dgp.beta_bar
                    .as_ref()
                    .map(|b| b.get_ref().len())
                    .or_else(|| {
                        dgp.means
                            .as_ref()
                            .and_then(|m| m.get_ref().first().map(|r| r.len()))
                    })
            })
            .ok_or_else(|| {
                at(
                    raw.dgp.span(),
                    "dgp.beta_bar",
                    "missing: give beta_bar (or means for a mixture)".into(),
                )
            })?;
        let ds: Vec<usize> = match &grid.d {
            Some(d) => {
                if let Some(bad) = d.get_ref().iter().find(|x| **x < 1) {
                    return Err(at(
                        d.span(),
                        "grid.d",
                        format!("every d must be at least 1, got {bad}"),
                    ));
                }
                d.get_ref().iter().map(|x| *x as usize).collect()
            }
            None => vec![base_d],
        };
        let hets: Vec<f64> = match &grid.heterogeneity {
            Some(h) => {
                if let Some(bad) = h.get_ref().iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
                    return Err(at(
                        h.span(),
                        "grid.heterogeneity",
                        format!("heterogeneity (a spread) must be >= 0, got {bad}"),
                    ));
                }
                h.get_ref().clone()
            }
            None => vec![dgp.heterogeneity.as_ref().map_or(1.0, |h| *h.get_ref())],
        };
        let tws: Vec<Option<f64>> = match &grid.type_weight {
            Some(t) => {
                if dgp.population.get_ref() != "mixture"
                    || dgp.means.as_ref().is_none_or(|m| m.get_ref().len() != 2)
                {
                    return Err(at(
                        t.span(),
                        "grid.type_weight",
                        "applies to a mixture of exactly two types".into(),
                    ));
                }
                if let Some(bad) = t.get_ref().iter().find(|x| !(**x >= 0.0 && **x <= 1.0)) {
                    return Err(at(
                        t.span(),
                        "grid.type_weight",
                        format!("must lie in [0, 1], got {bad}"),
                    ));
                }
                t.get_ref().iter().map(|x| Some(*x)).collect()
            }
            None => vec![None],
        };
        let mut cells = Vec::new();
        for &n in &ns {
            for &d in &ds {
                for &h in &hets {
                    for &tw in &tws {
                        let mut key = format!("n={n}/d={d}/heterogeneity={h}");
                        if let Some(p) = tw {
                            key += &format!("/type_weight={p}");
                        }
                        cells.push(Cell {
                            index: cells.len(),
                            key,
                            n,
                            d,
                            heterogeneity: h,
                            type_weight: tw,
                        });
                    }
                }
            }
        }
        // Estimators.
        let mut estimators: Vec<EstimatorEntry> = Vec::new();
        if raw.estimator.get_ref().is_empty() {
            return Err(at(
                raw.estimator.span(),
                "estimator",
                "at least one [[estimator]] is required".into(),
            ));
        }
        for e in raw.estimator.get_ref() {
            let r = e.get_ref();
            let name = r.name.get_ref().as_str();
            let solver_name = r.solver.as_ref().map(|s| s.get_ref().as_str());
            if name != "sign" && solver_name.is_some() {
                return Err(at(
                    r.solver.as_ref().unwrap().span(),
                    "estimator.solver",
                    format!("applies to sign only, not {name}"),
                ));
            }
            let opts = NamedOptions {
                solver: solver_name.map(str::to_string),
                max_nodes: r.max_nodes,
                time_limit_seconds: r.time_limit_seconds,
                seed: r.seed,
                ridge: r.ridge,
                c: r.c,
                random_starts: r.random_starts,
                classes: r.classes,
            };
            let (est, solver) = AnyEstimator::from_name(name, &opts).map_err(|err| match &err {
                NameError::UnknownEstimator(_) => {
                    at(r.name.span(), "estimator.name", err.to_string())
                }
                NameError::UnknownSolver(_) | NameError::SolverNotApplicable(_) => at(
                    r.solver.as_ref().map_or(e.span(), |s| s.span()),
                    "estimator.solver",
                    err.to_string(),
                ),
                NameError::BadSetting(_) => at(e.span(), "estimator", err.to_string()),
            })?;
            let solver = solver.to_string();
            let label = r.label.clone().unwrap_or_else(|| {
                if name == "sign" {
                    format!("sign_{solver}")
                } else {
                    name.to_string()
                }
            });
            if estimators.iter().any(|x| x.label == label) {
                return Err(at(
                    e.span(),
                    "estimator.label",
                    format!("two estimators are labelled '{label}': give each a distinct label"),
                ));
            }
            estimators.push(EstimatorEntry {
                label,
                name: name.to_string(),
                solver,
                estimator: est,
            });
        }
        let per_respondent = match &raw.dgp.get_ref().per_respondent {
            None => None,
            Some(m) if *m.get_ref() < 1 => {
                return Err(at(
                    m.span(),
                    "dgp.per_respondent",
                    format!("must be at least 1, got {}", m.get_ref()),
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
        let mut verify = VerifySpec::default();
        if let Some(v) = &raw.verify {
            let r = v.get_ref();
            for c in &r.expect {
                if !["C1", "C2", "C3", "C4", "C5", "C6"].contains(&c.get_ref().as_str()) {
                    return Err(at(
                        c.span(),
                        "verify.expect",
                        format!("expected claim ids C1 to C6, got '{}'", c.get_ref()),
                    ));
                }
                verify.expect.push(c.get_ref().clone());
            }
            if let Some(m) = &r.rate_min_n {
                if *m.get_ref() < 2 {
                    return Err(at(
                        m.span(),
                        "verify.rate_min_n",
                        "must be at least 2".into(),
                    ));
                }
                verify.rate_min_n = Some(*m.get_ref() as usize);
            }
            if let Some(b) = &r.bootstrap {
                if *b.get_ref() < 100 {
                    return Err(at(
                        b.span(),
                        "verify.bootstrap",
                        "must be at least 100".into(),
                    ));
                }
                verify.bootstrap = *b.get_ref() as usize;
            }
            if let Some(t) = &r.target_sample {
                if *t.get_ref() < 10_000 {
                    return Err(at(
                        t.span(),
                        "verify.target_sample",
                        "must be at least 10000".into(),
                    ));
                }
                verify.target_sample = *t.get_ref() as u64;
            }
        }
        let exp = Experiment {
            name,
            description: raw.description,
            seed: raw.seed,
            replications: *raw.replications.get_ref() as u64,
            max_failures,
            has_type_weight: tws[0].is_some(),
            cells,
            estimators,
            test_size,
            verify,
            per_respondent,
            real_personas,
            text: text.to_string(),
            hash: format!("{:016x}", signest_core::seed::fnv1a64(text.as_bytes())),
            dgp,
            file: file.to_string(),
        };
        // Build every cell's DGP now, so that impossible values fail before any work.
        for c in &exp.cells {
            if exp.dgp_for(c)?.u_star().is_none() {
                let span = exp.dgp.beta_bar.as_ref().map_or(0..0, |b| b.span());
                return Err(at(
                    span,
                    "dgp.beta_bar",
                    format!(
                        "cell {}: beta_bar = 0, there is no direction to estimate",
                        c.key
                    ),
                ));
            }
        }
        Ok(exp)
    }

    /// The DGP of a cell.
    pub fn dgp_for(&self, cell: &Cell) -> Result<Dgp, ConfigError> {
        let g = &self.dgp;
        let text = &self.text;
        let err = |span: std::ops::Range<usize>, key: &str, message: String| ConfigError {
            file: self.file.clone(),
            line: (span.end > 0).then(|| line_of(text, span.start)),
            key: key.to_string(),
            message,
        };
        let d = cell.d;
        let fit = |v: &Spanned<Vec<f64>>, key: &str| -> Result<Vec<f64>, ConfigError> {
            let x = v.get_ref();
            if x.len() == d {
                Ok(x.clone())
            } else if x.len() < d && g.pad {
                let mut y = x.clone();
                y.resize(d, 0.0);
                Ok(y)
            } else {
                Err(err(
                    v.span(),
                    key,
                    format!(
                        "has length {} but d = {d}{}",
                        x.len(),
                        if x.len() < d {
                            " (set pad = true to pad with zeros)"
                        } else {
                            ""
                        }
                    ),
                ))
            }
        };
        let need = |v: &Option<Spanned<Vec<f64>>>, key: &str| -> Result<Vec<f64>, ConfigError> {
            match v {
                Some(v) => fit(v, key),
                None => Err(err(
                    g.population.span(),
                    key,
                    format!("is required for population '{}'", g.population.get_ref()),
                )),
            }
        };
        let h = cell.heterogeneity;
        let pop = match g.population.get_ref().as_str() {
            "two_type" => Population::TwoType {
                beta_bar: need(&g.beta_bar, "dgp.beta_bar")?,
                v: need(&g.v, "dgp.v")?,
                delta: h,
            },
            "skewed" => Population::Skewed {
                beta_bar: need(&g.beta_bar, "dgp.beta_bar")?,
                v: need(&g.v, "dgp.v")?,
                tau: h,
            },
            "scale" => Population::Scale {
                b: need(&g.beta_bar, "dgp.beta_bar")?,
                sigma: h,
            },
            "gaussian" => {
                let bb = need(&g.beta_bar, "dgp.beta_bar")?;
                let diag = match &g.cov_diag {
                    Some(c) => fit(c, "dgp.cov_diag")?,
                    None => vec![1.0; d],
                };
                if let Some(bad) = diag.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
                    return Err(err(
                        g.cov_diag.as_ref().unwrap().span(),
                        "dgp.cov_diag",
                        format!("variances must be >= 0, got {bad}"),
                    ));
                }
                let mut chol = vec![0.0; d * d];
                for j in 0..d {
                    chol[j * d + j] = diag[j].sqrt();
                }
                Population::Gaussian {
                    beta_bar: bb,
                    tau: h,
                    chol,
                }
            }
            "mixture" => {
                let m = g.means.as_ref().ok_or_else(|| {
                    err(
                        g.population.span(),
                        "dgp.means",
                        "is required for a mixture".into(),
                    )
                })?;
                let mut means = Vec::new();
                for row in m.get_ref() {
                    means.push(fit(&Spanned::new(m.span(), row.clone()), "dgp.means")?);
                }
                let mut weights = match (&g.weights, cell.type_weight) {
                    (_, Some(p)) => vec![p, 1.0 - p],
                    (Some(w), None) => w.get_ref().clone(),
                    (None, None) => {
                        return Err(err(
                            m.span(),
                            "dgp.weights",
                            "is required for a mixture".into(),
                        ));
                    }
                };
                if weights.len() != means.len() {
                    let span = g.weights.as_ref().map_or(m.span(), |w| w.span());
                    return Err(err(
                        span,
                        "dgp.weights",
                        format!("{} weights for {} means", weights.len(), means.len()),
                    ));
                }
                let s: f64 = weights.iter().sum();
                if (s - 1.0).abs() > 1e-9 || weights.iter().any(|w| w.is_nan() || *w < 0.0) {
                    let span = g.weights.as_ref().map_or(m.span(), |w| w.span());
                    return Err(err(
                        span,
                        "dgp.weights",
                        format!("weights must be >= 0 and sum to 1, they sum to {s}"),
                    ));
                }
                weights.iter_mut().for_each(|w| *w = w.max(0.0));
                // Heterogeneity scales the spread of the types around their weighted mean.
                let mut bar = vec![0.0; d];
                for (mu, w) in means.iter().zip(&weights) {
                    signest_core::linalg::axpy(*w, mu, &mut bar);
                }
                let means = means
                    .iter()
                    .map(|mu| mu.iter().zip(&bar).map(|(m, b)| b + h * (m - b)).collect())
                    .collect();
                Population::Mixture { means, weights }
            }
            "personas" => {
                let base = match &self.real_personas {
                    Some(r) => Population::Personas {
                        d: r.d,
                        betas: r.betas.clone(),
                    },
                    None => {
                        let a = g.archetypes.as_ref().expect("checked at parse time");
                        let mut archetypes = Vec::new();
                        for row in a.get_ref() {
                            archetypes
                                .push(fit(&Spanned::new(a.span(), row.clone()), "dgp.archetypes")?);
                        }
                        let count = g.personas.as_ref().map_or(200, |c| *c.get_ref());
                        if count < 1 {
                            return Err(err(
                                g.personas.as_ref().unwrap().span(),
                                "dgp.personas",
                                "must be at least 1".into(),
                            ));
                        }
                        signest_sim::PersonaSpec {
                            count: count as usize,
                            archetypes,
                            spread: g.spread.unwrap_or(0.5),
                            intensity_sigma: g.intensity_sigma.unwrap_or(0.5),
                            lexicographic_share: g.lexicographic_share.unwrap_or(0.1),
                            lexicographic_factor: g.lexicographic_factor.unwrap_or(10.0),
                        }
                        .generate(g.persona_seed.unwrap_or(self.seed))
                        .map_err(|e| err(a.span(), "dgp.archetypes", e.0))?
                    }
                };
                // Heterogeneity scales every persona's deviation from the mean (0: homogeneous).
                let Population::Personas { d: pd, betas } = base else {
                    unreachable!()
                };
                if pd != d {
                    return Err(err(
                        g.population.span(),
                        "grid.d",
                        format!("personas have d = {pd}; a grid over d does not apply"),
                    ));
                }
                let r = betas.len() / pd;
                let mut bar = vec![0.0; pd];
                for row in betas.chunks_exact(pd) {
                    signest_core::linalg::axpy(1.0 / r as f64, row, &mut bar);
                }
                let mut scaled: Vec<f64> = betas
                    .chunks_exact(pd)
                    .flat_map(|row| {
                        row.iter()
                            .zip(&bar)
                            .map(|(b, m)| m + h * (b - m))
                            .collect::<Vec<_>>()
                    })
                    .collect();
                // `mirror = true`: add each persona's reflection through the mean,
                // 2·beta_bar − beta_r. The panel (2R personas) keeps its mean and becomes
                // symmetric about it, so SPEC §4's identification condition holds.
                if g.mirror.unwrap_or(false) {
                    let reflected: Vec<f64> = scaled
                        .chunks_exact(pd)
                        .flat_map(|row| {
                            row.iter()
                                .zip(&bar)
                                .map(|(b, m)| 2.0 * m - b)
                                .collect::<Vec<_>>()
                        })
                        .collect();
                    scaled.extend(reflected);
                }
                Population::Personas {
                    d: pd,
                    betas: std::sync::Arc::new(scaled),
                }
            }
            other => {
                return Err(err(
                    g.population.span(),
                    "dgp.population",
                    format!(
                        "expected two_type, gaussian, skewed, scale, mixture or personas, got '{other}'"
                    ),
                ));
            }
        };
        let features = match g.features.get_ref().as_str() {
            "data" => match &self.real_personas {
                Some(r) => Features::Resampled {
                    d: r.d,
                    rows: r.pool.clone(),
                },
                None => {
                    return Err(err(
                        g.features.span(),
                        "dgp.features",
                        "'data' needs persona_source = \"train\"".into(),
                    ));
                }
            },
            "isotropic" => Features::Isotropic { d },
            "laplace" => Features::Laplace { d, scale: 1.0 },
            "uniform" => Features::Uniform {
                d,
                half_width: 3f64.sqrt(),
            },
            "anisotropic" => Features::Anisotropic {
                scales: match &g.feature_scales {
                    Some(s) => fit(s, "dgp.feature_scales")?,
                    None => {
                        return Err(err(
                            g.features.span(),
                            "dgp.feature_scales",
                            "is required for anisotropic features".into(),
                        ));
                    }
                },
            },
            "embedding" => Features::embedding_like(
                d,
                g.rank.unwrap_or(2).max(1),
                g.embedding_noise.unwrap_or(0.3),
                g.loading_seed.unwrap_or(self.seed),
            ),
            other => {
                return Err(err(
                    g.features.span(),
                    "dgp.features",
                    format!(
                        "expected isotropic, laplace, uniform, anisotropic or embedding, got '{other}'"
                    ),
                ));
            }
        };
        let scale = g.noise_scale.as_ref().map_or(1.0, |s| *s.get_ref());
        let noise = match g.noise.get_ref().as_str() {
            "logistic" => Noise::Logistic { scale },
            "gaussian" => Noise::Gaussian { scale },
            "none" => Noise::None,
            other => {
                return Err(err(
                    g.noise.span(),
                    "dgp.noise",
                    format!("expected logistic, gaussian or none, got '{other}'"),
                ));
            }
        };
        let span = g.population.span();
        Dgp::new(pop, features, noise).map_err(|e| err(span, "dgp", e.0))
    }

    /// The population's name as written in the file (`two_type`, `gaussian`, ...).
    pub fn population(&self) -> &str {
        self.dgp.population.get_ref()
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
}
