//! A collection of results directories (for example `results/paper/persona/`, one directory per
//! persona population): one `report.md` with the headline table across them.
//!
//! For every population and every n: mean angular error ± MCSE and mean disagreement ± MCSE of
//! each estimator, and the relative reduction of sign's mean error against bt's,
//! 1 − mean(sign)/mean(bt), with a delta-method standard error over replications paired by
//! replication (the verdicts' bootstrap interval is the one the C6 verdict uses, at the largest
//! n). Then each population's symmetry report from its population targets (SPEC §4: is sign's
//! target u*?) and its C5/C6 verdict rows, copied from `verdicts.json`.

use crate::ReportError;
use crate::Results;
use signest_estimator::Family;
use signest_sweep::ResultsDir;
use signest_sweep::results::{EXPERIMENT, REPORT};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The results directories directly under `dir` (those holding an `experiment.toml`), sorted;
/// empty when `dir` is itself a results directory.
pub fn members(dir: &Path) -> Vec<PathBuf> {
    if dir.join(EXPERIMENT).exists() {
        return Vec::new();
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.join(EXPERIMENT).exists())
        .collect();
    v.sort();
    v
}

/// 1 − mean(s)/mean(b) and its delta-method standard error from paired draws (s_i, b_i):
/// se = sd(s_i − R b_i) / (mean(b) √R_reps), R = mean(s)/mean(b).
pub fn relative_reduction(pairs: &[(f64, f64)]) -> (f64, f64) {
    let k = pairs.len() as f64;
    if pairs.len() < 2 {
        return (f64::NAN, f64::NAN);
    }
    let ms = pairs.iter().map(|p| p.0).sum::<f64>() / k;
    let mb = pairs.iter().map(|p| p.1).sum::<f64>() / k;
    let r = ms / mb;
    let lin: Vec<f64> = pairs.iter().map(|(s, b)| s - r * b).collect();
    let ml = lin.iter().sum::<f64>() / k;
    let var = lin.iter().map(|x| (x - ml).powi(2)).sum::<f64>() / (k - 1.0);
    (1.0 - r, var.sqrt() / (mb * k.sqrt()))
}

