//! The results directory: the one owner of its layout. `run`, `merge`, `verify`, `report`
//! and `check` read and write a results directory only through [`ResultsDir`], so the names
//! below are the whole contract (docs/experiments.md describes each file).
//!
//! ```text
//! DIR/
//!   experiment.toml     the experiment file as run (its hash is in the manifest)
//!   personas.csv        the resolved persona panel, when personas were read from a file
//!   persona_pool.csv    the feature differences those personas were shown
//!   runs.csv            one row per cell × replication × estimator
//!   summary.csv         per cell × estimator, with MCSEs
//!   manifest.json       a typed Manifest: what ran, where, how long (present = finished)
//!   targets.csv         population targets        (signest targets / verify)
//!   verdicts.md, .json  claim verdicts            (signest verify)
//!   *.png, *.svg        figures                   (signest report)
//!   report.md           the report                (signest report)
//!   progress.jsonl, state.json, .lock             only while a run is unfinished
//! ```

use crate::error::{SweepError, input};
use crate::output::{Row, SummaryRow};
use crate::plan::{Experiment, Inputs, panel_files};
use crate::run::Shard;
use crate::spec::ExperimentSpec;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const EXPERIMENT: &str = "experiment.toml";
pub const RUNS: &str = "runs.csv";
pub const SUMMARY: &str = "summary.csv";
pub const MANIFEST: &str = "manifest.json";
pub const TARGETS: &str = "targets.csv";
pub const VERDICTS_MD: &str = "verdicts.md";
pub const VERDICTS_JSON: &str = "verdicts.json";
pub const REPORT: &str = "report.md";
pub const PROGRESS: &str = "progress.jsonl";
pub const STATE: &str = "state.json";
pub const LOCK: &str = ".lock";
/// The resolved persona panel (personas read from a file) and the pool they were shown.
pub const PERSONAS_FILE: &str = "personas.csv";
pub const POOL_FILE: &str = "persona_pool.csv";
/// Copies of `personas_file` (with its header) and `covariance_file` (Σ_x, no header), in
/// round-trip form: a plan resolved from the directory reads these, never the originals.
pub const TWIN_PERSONAS_FILE: &str = "twin_personas.csv";
pub const COVARIANCE_FILE: &str = "covariance.csv";
/// Copy of `embeddings_file`, as `.npy` (f8: exact and compact).
pub const EMBEDDINGS_FILE: &str = "embeddings.npy";
/// The gate's report (`signest check`).
pub const CHECK: &str = "check.md";
/// The effort check's rows (`signest effort`).
pub const EFFORT: &str = "effort.csv";

/// `{commit, dirty}` of the git work tree a run started in.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GitInfo {
    pub commit: String,
    pub dirty: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ManifestExperiment {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub hash_fnv1a64: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Host {
    pub cores: usize,
    pub memory_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stages {
    pub plan: f64,
    pub run: f64,
    pub write: f64,
    pub total: f64,
}

/// One shard of a merged directory.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MergedShard {
    pub dir: String,
    pub manifest: Box<Manifest>,
}

/// `manifest.json`. Fields a merged directory does not have are `None` there.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub signest_version: String,
    pub complete: bool,
    pub experiment: ManifestExperiment,
    pub master_seed: u64,
    #[serde(default)]
    pub replications: Option<u64>,
    #[serde(default)]
    pub cells: Option<usize>,
    #[serde(default)]
    pub git: Option<GitInfo>,
    #[serde(default)]
    pub threads: Option<usize>,
    #[serde(default)]
    pub shard: Option<Shard>,
    #[serde(default)]
    pub units_total: Option<u64>,
    #[serde(default)]
    pub units_this_run: Option<u64>,
    #[serde(default)]
    pub units_resumed: Option<u64>,
    #[serde(default)]
    pub started_unix: Option<f64>,
    #[serde(default)]
    pub finished_unix: Option<f64>,
    #[serde(default)]
    pub host: Option<Host>,
    #[serde(default)]
    pub stages_seconds: Option<Stages>,
    #[serde(default)]
    pub fit_seconds_total: Option<f64>,
    #[serde(default)]
    pub sample_seconds_total: Option<f64>,
    /// Share of thread time spent neither fitting nor drawing data (scheduling, progress,
    /// durable writes, summaries), over the units this run computed. `None` when it computed
    /// none, or when fits ran in parallel inside (their times overlap, so thread time is not
    /// their sum): measure such experiments' overhead at --threads 1.
    #[serde(default)]
    pub harness_overhead_fraction: Option<f64>,
    #[serde(default)]
    pub extra: serde_json::Value,
    /// The shards' manifests, for a directory written by `signest merge`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<MergedShard>,
}

