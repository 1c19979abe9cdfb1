//! Experiment files, stage 2: the resolved plan. [`Experiment::resolve`] reads what the spec
//! names outside itself (persona panels fitted to real data), fixes the grid's d when the
//! personas do, and checks that every cell's DGP can be built; [`Experiment::dgp_for`]
//! builds a cell's DGP when asked (work units are never materialised all at once). A plan
//! also knows how much memory a run of it needs ([`Experiment::peak_memory_bytes`]).
//!
//! A plan can be resolved from the original files ([`Inputs::Files`]) or from a results
//! directory, which holds the resolved panel it ran with ([`Inputs::ResultsDir`]): reading
//! results never needs external data.

use crate::error::{SweepError, input};
use crate::spec::{Cell, ExperimentSpec, cell_key};
use signest_core::spec::SpecError;
use signest_sim::Dgp;
use signest_sim::spec::{PersonaSource, ResolvedInputs, ResolvedPanel, Table};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Personas fitted to a real panel: coefficients and the pool of (scaled) differences.
#[derive(Debug, Clone, PartialEq)]
pub struct RealPersonas {
    pub panel: ResolvedPanel,
    pub feature_names: Vec<String>,
    pub respondents: usize,
    /// The file they were fitted to, as resolved (or the results directory they came from).
    pub source: String,
}

/// Where a plan's external inputs come from.
#[derive(Debug, Clone, Copy)]
pub enum Inputs<'a> {
    /// The files the experiment names (relative paths: the working directory, then each
    /// directory above the experiment file).
    Files,
    /// The copies a results directory holds (`personas.csv`, `persona_pool.csv`).
    ResultsDir(&'a Path),
}

/// A resolved experiment: the spec, plus what it needed from outside.
#[derive(Debug, Clone)]
pub struct Experiment {
    pub spec: ExperimentSpec,
    /// Personas read from a file (`persona_source = "train"`).
    pub real_personas: Option<RealPersonas>,
    /// The twin panel of `personas_file`, as read.
    pub twin_personas: Option<Table>,
    /// Σ_x of `covariance_file`, as read.
    pub covariance: Option<Table>,
    /// The alternatives of `embeddings_file`, as read.
    pub embeddings: Option<Table>,
}

impl std::ops::Deref for Experiment {
    type Target = ExperimentSpec;
    fn deref(&self) -> &ExperimentSpec {
        &self.spec
    }
}

/// For tests that plant defects in a resolved experiment (a changed seed, a swapped
/// estimator); nothing in the library mutates a plan.
impl std::ops::DerefMut for Experiment {
    fn deref_mut(&mut self) -> &mut ExperimentSpec {
        &mut self.spec
    }
}

pub use crate::results::{
    COVARIANCE_FILE, EMBEDDINGS_FILE, PERSONAS_FILE, POOL_FILE, TWIN_PERSONAS_FILE,
};

