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
//!
//! Colours are fixed per estimator (Okabe–Ito palette), the same in every figure.
//!
//! A directory that holds results directories instead (e.g. `results/paper/persona/`) gets a
//! headline `report.md` across them: see [`collection`].

pub mod collection;
mod figures;
mod style;

pub use figures::{Figure, Format, render_all};

use signest_sweep::{Experiment, SummaryRow};
use signest_theory::files::{TheoryError, read_targets};
use signest_theory::verdict::TargetRow;
use std::path::Path;

/// Everything a report is drawn from, read from a results directory.
pub struct Results {
    pub experiment: Experiment,
    pub summary: Vec<SummaryRow>,
    pub rows: Vec<signest_sweep::Row>,
    pub targets: Vec<TargetRow>,
    pub verdicts_md: Option<String>,
    pub manifest: Option<serde_json::Value>,
}

fn input(m: String) -> TheoryError {
    TheoryError {
        code: 2,
        message: m,
    }
}

impl Results {
    /// Reads `experiment.toml`, `runs.csv`, `summary.csv` and, when present, `targets.csv`,
    /// `verdicts.md` and `manifest.json`.
    pub fn load(dir: &Path) -> Result<Results, TheoryError> {
        let need = |f: &str| {
            let p = dir.join(f);
            if p.exists() {
                Ok(p)
            } else {
                Err(input(format!(
                    "{}: missing {f} (is this a finished `signest run` directory?)",
                    dir.display()
                )))
            }
        };
        let experiment =
            Experiment::from_file(&need("experiment.toml")?).map_err(|e| input(e.to_string()))?;
        let rows =
            signest_sweep::output::read_runs(&need("runs.csv")?).map_err(|e| input(e.message))?;
        let sp = need("summary.csv")?;
        let mut r =
            csv::Reader::from_path(&sp).map_err(|e| input(format!("{}: {e}", sp.display())))?;
        let summary = r
            .deserialize()
            .collect::<Result<Vec<SummaryRow>, _>>()
            .map_err(|e| input(format!("{}: {e}", sp.display())))?;
        let tp = dir.join("targets.csv");
        let targets = if tp.exists() {
            read_targets(&tp)?
        } else {
            Vec::new()
        };
        let verdicts_md = std::fs::read_to_string(dir.join("verdicts.md")).ok();
        let manifest = std::fs::read_to_string(dir.join("manifest.json"))
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok());
        Ok(Results {
            experiment,
            summary,
            rows,
            targets,
            verdicts_md,
            manifest,
        })
    }
}

/// Writes the figures and `report.md` into `dir`; returns the figures written.
pub fn report(dir: &Path, formats: &[Format]) -> Result<Vec<Figure>, TheoryError> {
    let res = Results::load(dir)?;
    let figs = render_all(&res, dir, formats)?;
    let md = report_md(&res, &figs, dir);
    signest_sweep::run::write_atomic(&dir.join("report.md"), md.as_bytes()).map_err(|e| {
        TheoryError {
            code: 1,
            message: e.message,
        }
    })?;
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
        s += &format!(
            "Manifest: signest {}, git {}, {} threads, {} work units, wall time {:.0} s (experiment hash {}).\n",
            m["signest_version"].as_str().unwrap_or("?"),
            m["git"]["commit"].as_str().unwrap_or("unknown"),
            m["threads"],
            m["units_total"],
            m["stages_seconds"]["total"].as_f64().unwrap_or(f64::NAN),
            m["experiment"]["hash_fnv1a64"].as_str().unwrap_or("?"),
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