impl Manifest {
    /// A shard's (k, n), or (1, 1) for an unsharded run.
    pub fn shard_of(&self) -> (u64, u64) {
        self.shard.map_or((1, 1), |s| (s.k, s.n))
    }
}

/// A results directory (it need not exist yet).
#[derive(Debug, Clone, PartialEq)]
pub struct ResultsDir {
    path: PathBuf,
}

/// Writes a file so that it is either complete or absent: temp file, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SweepError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = File::create(&tmp).map_err(|e| SweepError::io(&tmp, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| SweepError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| SweepError::io(path, e))
}

/// A CSV text (header from the field names) of `rows`.
pub fn csv_bytes<T: serde::Serialize>(rows: &[T]) -> Result<Vec<u8>, SweepError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)
            .map_err(|e| crate::error::failure(format!("csv: {e}")))?;
    }
    w.into_inner()
        .map_err(|e| crate::error::failure(format!("csv: {e}")))
}

pub(crate) fn read_csv<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, SweepError> {
    let mut r =
        csv::Reader::from_path(path).map_err(|e| input(format!("{}: {e}", path.display())))?;
    r.deserialize()
        .collect::<Result<Vec<T>, _>>()
        .map_err(|e| input(format!("{}: {e}", path.display())))
}

impl ResultsDir {
    pub fn new(path: impl Into<PathBuf>) -> ResultsDir {
        ResultsDir { path: path.into() }
    }

    /// A finished results directory (experiment.toml, runs.csv and manifest.json present).
    pub fn open(path: impl Into<PathBuf>) -> Result<ResultsDir, SweepError> {
        let d = ResultsDir::new(path);
        for (f, hint) in [
            (
                EXPERIMENT,
                "not a results directory of `signest run` or `signest merge`",
            ),
            (
                RUNS,
                "is the run finished? `signest run --resume` finishes it",
            ),
            (
                MANIFEST,
                "is the run finished? `signest run --resume` finishes it",
            ),
        ] {
            if !d.file(f).exists() {
                return Err(input(format!("{}: no {f} ({hint})", d.path.display())));
            }
        }
        Ok(d)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of one of the directory's files (one of the constants of this module, or a
    /// figure's file name).
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.file(name).exists()
    }

    /// Whether a finished run is here (its manifest is written last).
    pub fn is_finished(&self) -> bool {
        self.has(MANIFEST)
    }

    pub fn create(&self) -> Result<(), SweepError> {
        fs::create_dir_all(&self.path)
            .map_err(|e| input(format!("cannot create {}: {e}", self.path.display())))
    }

