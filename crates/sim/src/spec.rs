//! The `[dgp]` section of an experiment file: its schema and validation, owned here because
//! populations, features and noise are this crate's (see docs/experiments.md). Pure: reading
//! a persona file is the caller's job; it hands the result in as a [`ResolvedPanel`].

use crate::{Dgp, Features, Noise, Population};
use serde::Deserialize;
use signest_core::linalg::axpy;
use signest_core::spec::{Source, SpecError};
use std::sync::Arc;
use toml::Spanned;

/// The `[dgp]` table as written.
#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct DgpSection {
    pub population: Spanned<String>,
    #[serde(default)]
    pub beta_bar: Option<Spanned<Vec<f64>>>,
    #[serde(default)]
    pub v: Option<Spanned<Vec<f64>>>,
    #[serde(default)]
    pub means: Option<Spanned<Vec<Vec<f64>>>>,
    #[serde(default)]
    pub weights: Option<Spanned<Vec<f64>>>,
    #[serde(default)]
    pub cov_diag: Option<Spanned<Vec<f64>>>,
    #[serde(default)]
    pub heterogeneity: Option<Spanned<f64>>,
    #[serde(default = "default_features")]
    pub features: Spanned<String>,
    #[serde(default)]
    pub feature_scales: Option<Spanned<Vec<f64>>>,
    #[serde(default)]
    pub rank: Option<Spanned<usize>>,
    #[serde(default)]
    pub embedding_noise: Option<Spanned<f64>>,
    #[serde(default)]
    pub loading_seed: Option<u64>,
    #[serde(default = "default_noise")]
    pub noise: Spanned<String>,
    #[serde(default)]
    pub noise_scale: Option<Spanned<f64>>,
    #[serde(default)]
    pub pad: bool,
    #[serde(default)]
    pub per_respondent: Option<Spanned<i64>>,
    #[serde(default)]
    pub personas: Option<Spanned<i64>>,
    #[serde(default)]
    pub archetypes: Option<Spanned<Vec<Vec<f64>>>>,
    #[serde(default)]
    pub spread: Option<Spanned<f64>>,
    #[serde(default)]
    pub intensity_sigma: Option<Spanned<f64>>,
    #[serde(default)]
    pub lexicographic_share: Option<Spanned<f64>>,
    #[serde(default)]
    pub lexicographic_factor: Option<Spanned<f64>>,
    #[serde(default)]
    pub persona_seed: Option<u64>,
    #[serde(default)]
    pub persona_source: Option<Spanned<String>>,
    #[serde(default)]
    pub persona_data: Option<Spanned<String>>,
    #[serde(default)]
    pub persona_ridge: Option<Spanned<f64>>,
    #[serde(default)]
    pub mirror: Option<bool>,
    /// `features = "spectral"`: eigenvalues of Σ_x decay like j^(−alpha).
    #[serde(default)]
    pub alpha: Option<Spanned<f64>>,
    #[serde(default)]
    pub rotation_seed: Option<u64>,
    /// `population = "twins"`: ‖b‖_Σ, the value axes k, and the Σ-cosine of axis 1 with b.
    #[serde(default)]
    pub signal: Option<Spanned<f64>>,
    #[serde(default)]
    pub value_axes: Option<Spanned<i64>>,
    #[serde(default)]
    pub coupling: Option<Spanned<f64>>,
    /// `population = "twins"`: the panel read from a CSV (a header of d names, one persona
    /// per row) instead of generated.
    #[serde(default)]
    pub personas_file: Option<Spanned<String>>,
    /// Σ_x of one alternative's features, read from a CSV (d rows of d numbers, no header):
    /// x ~ N(0, Σ_x), z ~ N(0, 2Σ_x). Implies `features = "covariance"`.
    #[serde(default)]
    pub covariance_file: Option<Spanned<String>>,
    /// Embeddings of the alternatives, read from `.npy` (N×d, f8 or f4) or CSV (N rows of d
    /// numbers, an optional header line): z = x_i − x_j for a uniform pair i ≠ j. Implies
    /// `features = "embeddings"`.
    #[serde(default)]
    pub embeddings_file: Option<Spanned<String>>,
}

