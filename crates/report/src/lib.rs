//! # signest-report
//!
//! Figures and `report.md` for a results directory (`signest report DIR`): what a paper needs,
//! drawn with plotters using an embedded DejaVu Sans (no system fonts), as PNG (1050 × 780 px:
//! 3.5 in at 300 dpi, a single column) and SVG. Rendering is deterministic: the same results
//! give byte-identical files.
//!
//! | figure | file stem | drawn when |
//! |---|---|---|
//! | convergence: mean error against n, log–log, MCSE band, slope and CI in the legend, n^(−1/3) and n^(−1/2) guides, target biases dashed | `convergence_<series>` | a series has ≥ 2 values of n |
//! | heterogeneity: error against heterogeneity at fixed n | `heterogeneity_n<N>` | ≥ 3 heterogeneity levels at one n |
//! | dimension: error against d at fixed n, d^(1/3) guide | `dimension_n<N>` | ≥ 3 values of d at one n |
//! | disagreement with the population preference, ± 1.96 MCSE | `disagreement` | always |
//! | fit time against n, log–log | `fit_time` | ≥ 2 values of n |
//! | assumption boundary: targets' bias against the type weight | `assumption` | a type_weight axis and targets.csv |
//! | regime map: heatmaps of 1 − sign/bt (angle, disagreement), 0 and 35% contours, cells whose sign target leaves u* boxed ([`map`]) | `regime_<metric>_n<N>_d<D>` | exactly two coordinates (heterogeneity, type_weight, `[grid.dgp]` keys) vary at the largest n |
//!
//! Colours are fixed per estimator (Okabe–Ito palette), the same in every figure.
//!
//! A directory that holds results directories instead (e.g. `results/paper/persona/`) gets a
//! headline `report.md` across them: see [`collection`].

pub mod collection;
mod figures;
pub mod map;
mod style;

pub use figures::{Figure, Format, render_all};

use signest_estimator::Family;
use signest_sweep::results::{REPORT, TARGETS, VERDICTS_MD};
use signest_sweep::{Manifest, ResultsDir, SummaryRow, SweepError};
use signest_theory::files::read_targets;
use signest_theory::verdict::TargetRow;
use signest_theory::{Study, TheoryError};
use std::fmt;
use std::path::Path;

/// The one error type of signest-report; the CLI decides exit codes from
/// [`ReportError::is_input`].
#[derive(Debug, Clone, PartialEq)]
pub enum ReportError {
    /// Reading the results (or their experiment) failed.
    Theory(TheoryError),
    /// A figure could not be drawn or written.
    Failed(String),
    /// The directory is neither a results directory nor a collection of them.
    Input(String),
}

impl ReportError {
    pub fn is_input(&self) -> bool {
        match self {
            ReportError::Theory(e) => e.is_input(),
            ReportError::Failed(_) => false,
            ReportError::Input(_) => true,
        }
    }
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::Theory(e) => write!(f, "{e}"),
            ReportError::Failed(m) | ReportError::Input(m) => f.write_str(m),
        }
    }
}
impl std::error::Error for ReportError {}

impl From<TheoryError> for ReportError {
    fn from(e: TheoryError) -> Self {
        ReportError::Theory(e)
    }
}
impl From<SweepError> for ReportError {
    fn from(e: SweepError) -> Self {
        ReportError::Theory(e.into())
    }
}
impl From<signest_core::spec::SpecError> for ReportError {
    fn from(e: signest_core::spec::SpecError) -> Self {
        ReportError::Theory(e.into())
    }
}

/// Everything a report is drawn from, read from a results directory.
pub struct Results {
    /// The experiment as run, resolved from the directory alone.
    pub experiment: Study,
    pub summary: Vec<SummaryRow>,
    pub rows: Vec<signest_sweep::Row>,
    pub targets: Vec<TargetRow>,
    pub verdicts_md: Option<String>,
    pub manifest: Option<Manifest>,
}

impl Results {
    /// Reads the directory (see [`signest_sweep::results`]): experiment.toml (and the
    /// resolved persona panel), runs.csv, summary.csv, manifest.json and, when present,
    /// targets.csv and verdicts.md. Nothing outside the directory is read.
    pub fn load(dir: &Path) -> Result<Results, ReportError> {
        let rd = ResultsDir::open(dir)?;
        let experiment = Study::new(rd.experiment()?)?;
        let targets = if rd.has(TARGETS) {
            read_targets(&rd.file(TARGETS))?
        } else {
            Vec::new()
        };
        Ok(Results {
            experiment,
            summary: rd.summary()?,
            rows: rd.runs()?,
            targets,
            verdicts_md: std::fs::read_to_string(rd.file(VERDICTS_MD)).ok(),
            manifest: rd.manifest().ok(),
        })
    }