impl Experiment {
    /// Reads, validates and resolves an experiment file.
    pub fn from_file(path: &Path) -> Result<Experiment, SweepError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            SweepError::Spec(SpecError {
                file: path.display().to_string(),
                line: None,
                key: "file".into(),
                message: format!("cannot read: {e}"),
            })
        })?;
        Experiment::parse(&text, &path.display().to_string())
    }

    /// Parses and resolves experiment text from its files (see [`Inputs::Files`]).
    pub fn parse(text: &str, file: &str) -> Result<Experiment, SweepError> {
        Experiment::resolve(ExperimentSpec::parse(text, file)?, Inputs::Files)
    }

    /// Stage 2: reads the spec's external inputs and checks every cell's DGP.
    pub fn resolve(spec: ExperimentSpec, inputs: Inputs) -> Result<Experiment, SweepError> {
        let mut spec = spec;
        let real_personas = match (&spec.persona_source, inputs) {
            (PersonaSource::Synthetic, _) => None,
            (PersonaSource::File { .. }, Inputs::ResultsDir(dir)) => Some(read_panel(dir)?),
            (PersonaSource::File { path, ridge }, Inputs::Files) => {
                let src = spec.source();
                let resolved = find_input(&spec.file, path.get_ref());
                if !resolved.exists() {
                    return Err(src
                        .at(
                            path.span(),
                            "dgp.persona_data",
                            format!(
                                "{} does not exist: run `python3 scripts/setup_train_data.py` (or `just train-data`) first",
                                resolved.display()
                            ),
                        )
                        .into());
                }
                Some(
                    real_personas(&resolved, *ridge)
                        .map_err(|e| src.at(path.span(), "dgp.persona_data", e))?,
                )
            }
        };
        // personas_file / covariance_file / embeddings_file: from the files named, or the
        // directory's copies.
        let table =
            |key: &str, given: &Option<toml::Spanned<String>>, copy: &str, header: Option<bool>| {
                let Some(given) = given else {
                    return Ok(None);
                };
                let src = spec.source();
                let path = match inputs {
                    Inputs::Files => find_input(&spec.file, given.get_ref()),
                    Inputs::ResultsDir(dir) => dir.join(copy),
                };
                let read = if path.extension().is_some_and(|e| e == "npy") && header.is_none() {
                    read_npy(&path)
                } else {
                    read_table(&path, header)
                };
                read.map(Some)
                    .map_err(|m| SweepError::from(src.at(given.span(), key, m)))
            };
        let twin_personas = table(
            "dgp.personas_file",
            &spec.dgp.personas_file,
            TWIN_PERSONAS_FILE,
            Some(true),
        )?;
        let covariance = table(
            "dgp.covariance_file",
            &spec.dgp.covariance_file,
            COVARIANCE_FILE,
            Some(false),
        )?;
        let embeddings = table(
            "dgp.embeddings_file",
            &spec.dgp.embeddings_file,
            EMBEDDINGS_FILE,
            None,
        )?;
        let shape_error = [
            embeddings.as_ref().filter(|e| e.rows() < 2).map(|_| {
                (
                    "dgp.embeddings_file",
                    &spec.dgp.embeddings_file,
                    "needs at least 2 alternatives (rows)".to_string(),
                )
            }),
            covariance.as_ref().filter(|c| c.rows() != c.d).map(|c| {
                (
                    "dgp.covariance_file",
                    &spec.dgp.covariance_file,
                    format!("Σ_x must be d × d: {} rows of {} numbers", c.rows(), c.d),
                )
            }),
        ];
        if let Some((key, given, message)) = shape_error.into_iter().flatten().next() {
            let f = given.as_ref().expect("read");
            return Err(spec.source().at(f.span(), key, message).into());
        }
        if let (Some(p), Some((c, key, given))) = (
            &twin_personas,
            covariance
                .as_ref()
                .map(|c| (c, "dgp.covariance_file", &spec.dgp.covariance_file))
                .or(embeddings
                    .as_ref()
                    .map(|e| (e, "dgp.embeddings_file", &spec.dgp.embeddings_file))),
        ) && p.d != c.d
        {
            let f = given.as_ref().expect("read");
            return Err(spec
                .source()
                .at(
                    f.span(),
                    key,
                    format!("has d = {} but personas_file has d = {}", c.d, p.d),
                )
                .into());
        }
        let fixed_d = real_personas
            .as_ref()
            .map(|r| r.panel.d)
            .or(twin_personas.as_ref().map(|t| t.d))
            .or(covariance.as_ref().map(|t| t.d))
            .or(embeddings.as_ref().map(|t| t.d));
        if let Some(d) = fixed_d
            && spec.cells.iter().any(|c| c.d == 0)
        {
            for c in &mut spec.cells {
                c.d = d;
                c.key = cell_key(c.n, c.d, c.heterogeneity, c.type_weight, &c.dgp);
            }
        }
        let exp = Experiment {
            spec,
            real_personas,
            twin_personas,
            covariance,
            embeddings,
        };
        // Build every cell's DGP now, so that impossible values fail before any work.
        for c in &exp.cells {
            if exp.dgp_for(c)?.u_star().is_none() {
                let span = exp.dgp.beta_bar.as_ref().map_or(0..0, |b| b.span());
                return Err(exp
                    .source()
                    .at(
                        span,
                        "dgp.beta_bar",
                        format!(
                            "cell {}: beta_bar = 0, there is no direction to estimate",
                            c.key
                        ),
                    )
                    .into());
            }
        }
        Ok(exp)
    }

    /// The DGP of a cell.
    pub fn dgp_for(&self, cell: &Cell) -> Result<Dgp, SweepError> {
        Ok(self
            .dgp
            .build(&self.source(), self.seed, &cell.params(), &self.inputs())?)
    }

    /// What the `[dgp]` section needed from files, as read.
    pub fn inputs(&self) -> ResolvedInputs {
        ResolvedInputs {
            panel: self.real_personas.as_ref().map(|r| r.panel.clone()),
            personas: self.twin_personas.clone(),
            covariance: self.covariance.clone(),
            embeddings: self.embeddings.clone(),
        }
    }

    /// Peak memory of a run at `threads` threads, in bytes, estimated before any work: per
    /// thread, the largest cell's data set (z, y, weights and ids: n·(d + 3)·8 bytes) and the
    /// most demanding estimator's own needs on it ([`signest_estimator::Estimator::memory_bytes`]);
    /// once, every cell's disagreement test set and the persona panel.
    pub fn peak_memory_bytes(&self, threads: usize) -> u64 {
        let per_thread = self
            .cells
            .iter()
            .map(|c| {
                let (n, d) = (c.n as u64, c.d as u64);
                let data = n.saturating_mul(d + 3).saturating_mul(8);
                let est = self
                    .estimators
                    .iter()
                    .map(|e| e.estimator.memory_bytes(c.n, c.d))
                    .max()
                    .unwrap_or(0);
                data.saturating_add(est)
            })
            .max()
            .unwrap_or(0);
        let test_sets: u64 = self
            .cells
            .iter()
            .map(|c| {
                (self.test_size as u64)
                    .saturating_mul(c.d as u64)
                    .saturating_mul(8)
            })
            .fold(0u64, u64::saturating_add);
        let panel = self
            .real_personas
            .as_ref()
            .map_or(0, |r| 8 * (r.panel.betas.len() + r.panel.pool.len()) as u64)
            + [&self.twin_personas, &self.covariance, &self.embeddings]
                .iter()
                .filter_map(|t| t.as_ref())
                .map(|t| 8 * t.values.len() as u64)
                .sum::<u64>();
        per_thread
            .saturating_mul(threads as u64)
            .saturating_add(test_sets)
            .saturating_add(panel)
    }

    /// Refuses a run whose [`Experiment::peak_memory_bytes`] exceeds the memory available on
    /// this machine (`available` bytes; `None`: unknown, not checked).
    pub fn check_memory(&self, threads: usize, available: Option<u64>) -> Result<(), SweepError> {
        let need = self.peak_memory_bytes(threads);
        match available {
            Some(have) if need > have => {
                let largest = self
                    .cells
                    .iter()
                    .max_by_key(|c| c.n as u128 * c.d as u128)
                    .map_or("-".to_string(), |c| c.key.clone());
                let message = format!(
                    "a run at {threads} thread(s) needs about {} of memory (largest cell: {largest}; rows × (d + 3) × 8 bytes × threads, plus the estimators' own needs and the test sets), but this machine has {} available: use smaller n or d, or fewer --threads",
                    human_bytes(need),
                    human_bytes(have)
                );
                let at = self.source().at(self.n_span.clone(), "grid.n", message);
                Err(SweepError::Resources(at.to_string()))
            }
            _ => Ok(()),
        }
    }
}