fn default_features() -> Spanned<String> {
    Spanned::new(0..0, "isotropic".into())
}
fn default_noise() -> Spanned<String> {
    Spanned::new(0..0, "logistic".into())
}

/// The grid coordinates of a cell that a DGP depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct CellParams {
    pub d: usize,
    pub heterogeneity: f64,
    pub type_weight: Option<f64>,
    /// Values of `[dgp]` keys set by a `[grid.dgp]` axis, in key order (empty: none).
    pub dgp: Vec<(String, f64)>,
}

/// The `[dgp]` keys a `[grid.dgp]` axis can vary: numbers that need no file. `value_axes`
/// and `personas` take integers.
pub const GRID_KEYS: &[&str] = &[
    "signal",
    "coupling",
    "intensity_sigma",
    "alpha",
    "noise_scale",
    "spread",
    "embedding_noise",
    "lexicographic_share",
    "lexicographic_factor",
    "value_axes",
    "personas",
];

/// Personas read from a file (coefficients fitted to a real panel) and the pool of feature
/// differences they are shown (both row-major, d columns).
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedPanel {
    pub d: usize,
    pub betas: Arc<Vec<f64>>,
    pub pool: Arc<Vec<f64>>,
}

/// A numeric table read from a file named in `[dgp]` (row-major, `d` columns).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Column names (the header line; `x1..xd` for a file without one).
    pub names: Vec<String>,
    pub d: usize,
    pub values: Arc<Vec<f64>>,
}

impl Table {
    pub fn rows(&self) -> usize {
        self.values.len() / self.d.max(1)
    }
}

/// What a `[dgp]` section names outside itself, read by the caller (this crate does no IO).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResolvedInputs {
    /// Personas fitted to a real panel (`persona_source = "train"`).
    pub panel: Option<ResolvedPanel>,
    /// `personas_file`: one persona per row.
    pub personas: Option<Table>,
    /// `covariance_file`: Σ_x, d × d.
    pub covariance: Option<Table>,
    /// `embeddings_file`: one alternative per row.
    pub embeddings: Option<Table>,
}

impl ResolvedInputs {
    /// The dimension the files fix, if any (they agree: checked when they are read).
    pub fn d(&self) -> Option<usize> {
        self.panel
            .as_ref()
            .map(|p| p.d)
            .or(self.personas.as_ref().map(|t| t.d))
            .or(self.covariance.as_ref().map(|t| t.d))
            .or(self.embeddings.as_ref().map(|t| t.d))
    }
}

/// Keys that generate a twin panel: they cannot be combined with `personas_file`.
const TWIN_GENERATOR_KEYS: &[&str] = &[
    "signal",
    "value_axes",
    "coupling",
    "intensity_sigma",
    "mirror",
    "persona_seed",
    "beta_bar",
    "personas",
];

/// Where personas come from (`persona_source`).
#[derive(Debug, Clone, PartialEq)]
pub enum PersonaSource {
    /// Generated from archetypes (`persona_source = "synthetic"`, the default).
    Synthetic,
    /// Fitted, one ridge logit per respondent, to the panel data in `path` (as written in the
    /// file; the caller resolves it); `ridge` is the per-respondent penalty.
    File { path: Spanned<String>, ridge: f64 },
}

const POPULATIONS: &str = "two_type, gaussian, skewed, scale, mixture, personas or twins";
const FEATURES: &str =
    "isotropic, laplace, uniform, anisotropic, embedding, spectral, covariance or data";
const NOISES: &str = "logistic, gaussian or none";
/// Largest |coefficient| and largest scale accepted: beyond it sigmoids and squares overflow
/// or saturate and every fit is meaningless.
pub const MAX_MAGNITUDE: f64 = 1e6;
/// Largest number of synthetic personas.
pub const MAX_PERSONAS: i64 = 1_000_000;