    /// Writes `name` atomically.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), SweepError> {
        write_atomic(&self.file(name), bytes)
    }

    /// The experiment file as run, parsed (no file other than experiment.toml is read).
    pub fn spec(&self) -> Result<ExperimentSpec, SweepError> {
        let p = self.file(EXPERIMENT);
        let text = fs::read_to_string(&p).map_err(|e| input(format!("{}: {e}", p.display())))?;
        Ok(ExperimentSpec::parse(&text, &p.display().to_string())?)
    }

    /// The experiment as run, resolved from this directory's own copies (a persona panel is
    /// read from personas.csv, never from the data it was fitted to).
    pub fn experiment(&self) -> Result<Experiment, SweepError> {
        let spec = self.spec()?;
        // A directory written before the panel was kept there has only the experiment file:
        // resolve it from the files it names.
        let old_layout = matches!(
            spec.persona_source,
            signest_sim::spec::PersonaSource::File { .. }
        ) && !self.has(PERSONAS_FILE);
        if old_layout {
            return Experiment::resolve(spec, Inputs::Files);
        }
        Experiment::resolve(spec, Inputs::ResultsDir(&self.path))
    }

    /// Writes experiment.toml and, for personas read from a file, the resolved panel.
    pub fn write_experiment(&self, exp: &Experiment) -> Result<(), SweepError> {
        self.write(EXPERIMENT, exp.text.as_bytes())?;
        self.write_panel(exp)
    }

    /// Writes the resolved persona panel (personas.csv, persona_pool.csv) when the
    /// experiment read personas from a file; nothing otherwise.
    pub fn write_panel(&self, exp: &Experiment) -> Result<(), SweepError> {
        if let Some(r) = &exp.real_personas {
            let (betas, pool) = panel_files(r);
            self.write(PERSONAS_FILE, betas.as_bytes())?;
            self.write(POOL_FILE, pool.as_bytes())?;
        }
        if let Some(t) = &exp.twin_personas {
            self.write(
                TWIN_PERSONAS_FILE,
                crate::plan::table_text(t, true).as_bytes(),
            )?;
        }
        if let Some(t) = &exp.covariance {
            self.write(
                COVARIANCE_FILE,
                crate::plan::table_text(t, false).as_bytes(),
            )?;
        }
        if let Some(t) = &exp.embeddings {
            self.write(EMBEDDINGS_FILE, &crate::plan::table_npy(t))?;
        }
        Ok(())
    }

    /// Whether the experiment read personas from a file but this directory lacks the
    /// resolved panel (a directory written before the panel was kept with the results).
    pub fn lacks_panel(&self, exp: &Experiment) -> bool {
        exp.real_personas.is_some() && !self.has(PERSONAS_FILE)
    }

    pub fn runs(&self) -> Result<Vec<Row>, SweepError> {
        crate::output::read_runs(&self.file(RUNS))
    }

    pub fn summary(&self) -> Result<Vec<SummaryRow>, SweepError> {
        read_csv(&self.file(SUMMARY))
    }

    pub fn manifest(&self) -> Result<Manifest, SweepError> {
        let p = self.file(MANIFEST);
        let text = fs::read_to_string(&p)
            .map_err(|e| input(format!("{}: {e} (is this a finished run?)", p.display())))?;
        serde_json::from_str(&text).map_err(|e| input(format!("{}: {e}", p.display())))
    }

    /// runs.csv, summary.csv (from the rows), then manifest.json last: a directory with a
    /// manifest is complete. The manifest is made after the CSVs are written (it records
    /// how long that took).
    pub fn write_results(
        &self,
        rows: &[Row],
        manifest: impl FnOnce() -> Manifest,
    ) -> Result<(), SweepError> {
        self.write_rows(rows)?;
        self.write_manifest(&manifest())
    }

    /// runs.csv and summary.csv (from the rows).
    pub fn write_rows(&self, rows: &[Row]) -> Result<(), SweepError> {
        self.write(RUNS, &csv_bytes(rows)?)?;
        self.write(SUMMARY, &csv_bytes(&crate::output::summarise(rows))?)
    }

    pub fn write_manifest(&self, manifest: &Manifest) -> Result<(), SweepError> {
        self.write(
            MANIFEST,
            serde_json::to_string_pretty(manifest)
                .expect("manifest serialises")
                .as_bytes(),
        )
    }
}