/// Memory available to a new process (`MemAvailable` in /proc/meminfo), when known.
pub fn available_memory_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = s
        .lines()
        .find(|l| l.starts_with("MemAvailable:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

pub fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1024f64.powi(4) {
        format!("{:.1} TiB", b / 1024f64.powi(4))
    } else if b >= 1024f64.powi(3) {
        format!("{:.1} GiB", b / 1024f64.powi(3))
    } else {
        format!("{:.0} MiB", b / 1024f64.powi(2))
    }
}

/// Fits one ridge logit per respondent of a real panel (`peruser`'s fits) on the differences
/// scaled by their column standard deviations; those are the personas.
pub fn real_personas(path: &Path, ridge: f64) -> Result<RealPersonas, String> {
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
        respondents: betas.len() / d,
        panel: ResolvedPanel {
            d,
            betas: Arc::new(betas),
            pool: Arc::new(scaled.z().to_vec()),
        },
        feature_names: data.feature_names().to_vec(),
        source: path.display().to_string(),
    })
}

/// The resolved panel as two CSV texts (personas, pool), with the feature names as header.
/// Numbers are written in Rust's shortest round-trip form, so reading them back gives the
/// same bits.
pub fn panel_files(r: &RealPersonas) -> (String, String) {
    let table = |rows: &[f64]| {
        let mut s = r.feature_names.join(",");
        s.push('\n');
        for row in rows.chunks_exact(r.panel.d) {
            s += &row
                .iter()
                .map(|x| format!("{x:?}"))
                .collect::<Vec<_>>()
                .join(",");
            s.push('\n');
        }
        s
    };
    (table(&r.panel.betas), table(&r.panel.pool))
}