impl DgpSection {
    /// This section with `key` set to `value`, as a `[grid.dgp]` axis sets it; `span` is
    /// where the value is written (errors of [`DgpSection::check`] then point there).
    /// Errors: a key outside [`GRID_KEYS`], or a fractional value of an integer key.
    pub fn with_value(
        &self,
        key: &str,
        value: f64,
        span: std::ops::Range<usize>,
    ) -> Result<DgpSection, String> {
        let mut g = self.clone();
        let x = Some(Spanned::new(span.clone(), value));
        let int = || -> Result<Option<Spanned<i64>>, String> {
            if value.fract() == 0.0 && value.abs() < 1e15 {
                Ok(Some(Spanned::new(span.clone(), value as i64)))
            } else {
                Err(format!("{key} takes integers, got {value}"))
            }
        };
        match key {
            "signal" => g.signal = x,
            "coupling" => g.coupling = x,
            "intensity_sigma" => g.intensity_sigma = x,
            "alpha" => g.alpha = x,
            "noise_scale" => g.noise_scale = x,
            "spread" => g.spread = x,
            "embedding_noise" => g.embedding_noise = x,
            "lexicographic_share" => g.lexicographic_share = x,
            "lexicographic_factor" => g.lexicographic_factor = x,
            "value_axes" => g.value_axes = int()?,
            "personas" => g.personas = int()?,
            _ => {
                return Err(format!(
                    "a grid cannot vary '{key}': expected one of {} (heterogeneity, d and type_weight are axes of [grid] itself)",
                    GRID_KEYS.join(", ")
                ));
            }
        }
        Ok(g)
    }

    /// Whether `key` (one of [`GRID_KEYS`]) changes this section's DGP: a grid over a key
    /// the population or the features ignore would repeat one cell under many names.
    pub fn uses(&self, key: &str) -> bool {
        let pop = self.population.get_ref().as_str();
        let feat = self.features_name();
        match key {
            "signal" | "coupling" | "value_axes" => pop == "twins",
            "intensity_sigma" | "personas" => pop == "twins" || pop == "personas",
            "spread" | "lexicographic_share" | "lexicographic_factor" => pop == "personas",
            "alpha" => feat == "spectral",
            "embedding_noise" => feat == "embedding",
            "noise_scale" => self.noise.get_ref() != "none",
            _ => false,
        }
    }

    /// The features' name: as written, or `covariance` when only `covariance_file` is given.
    pub fn features_name(&self) -> &str {
        let written = !self.features.span().is_empty();
        if self.covariance_file.is_some() && !written {
            "covariance"
        } else if self.embeddings_file.is_some() && !written {
            "embeddings"
        } else {
            self.features.get_ref().as_str()
        }
    }

    /// Where one of [`TWIN_GENERATOR_KEYS`] is written (`Some(None)`: written, at a key that
    /// keeps no position), or `None` when it is not.
    fn written_at(&self, key: &str) -> Option<Option<std::ops::Range<usize>>> {
        let sp = |v: Option<std::ops::Range<usize>>| v.map(Some);
        match key {
            "signal" => sp(self.signal.as_ref().map(|v| v.span())),
            "value_axes" => sp(self.value_axes.as_ref().map(|v| v.span())),
            "coupling" => sp(self.coupling.as_ref().map(|v| v.span())),
            "intensity_sigma" => sp(self.intensity_sigma.as_ref().map(|v| v.span())),
            "beta_bar" => sp(self.beta_bar.as_ref().map(|v| v.span())),
            "personas" => sp(self.personas.as_ref().map(|v| v.span())),
            "mirror" => self.mirror.map(|_| None),
            "persona_seed" => self.persona_seed.map(|_| None),
            _ => None,
        }
    }

    /// The population's name as written (`two_type`, `gaussian`, ...).
    pub fn population(&self) -> &str {
        self.population.get_ref()
    }