/// Writes `dir/report.md` for a collection; returns its text.
pub fn collection_report(dir: &Path) -> Result<String, ReportError> {
    let members = members(dir);
    if members.is_empty() {
        return Err(ReportError::Input(format!(
            "{}: neither a results directory (no experiment.toml) nor a collection of them",
            dir.display()
        )));
    }
    let name = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut md = format!(
        "# {name}: headline table\n\nProduced by `signest report {}` from the results directories below \
         (each made by `signest run`, `signest verify` and `signest report`; their own report.md has \
         the figures). Angular error (and, for anisotropic features, the Σ-weighted angle) in degrees, disagreement in percent of test pairs, both as mean ± \
         MCSE over replications. Reduction = 1 − mean(sign)/mean(bt) (positive: sign better) ± its \
         delta-method SE over paired replications; the C6 verdict uses a paired bootstrap at the \
         largest n.\n\n",
        dir.display()
    );
    let mut verdict_md = String::new();
    let mut symmetry_md = String::from(
        "## Symmetry (SPEC §4) from population targets\n\n| population | bt target bias (deg) | sign target bias (deg) | reading |\n|---|---|---|---|\n",
    );
    for m in &members {
        let res = Results::load(m)?;
        let e = &res.experiment;
        let rel = m.file_name().unwrap().to_string_lossy();
        md += &format!(
            "## {} ([{rel}/report.md]({rel}/report.md))\n\n{}\n\n",
            e.name, e.description
        );
        // Estimators in the order of the experiment file.
        let mut labels: Vec<String> = Vec::new();
        for r in &res.summary {
            if !labels.contains(&r.estimator) {
                labels.push(r.estimator.clone());
            }
        }
        let sign = labels
            .iter()
            .find(|l| res.family(l) == Some(Family::Sign))
            .cloned();
        let bt = labels
            .iter()
            .find(|l| res.family(l) == Some(Family::Bt))
            .cloned();
        // The Σ-weighted angle, for results that have it and anisotropic features (where it
        // differs from the angle).
        let with_sigma = res
            .summary
            .iter()
            .all(|r| r.mean_sigma_angle_deg.is_finite())
            && res
                .summary
                .iter()
                .any(|r| (r.mean_sigma_angle_deg - r.mean_angular_error_deg).abs() > 1e-6);
        // Several DGP groups (a regime map, a heterogeneity grid): each row names its group.
        let mut cells: Vec<(usize, usize, String)> = res
            .summary
            .iter()
            .map(|r| {
                let index = e.cell(&r.cell).map_or(usize::MAX, |c| c.index);
                (r.n, index, r.cell.clone())
            })
            .collect();
        cells.sort();
        cells.dedup();
        let groups = {
            let mut g: Vec<&str> = cells
                .iter()
                .map(|c| signest_sweep::spec::group_of(&c.2))
                .collect();
            g.sort();
            g.dedup();
            g.len()
        };
        md += if groups > 1 { "| n | DGP |" } else { "| n |" };
        for l in &labels {
            if with_sigma {
                md += &format!(" {l} error | {l} Σ-angle | {l} disagr. % |");
            } else {
                md += &format!(" {l} error | {l} disagr. % |");
            }
        }
        md += " reduction sign vs bt |\n|---|";
        if groups > 1 {
            md += "---|";
        }
        md += &(if with_sigma {
            "---|---|---|"
        } else {
            "---|---|"
        })
        .repeat(labels.len());
        md += "---|\n";
        for (n, _, cell) in &cells {
            md += &format!("| {n} |");
            if groups > 1 {
                md += &format!(" {} |", signest_sweep::spec::group_of(cell));
            }
            for l in &labels {
                match res
                    .summary
                    .iter()
                    .find(|r| &r.cell == cell && &r.estimator == l)
                {
                    Some(r) => {
                        md += &format!(
                            " {:.2} ± {:.2} |",
                            r.mean_angular_error_deg, r.mcse_angular_error_deg
                        );
                        if with_sigma {
                            md += &format!(
                                " {:.2} ± {:.2} |",
                                r.mean_sigma_angle_deg, r.mcse_sigma_angle_deg
                            );
                        }
                        md += &format!(
                            " {:.2} ± {:.2} |",
                            100.0 * r.mean_disagreement,
                            100.0 * r.mcse_disagreement
                        )
                    }
                    None => {
                        md += if with_sigma {
                            " – | – | – |"
                        } else {
                            " – | – |"
                        }
                    }
                }
            }
            let red = match (&sign, &bt) {
                (Some(s), Some(b)) => {
                    let mut by_rep: BTreeMap<u64, (Option<f64>, Option<f64>)> = BTreeMap::new();
                    for r in res.rows.iter().filter(|r| &r.cell == cell) {
                        let slot = by_rep.entry(r.replication).or_default();
                        if &r.estimator == s {
                            slot.0 = r.angular_error_deg;
                        } else if &r.estimator == b {
                            slot.1 = r.angular_error_deg;
                        }
                    }
                    let pairs: Vec<(f64, f64)> = by_rep
                        .values()
                        .filter_map(|(a, b)| Some(((*a)?, (*b)?)))
                        .collect();
                    let (v, se) = relative_reduction(&pairs);
                    format!(" {:+.0}% ± {:.0}% |", 100.0 * v, 100.0 * se)
                }
                _ => " – |".into(),
            };
            md += &red;
            md += "\n";
        }
        md += "\n";
        let bias = |k: &str| {
            res.targets
                .iter()
                .find(|t| t.estimator == k)
                .map(|t| (t.bias_deg, t.error_deg, t.method.clone()))
        };
        match (bias("bt"), bias("sign")) {
            (Some(b), Some(s)) => {
                let identified = s.0 <= 3.0 * s.1 + 0.01;
                symmetry_md += &format!(
                    "| {} | {:.3} ± {:.3} ({}) | {:.3} ± {:.3} ({}) | {} |\n",
                    e.name,
                    b.0,
                    b.1,
                    b.2,
                    s.0,
                    s.1,
                    s.2,
                    if identified {
                        "symmetry holds: sign's target is u*, bt's is not".to_string()
                    } else if s.0 < b.0 {
                        "symmetry VIOLATED: sign's limit is off u*, but nearer than bt's"
                            .to_string()
                    } else {
                        "symmetry VIOLATED: sign's limit is further from u* than bt's".to_string()
                    }
                );
            }
            _ => {
                symmetry_md += &format!(
                    "| {} | – | – | no targets.csv: run `signest verify` |\n",
                    e.name
                )
            }
        }
        let vj = std::fs::read_to_string(m.join(signest_sweep::results::VERDICTS_JSON))
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok());
        if let Some(v) = vj.as_ref().and_then(|v| v["verdicts"].as_array().cloned()) {
            for r in v
                .iter()
                .filter(|r| matches!(r["claim"].as_str(), Some("C5") | Some("C6")))
            {
                verdict_md += &format!(
                    "| {} | {} | {} | {} | {:.4} [{:.4}, {:.4}] | {} | {} |\n",
                    e.name,
                    r["claim"].as_str().unwrap_or(""),
                    r["estimator"].as_str().unwrap_or(""),
                    r["statistic"].as_str().unwrap_or(""),
                    r["value"].as_f64().unwrap_or(f64::NAN),
                    r["lo"].as_f64().unwrap_or(f64::NAN),
                    r["hi"].as_f64().unwrap_or(f64::NAN),
                    if r["pass"].as_bool() == Some(true) {
                        "pass"
                    } else {
                        "fail"
                    },
                    r["reason"].as_str().unwrap_or("")
                );
            }
        }
    }
    md += &symmetry_md;
    md += "\n## Verdicts (C5 symmetry, C6 headline)\n\n| population | claim | estimators | statistic | value [95% CI] | verdict | reason |\n|---|---|---|---|---|---|---|\n";
    if verdict_md.is_empty() {
        md += "| – | – | – | no verdicts.json: run `signest verify` in each directory | – | – | – |\n";
    } else {
        md += &verdict_md;
    }
    ResultsDir::new(dir).write(REPORT, md.as_bytes())?;
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::relative_reduction;

    /// Against an independent computation: with sign = 0.65·bt exactly, the reduction is 35%
    /// with zero SE; with noise the SE matches the textbook ratio-estimator formula computed
    /// by hand on three points.
    #[test]
    fn reduction_and_se() {
        let p: Vec<(f64, f64)> = (1..20).map(|i| (0.65 * i as f64, i as f64)).collect();
        let (v, se) = relative_reduction(&p);
        assert!((v - 0.35).abs() < 1e-12 && se.abs() < 1e-12);
        // s = (1, 2, 6), b = (2, 2, 2): R = 1.5, s − R b = (−2, −1, 3), sd = √7,
        // se = √7 / (2 √3).
        let (v, se) = relative_reduction(&[(1.0, 2.0), (2.0, 2.0), (6.0, 2.0)]);
        assert!((v + 0.5).abs() < 1e-12);
        assert!((se - 7f64.sqrt() / (2.0 * 3f64.sqrt())).abs() < 1e-12);
    }
}