/// Largest file a `[dgp]` key may name (bytes): read whole, so bounded before reading.
pub const MAX_INPUT_BYTES: u64 = 1 << 30;

/// A relative input path: the working directory, then each directory above the experiment
/// file (absolute paths as given).
fn find_input(experiment_file: &str, given: &str) -> PathBuf {
    let given = PathBuf::from(given);
    if given.is_absolute() || given.exists() {
        return given;
    }
    Path::new(experiment_file)
        .ancestors()
        .skip(1)
        .map(|a| a.join(&given))
        .find(|c| c.exists())
        .unwrap_or(given)
}

/// Refuses a file larger than [`MAX_INPUT_BYTES`] before reading it.
fn check_size(path: &Path) -> Result<(), String> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{shown}: cannot read: {e}"))?
        .len();
    if size > MAX_INPUT_BYTES {
        return Err(format!(
            "{shown}: {size} bytes is more than the {MAX_INPUT_BYTES} a [dgp] file may have"
        ));
    }
    Ok(())
}

/// A CSV of numbers: with `header = Some(true)`, a first line of column names; with
/// `Some(false)`, none (names `x1..xd`); with `None`, a header when the first line is not
/// all numbers. Every row has the same number of finite numbers. Errors name the file and
/// line.
pub fn read_table(path: &Path, header: Option<bool>) -> Result<Table, String> {
    let shown = path.display();
    check_size(path)?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .peekable();
    let header = header.unwrap_or_else(|| {
        lines
            .peek()
            .is_some_and(|(_, l)| l.split(',').any(|x| x.trim().parse::<f64>().is_err()))
    });
    let mut names: Vec<String> = Vec::new();
    if header {
        let (_, l) = lines
            .next()
            .ok_or_else(|| format!("{shown}: empty file (expected a header line of names)"))?;
        names = l.split(',').map(|x| x.trim().to_string()).collect();
        if names.iter().any(|n| n.parse::<f64>().is_ok()) {
            return Err(format!(
                "{shown}:1: expected a header line of column names, got numbers"
            ));
        }
    }
    let mut values = Vec::new();
    let mut width = header.then_some(names.len());
    for (i, l) in lines {
        let row: Vec<&str> = l.split(',').map(str::trim).collect();
        let w = *width.get_or_insert(row.len());
        if row.len() != w {
            return Err(format!(
                "{shown}:{}: expected {w} numbers, got {}",
                i + 1,
                row.len()
            ));
        }
        for x in row {
            match x.parse::<f64>() {
                Ok(v) if v.is_finite() => values.push(v),
                _ => return Err(format!("{shown}:{}: '{x}' is not a finite number", i + 1)),
            }
        }
    }
    let d = width.unwrap_or(0);
    if d == 0 || values.is_empty() {
        return Err(format!("{shown}: no rows of numbers"));
    }
    if d as i64 > crate::spec::MAX_D {
        return Err(format!(
            "{shown}: {d} columns is more than d = {}",
            crate::spec::MAX_D
        ));
    }
    if !header {
        names = (1..=d).map(|j| format!("x{j}")).collect();
    }
    Ok(Table {
        names,
        d,
        values: Arc::new(values),
    })
}