    /// Checks everything that needs no file and no grid: names, required keys, sane numbers.
    /// Returns where personas come from.
    pub fn check(&self, src: &Source) -> Result<PersonaSource, SpecError> {
        let pop = self.population.get_ref().as_str();
        if ![
            "two_type", "gaussian", "skewed", "scale", "mixture", "personas", "twins",
        ]
        .contains(&pop)
        {
            return Err(src.at(
                self.population.span(),
                "dgp.population",
                format!("expected {POPULATIONS}, got '{pop}'"),
            ));
        }
        let feat = self.features_name();
        if ![
            "isotropic",
            "laplace",
            "uniform",
            "anisotropic",
            "embedding",
            "spectral",
            "covariance",
            "embeddings",
            "data",
        ]
        .contains(&feat)
        {
            return Err(src.at(
                self.features.span(),
                "dgp.features",
                format!("expected {FEATURES}, got '{feat}'"),
            ));
        }
        for (f, key) in [
            (&self.personas_file, "dgp.personas_file"),
            (&self.covariance_file, "dgp.covariance_file"),
            (&self.embeddings_file, "dgp.embeddings_file"),
        ] {
            if let Some(f) = f
                && f.get_ref().trim().is_empty()
            {
                return Err(src.at(f.span(), key, "expected a file name, got an empty string"));
            }
        }
        // A features file and its features name come together.
        for (file, name, key, gives, needs) in [
            (
                &self.covariance_file,
                "covariance",
                "dgp.covariance_file",
                "Gaussian features x ~ N(0, Σ_x)",
                "a CSV of d rows of d numbers: Σ_x",
            ),
            (
                &self.embeddings_file,
                "embeddings",
                "dgp.embeddings_file",
                "features z = x_i − x_j from the file's rows",
                ".npy or CSV, one alternative per row",
            ),
        ] {
            match (file, feat) {
                (Some(c), f) if f != name => {
                    return Err(src.at(
                        c.span(),
                        key,
                        format!("gives {gives}: leave out features (and the other features file) or write features = \"{name}\", not '{f}'"),
                    ));
                }
                (None, f) if f == name => {
                    return Err(src.at(
                        self.features.span(),
                        key,
                        format!("is required with features = \"{name}\" ({needs})"),
                    ));
                }
                _ => {}
            }
        }
        if let Some(f) = &self.personas_file {
            if pop != "twins" {
                return Err(src.at(
                    f.span(),
                    "dgp.personas_file",
                    format!("applies to population = \"twins\" only, not '{pop}' (real panels: persona_source = \"train\")"),
                ));
            }
            for key in TWIN_GENERATOR_KEYS {
                if let Some(at) = self.written_at(key) {
                    return Err(src.at(
                        at.unwrap_or(f.span()),
                        &format!("dgp.{key}"),
                        "generates a twin panel: it does not apply when personas_file gives the panel (the file's rows are the personas)",
                    ));
                }
            }
        }
        let noise = self.noise.get_ref().as_str();
        if !["logistic", "gaussian", "none"].contains(&noise) {
            return Err(src.at(
                self.noise.span(),
                "dgp.noise",
                format!("expected {NOISES}, got '{noise}'"),
            ));
        }
        let finite_vec = |v: &Option<Spanned<Vec<f64>>>, key: &str| -> Result<(), SpecError> {
            if let Some(v) = v
                && let Some(bad) = v
                    .get_ref()
                    .iter()
                    .find(|x| !(x.is_finite() && x.abs() <= MAX_MAGNITUDE))
            {
                return Err(src.at(
                    v.span(),
                    key,
                    format!("entries must be finite with |x| <= {MAX_MAGNITUDE:e}, got {bad}"),
                ));
            }
            Ok(())
        };
        finite_vec(&self.beta_bar, "dgp.beta_bar")?;
        finite_vec(&self.v, "dgp.v")?;
        finite_vec(&self.feature_scales, "dgp.feature_scales")?;
        finite_vec(&self.cov_diag, "dgp.cov_diag")?;
        for (m, key) in [
            (&self.means, "dgp.means"),
            (&self.archetypes, "dgp.archetypes"),
        ] {
            if let Some(m) = m
                && let Some(bad) = m
                    .get_ref()
                    .iter()
                    .flatten()
                    .find(|x| !(x.is_finite() && x.abs() <= MAX_MAGNITUDE))
            {
                return Err(src.at(
                    m.span(),
                    key,
                    format!("entries must be finite with |x| <= {MAX_MAGNITUDE:e}, got {bad}"),
                ));
            }
        }
        let in_range = |v: &Option<Spanned<f64>>, key: &str, lo: f64, hi: f64, strict: bool| {
            if let Some(v) = v {
                let x = *v.get_ref();
                let ok = if strict { x > lo } else { x >= lo } && x <= hi;
                if !ok {
                    return Err(src.at(
                        v.span(),
                        key,
                        format!(
                            "must lie in {}{lo}, {hi}], got {x:?}",
                            if strict { "(" } else { "[" }
                        ),
                    ));
                }
            }
            Ok(())
        };
        in_range(
            &self.noise_scale,
            "dgp.noise_scale",
            0.0,
            MAX_MAGNITUDE,
            true,
        )?;
        in_range(
            &self.heterogeneity,
            "dgp.heterogeneity",
            0.0,
            MAX_HETEROGENEITY,
            false,
        )?;
        in_range(
            &self.embedding_noise,
            "dgp.embedding_noise",
            0.0,
            MAX_MAGNITUDE,
            false,
        )?;
        in_range(&self.spread, "dgp.spread", 0.0, MAX_MAGNITUDE, false)?;
        in_range(
            &self.intensity_sigma,
            "dgp.intensity_sigma",
            0.0,
            10.0,
            false,
        )?;
        in_range(
            &self.lexicographic_share,
            "dgp.lexicographic_share",
            0.0,
            1.0,
            false,
        )?;
        in_range(
            &self.lexicographic_factor,
            "dgp.lexicographic_factor",
            0.0,
            MAX_MAGNITUDE,
            true,
        )?;
        in_range(&self.persona_ridge, "dgp.persona_ridge", 0.0, 1e12, true)?;
        if let Some(p) = &self.personas
            && !(1..=MAX_PERSONAS).contains(p.get_ref())
        {
            return Err(src.at(
                p.span(),
                "dgp.personas",
                format!("must lie in [1, {MAX_PERSONAS}], got {}", p.get_ref()),
            ));
        }
        if let Some(r) = &self.rank
            && *r.get_ref() > 100_000
        {
            return Err(src.at(
                r.span(),
                "dgp.rank",
                format!("must be at most 100000, got {}", r.get_ref()),
            ));
        }
        in_range(&self.alpha, "dgp.alpha", 0.0, 10.0, false)?;
        in_range(&self.signal, "dgp.signal", 0.0, MAX_MAGNITUDE, true)?;
        if let Some(c) = &self.coupling
            && !(*c.get_ref() > -1.0 && *c.get_ref() < 1.0)
        {
            return Err(src.at(
                c.span(),
                "dgp.coupling",
                format!("must lie in (-1, 1), got {:?}", c.get_ref()),
            ));
        }
        if let Some(k) = &self.value_axes
            && !(0..=10_000).contains(k.get_ref())
        {
            return Err(src.at(
                k.span(),
                "dgp.value_axes",
                format!("must lie in [0, 10000], got {}", k.get_ref()),
            ));
        }
        if feat != "spectral" {
            let fspan = self.features.span();
            for (span, key) in [
                (self.alpha.as_ref().map(|a| a.span()), "dgp.alpha"),
                (
                    self.rotation_seed.map(|_| fspan.clone()),
                    "dgp.rotation_seed",
                ),
            ] {
                if let Some(span) = span {
                    return Err(src.at(
                        span,
                        key,
                        format!("applies to features = \"spectral\" only, not '{feat}'"),
                    ));
                }
            }
        }
        if pop != "twins" {
            for (span, key) in [
                (self.signal.as_ref().map(|v| v.span()), "dgp.signal"),
                (self.value_axes.as_ref().map(|v| v.span()), "dgp.value_axes"),
                (self.coupling.as_ref().map(|v| v.span()), "dgp.coupling"),
            ] {
                if let Some(span) = span {
                    return Err(src.at(
                        span,
                        key,
                        format!("applies to population = \"twins\" only, not '{pop}'"),
                    ));
                }
            }
        } else {
            for (set, key) in [
                (self.persona_source.is_some(), "dgp.persona_source"),
                (self.persona_data.is_some(), "dgp.persona_data"),
                (self.archetypes.is_some(), "dgp.archetypes"),
                (self.spread.is_some(), "dgp.spread"),
                (
                    self.lexicographic_share.is_some(),
                    "dgp.lexicographic_share",
                ),
                (
                    self.lexicographic_factor.is_some(),
                    "dgp.lexicographic_factor",
                ),
            ] {
                if set {
                    return Err(src.at(
                        self.population.span(),
                        key,
                        "does not apply to population = \"twins\" (see docs/experiments.md)",
                    ));
                }
            }
            if feat == "data" || feat == "laplace" || feat == "uniform" {
                return Err(src.at(
                    self.features.span(),
                    "dgp.features",
                    format!("twins need features with a known covariance (spectral, covariance, isotropic, anisotropic, embedding or embeddings), got '{feat}'"),
                ));
            }
            return Ok(PersonaSource::Synthetic);
        }
        if pop != "personas" {
            for (set, key) in [
                (self.persona_source.is_some(), "dgp.persona_source"),
                (self.persona_data.is_some(), "dgp.persona_data"),
                (self.archetypes.is_some(), "dgp.archetypes"),
                (self.mirror.is_some(), "dgp.mirror"),
            ] {
                if set {
                    return Err(src.at(
                        self.population.span(),
                        key,
                        format!("applies to population = \"personas\" only, not '{pop}'"),
                    ));
                }
            }
            if feat == "data" {
                return Err(src.at(
                    self.features.span(),
                    "dgp.features",
                    "'data' needs persona_source = \"train\"",
                ));
            }
            return Ok(PersonaSource::Synthetic);
        }
        match self.persona_source.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("synthetic") => {
                if self.archetypes.is_none() {
                    return Err(src.at(
                        self.population.span(),
                        "dgp.archetypes",
                        "is required for synthetic personas",
                    ));
                }
                if feat == "data" {
                    return Err(src.at(
                        self.features.span(),
                        "dgp.features",
                        "'data' needs persona_source = \"train\"",
                    ));
                }
                Ok(PersonaSource::Synthetic)
            }
            Some("train") => {
                let s = self.persona_source.as_ref().expect("matched");
                let path = self.persona_data.clone().ok_or_else(|| {
                    src.at(s.span(), "dgp.persona_data", "is required with persona_source = \"train\" (e.g. \"data/train/train.csv\")")
                })?;
                if feat != "data" {
                    return Err(src.at(self.features.span(), "dgp.features", "must be \"data\" with persona_source = \"train\" (differences resampled from the data)"));
                }
                Ok(PersonaSource::File {
                    path,
                    ridge: self.persona_ridge.as_ref().map_or(1.0, |r| *r.get_ref()),
                })
            }
            Some(other) => Err(src.at(
                self.persona_source.as_ref().expect("matched").span(),
                "dgp.persona_source",
                format!("expected synthetic or train, got '{other}'"),
            )),
        }
    }

    /// The dimension the section implies when the grid gives none.
    pub fn base_d(&self, inputs: Option<&ResolvedInputs>) -> Option<usize> {
        inputs
            .and_then(|r| r.d())
            .or_else(|| {
                self.archetypes
                    .as_ref()
                    .and_then(|a| a.get_ref().first().map(|r| r.len()))
            })
            .or_else(|| self.beta_bar.as_ref().map(|b| b.get_ref().len()))
            .or_else(|| {
                self.means
                    .as_ref()
                    .and_then(|m| m.get_ref().first().map(|r| r.len()))
            })
    }

    /// The DGP of one cell of the grid. `seed` is the experiment's master seed (the default
    /// seed of synthetic personas and embedding loadings); `panel` the personas read from a
    /// file, when `persona_source` names one (resolved by the caller: this crate does no IO).
    pub fn build(
        &self,
        src: &Source,
        seed: u64,
        cell: &CellParams,
        inputs: &ResolvedInputs,
    ) -> Result<Dgp, SpecError> {
        let panel = inputs.panel.as_ref();
        let err =
            |span: std::ops::Range<usize>, key: &str, message: String| src.at(span, key, message);
        let mut owned = None;
        for (key, value) in &cell.dgp {
            let base = owned.as_ref().unwrap_or(self);
            owned = Some(
                base.with_value(key, *value, 0..0)
                    .map_err(|m| err(self.population.span(), "grid.dgp", m))?,
            );
        }
        let g = owned.as_ref().unwrap_or(self);
        let d = cell.d;
        let fit = |v: &Spanned<Vec<f64>>, key: &str| -> Result<Vec<f64>, SpecError> {
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
        let need = |v: &Option<Spanned<Vec<f64>>>, key: &str| -> Result<Vec<f64>, SpecError> {
            match v {
                Some(v) => fit(v, key),
                None => Err(err(
                    g.population.span(),
                    key,
                    format!("is required for population '{}'", g.population.get_ref()),
                )),
            }
        };
        let file_d = |t: &Table, key: &str, span: std::ops::Range<usize>| {
            if t.d == d {
                Ok(())
            } else {
                Err(err(
                    span,
                    key,
                    format!(
                        "the file has d = {} but the cell has d = {d} (leave out grid.d: the file fixes it)",
                        t.d
                    ),
                ))
            }
        };
        let features = match g.features_name() {
            "covariance" => {
                let f = g
                    .covariance_file
                    .as_ref()
                    .expect("checked: covariance features name a file");
                let t = inputs.covariance.as_ref().ok_or_else(|| {
                    err(
                        f.span(),
                        "dgp.covariance_file",
                        "was not read (resolve the experiment first)".into(),
                    )
                })?;
                file_d(t, "dgp.covariance_file", f.span())?;
                // Σ_z = 2 Σ_x (z = x_a − x_b, independent alternatives).
                let cov_z: Vec<f64> = t.values.iter().map(|v| 2.0 * v).collect();
                Features::gaussian_from_covariance(d, &cov_z)
                    .map_err(|e| err(f.span(), "dgp.covariance_file", e.0))?
            }
            "embeddings" => {
                let f = g
                    .embeddings_file
                    .as_ref()
                    .expect("checked: embeddings features name a file");
                let t = inputs.embeddings.as_ref().ok_or_else(|| {
                    err(
                        f.span(),
                        "dgp.embeddings_file",
                        "was not read (resolve the experiment first)".into(),
                    )
                })?;
                file_d(t, "dgp.embeddings_file", f.span())?;
                Features::Pairs {
                    d,
                    rows: t.values.clone(),
                }
            }
            "data" => match panel {
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
            "spectral" => Features::spectral(
                d,
                g.alpha.as_ref().map_or(1.0, |v| *v.get_ref()),
                g.rotation_seed.unwrap_or(seed),
            ),
            "embedding" => Features::embedding_like(
                d,
                g.rank.as_ref().map_or(2, |v| *v.get_ref()).max(1),
                g.embedding_noise.as_ref().map_or(0.3, |v| *v.get_ref()),
                g.loading_seed.unwrap_or(seed),
            ),
            other => {
                return Err(err(
                    g.features.span(),
                    "dgp.features",
                    format!(
                        "expected isotropic, laplace, uniform, anisotropic, embedding or spectral, got '{other}'"
                    ),
                ));
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
                        format!("weights must be >= 0 and sum to 1, got {weights:?} (sum {s})"),
                    ));
                }
                weights.iter_mut().for_each(|w| *w = w.max(0.0));
                // Heterogeneity scales the spread of the types around their weighted mean.
                let mut bar = vec![0.0; d];
                for (mu, w) in means.iter().zip(&weights) {
                    axpy(*w, mu, &mut bar);
                }
                let means = means
                    .iter()
                    .map(|mu| mu.iter().zip(&bar).map(|(m, b)| b + h * (m - b)).collect())
                    .collect();
                Population::Mixture { means, weights }
            }
            "twins" if g.personas_file.is_some() => {
                let f = g.personas_file.as_ref().expect("matched");
                let t = inputs.personas.as_ref().ok_or_else(|| {
                    err(
                        f.span(),
                        "dgp.personas_file",
                        "was not read (resolve the experiment first)".into(),
                    )
                })?;
                file_d(t, "dgp.personas_file", f.span())?;
                // The file's rows are the panel; heterogeneity h ≠ 1 scales each row's
                // deviation from the panel mean (h = 1 keeps the rows bit for bit).
                let betas = if h == 1.0 {
                    t.values.clone()
                } else {
                    let r = t.rows();
                    let mut bar = vec![0.0; d];
                    for row in t.values.chunks_exact(d) {
                        axpy(1.0 / r as f64, row, &mut bar);
                    }
                    Arc::new(
                        t.values
                            .chunks_exact(d)
                            .flat_map(|row| row.iter().zip(&bar).map(|(b, m)| m + h * (b - m)))
                            .collect(),
                    )
                };
                Population::Personas { d, betas }
            }
            "twins" => {
                let b = match &g.beta_bar {
                    Some(b) => Some(fit(b, "dgp.beta_bar")?),
                    None => None,
                };
                let count = g
                    .personas
                    .as_ref()
                    .map_or(crate::twins::DEFAULT_TWINS as i64, |c| *c.get_ref());
                crate::TwinSpec {
                    count: count as usize,
                    b,
                    signal: g.signal.as_ref().map_or(2.0, |v| *v.get_ref()),
                    tau: h,
                    value_axes: g
                        .value_axes
                        .as_ref()
                        .map_or(4.min(d - 1) as i64, |v| *v.get_ref())
                        as usize,
                    coupling: g.coupling.as_ref().map_or(0.0, |v| *v.get_ref()),
                    intensity_sigma: g.intensity_sigma.as_ref().map_or(0.5, |v| *v.get_ref()),
                    mirror: g.mirror.unwrap_or(false),
                }
                .generate(d, &features.covariance(), g.persona_seed.unwrap_or(seed))
                .map_err(|e| {
                    let span = g
                        .value_axes
                        .as_ref()
                        .map_or(g.population.span(), |v| v.span());
                    err(span, "dgp", e.0)
                })?
            }
            "personas" => {
                let base = match panel {
                    Some(r) => Population::Personas {
                        d: r.d,
                        betas: r.betas.clone(),
                    },
                    None => {
                        let a = g.archetypes.as_ref().ok_or_else(|| {
                            err(
                                g.population.span(),
                                "dgp.archetypes",
                                "is required for synthetic personas".into(),
                            )
                        })?;
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
                        crate::PersonaSpec {
                            count: count as usize,
                            archetypes,
                            spread: g.spread.as_ref().map_or(0.5, |v| *v.get_ref()),
                            intensity_sigma: g
                                .intensity_sigma
                                .as_ref()
                                .map_or(0.5, |v| *v.get_ref()),
                            lexicographic_share: g
                                .lexicographic_share
                                .as_ref()
                                .map_or(0.1, |v| *v.get_ref()),
                            lexicographic_factor: g
                                .lexicographic_factor
                                .as_ref()
                                .map_or(10.0, |v| *v.get_ref()),
                        }
                        .generate(g.persona_seed.unwrap_or(seed))
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
                    axpy(1.0 / r as f64, row, &mut bar);
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
}

/// Largest heterogeneity accepted (a spread in units of beta_bar's scale): beyond it the
/// population is noise and cell keys lose their meaning.
pub const MAX_HETEROGENEITY: f64 = 1e4;