    /// The figure colour of an estimator label (from the registry), or of a target's name
    /// (`bt`, `sign`: the estimator's default solver); grey for anything else.
    pub fn colour(&self, label: &str) -> plotters::style::RGBColor {
        let rgb = self
            .experiment
            .estimator(label)
            .map(|e| e.colour())
            .or_else(|| {
                signest_estimator::registry::BUILTIN
                    .iter()
                    .find(|k| k.name == label)
                    .map(|k| k.default_solver().colour)
            })
            .unwrap_or([80, 80, 80]);
        plotters::style::RGBColor(rgb[0], rgb[1], rgb[2])
    }

    /// The family of an estimator label.
    pub fn family(&self, label: &str) -> Option<Family> {
        self.experiment.estimator(label).map(|e| e.kind.family)
    }

    /// The population target (`bt` or `sign`, SPEC §4) an estimator label converges to.
    pub fn target_name(&self, label: &str) -> Option<&'static str> {
        match self.family(label)? {
            Family::Sign => Some("sign"),
            Family::Bt => Some("bt"),
            _ => None,
        }
    }
}

/// Writes the figures and `report.md` into `dir`; returns the figures written.
pub fn report(dir: &Path, formats: &[Format]) -> Result<Vec<Figure>, ReportError> {
    let res = Results::load(dir)?;
    let figs = render_all(&res, dir, formats)?;
    let md = report_md(&res, &figs, dir);
    ResultsDir::new(dir).write(REPORT, md.as_bytes())?;
    Ok(figs)
}

fn report_md(res: &Results, figs: &[Figure], dir: &Path) -> String {
    let e = &res.experiment;
    let mut s = format!("# {}\n\n{}\n\n", e.name, e.description);
    s += &format!(
        "Produced by `signest run` on the experiment below, then `signest verify {d}` and `signest report {d}`.\n",
        d = dir.display()
    );
    if let Some(m) = &res.manifest {
        let opt = |x: Option<String>| x.unwrap_or_else(|| "null".to_string());
        s += &format!(
            "Manifest: signest {}, git {}, {} threads, {} work units, wall time {:.0} s (experiment hash {}).\n",
            m.signest_version,
            m.git.as_ref().map_or("unknown", |g| g.commit.as_str()),
            opt(m.threads.map(|t| t.to_string())),
            opt(m.units_total.map(|t| t.to_string())),
            m.stages_seconds.as_ref().map_or(f64::NAN, |s| s.total),
            m.experiment.hash_fnv1a64,
        );
    }
    s += "\n## Verdicts\n\n";
    match &res.verdicts_md {
        Some(v) => {
            // Drop the verdict file's own title and preamble; keep its table and tally.
            let body: String = v
                .lines()
                .skip_while(|l| !l.starts_with('|'))
                .collect::<Vec<_>>()
                .join("\n");
            s += &body;
            s += "\n";
        }
        None => s += "No verdicts.md: run `signest verify` first.\n",
    }
    s += "\n## Figures\n\n";
    for f in figs {
        s += &format!(
            "### {}\n\n{}\n\n![{}]({})\n\n",
            f.title, f.caption, f.title, f.files[0]
        );
    }
    for m in map::regime_maps(res) {
        s += &format!(
            "## Regime map (n = {}, d = {})\n\nPaired reduction 1 − {}/{} per cell, ± its delta-method standard error over replications; targets from targets.csv.\n\n{}\n",
            m.n,
            m.d,
            m.sign,
            m.bt,
            map::table(&m)
        );
    }
    s += "## Summary (mean angular error ± MCSE, degrees)\n\n| cell | estimator | reps | mean ± MCSE | median | q10–q90 | disagreement ± MCSE | fit s |\n|---|---|---|---|---|---|---|---|\n";
    for r in &res.summary {
        s += &format!(
            "| {} | {} | {} | {:.3} ± {:.3} | {:.3} | {:.3}–{:.3} | {:.4} ± {:.4} | {:.3} |\n",
            r.cell,
            r.estimator,
            r.n_reps,
            r.mean_angular_error_deg,
            r.mcse_angular_error_deg,
            r.median_angular_error_deg,
            r.q10_angular_error_deg,
            r.q90_angular_error_deg,
            r.mean_disagreement,
            r.mcse_disagreement,
            r.mean_fit_seconds
        );
    }
    if !res.targets.is_empty() {
        s += "\n## Population targets\n\n| DGP | estimator | method | bias (deg) | ± error |\n|---|---|---|---|---|\n";
        for t in &res.targets {
            s += &format!(
                "| {} | {} | {} | {:.4} | {:.1e} |\n",
                t.group, t.estimator, t.method, t.bias_deg, t.error_deg
            );
        }
    }
    s += &format!(
        "\n## Experiment file\n\n```toml\n{}\n```\n",
        e.text.trim_end()
    );
    s
}