/// A `.npy` array of N alternatives × d (`<f8`, or `<f4` widened exactly; C or Fortran
/// order), as a table with names `x1..xd`.
pub fn read_npy(path: &Path) -> Result<Table, String> {
    let shown = path.display();
    check_size(path)?;
    let bytes = std::fs::read(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    let npy =
        npyz::NpyFile::new(&bytes[..]).map_err(|e| format!("{shown}: not a .npy file: {e}"))?;
    let shape = npy.shape().to_vec();
    let [n, d] = shape[..] else {
        return Err(format!(
            "{shown}: expected a 2-D array (alternatives × d), got shape {shape:?}"
        ));
    };
    let (n, d) = (n as usize, d as usize);
    if n == 0 || d == 0 || d as i64 > crate::spec::MAX_D {
        return Err(format!(
            "{shown}: shape {shape:?}: need at least one row and 1 <= d <= {}",
            crate::spec::MAX_D
        ));
    }
    let fortran = npy.order() == npyz::Order::Fortran;
    let descr = npy.dtype().descr();
    let flat: Vec<f64> = match descr.trim_matches('\'') {
        "<f8" | "=f8" => npy.into_vec::<f64>(),
        "<f4" | "=f4" => npy
            .into_vec::<f32>()
            .map(|v| v.into_iter().map(f64::from).collect()),
        other => {
            return Err(format!(
                "{shown}: dtype {other}: expected little-endian float64 (<f8) or float32 (<f4)"
            ));
        }
    }
    .map_err(|e| format!("{shown}: {e}"))?;
    if flat.len() != n * d {
        return Err(format!(
            "{shown}: {} values for shape {shape:?}",
            flat.len()
        ));
    }
    let values: Vec<f64> = if fortran {
        (0..n * d).map(|k| flat[(k % d) * n + k / d]).collect()
    } else {
        flat
    };
    if let Some(k) = values.iter().position(|x| !x.is_finite()) {
        return Err(format!(
            "{shown}: row {}, column {}: {} is not finite",
            k / d + 1,
            k % d + 1,
            values[k]
        ));
    }
    Ok(Table {
        names: (1..=d).map(|j| format!("x{j}")).collect(),
        d,
        values: Arc::new(values),
    })
}

/// A table as `.npy` bytes (`<f8`, C order): exact, and compact for large embeddings.
pub fn table_npy(t: &Table) -> Vec<u8> {
    use npyz::WriterBuilder;
    let mut out = Vec::new();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&[t.rows() as u64, t.d as u64])
        .writer(&mut out)
        .begin_nd()
        .expect("writing to memory");
    w.extend(t.values.iter().copied())
        .expect("writing to memory");
    w.finish().expect("writing to memory");
    out
}

/// A table as CSV text, numbers in Rust's shortest round-trip form (reading it back gives
/// the same bits); with `header`, its names first.
pub fn table_text(t: &Table, header: bool) -> String {
    let mut s = String::new();
    if header {
        s += &t.names.join(",");
        s.push('\n');
    }
    for row in t.values.chunks_exact(t.d) {
        s += &row
            .iter()
            .map(|x| format!("{x:?}"))
            .collect::<Vec<_>>()
            .join(",");
        s.push('\n');
    }
    s
}

fn read_panel(dir: &Path) -> Result<RealPersonas, SweepError> {
    let read = |name: &str| {
        read_table(&dir.join(name), Some(true)).map_err(|m| {
            input(format!(
                "{m} (a results directory of personas read from a file keeps the resolved panel here)"
            ))
        })
    };
    let (t, p) = (read(PERSONAS_FILE)?, read(POOL_FILE)?);
    let (names, betas, pool_names, pool) = (
        t.names,
        Arc::unwrap_or_clone(t.values),
        p.names,
        Arc::unwrap_or_clone(p.values),
    );
    if names != pool_names || names.is_empty() {
        return Err(input(format!(
            "{}: {PERSONAS_FILE} and {POOL_FILE} disagree on the features",
            dir.display()
        )));
    }
    let d = names.len();
    Ok(RealPersonas {
        respondents: betas.len() / d,
        panel: ResolvedPanel {
            d,
            betas: Arc::new(betas),
            pool: Arc::new(pool),
        },
        feature_names: names,
        source: dir.display().to_string(),
    })
}
