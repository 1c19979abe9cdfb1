//! Statistics on sweep results, each with an interval.
//!
//! Results are grouped into *series*: the cells that share everything but n (d,
//! heterogeneity, type_weight), sorted by n. Within a cell, replications are aligned across
//! estimators (all estimators of a replication saw the same data), so every bootstrap
//! resamples replication indices *jointly* for all estimators of a cell, independently across
//! cells. Intervals are bootstrap percentile intervals (default 2,000 resamples, 95%), drawn
//! from the seeding contract's streams, so they are reproducible to the bit.
//!
//! - [`rate`]: slope b of log(mean angular error) on log n (ordinary least squares over the
//!   largest-n part of the series).
//! - [`plateau`]: the fit error ≈ c + a·n^(−b) (weighted least squares, weights 1/MCSE², b
//!   profiled over [0.05, 2]); c is the asymptotic error (0 for a consistent estimator, the
//!   bias for an inconsistent one).
//! - [`crossover`]: the smallest n from which one estimator's mean error is below another's
//!   with confidence (paired difference of means + 1.96 SE < 0 at that n and every larger n).

use rand::RngExt;
use signest_sweep::Row;
use std::collections::BTreeMap;

/// One cell of a series: errors per estimator, aligned by replication.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesCell {
    pub key: String,
    pub n: usize,
    pub d: usize,
    pub heterogeneity: f64,
    pub type_weight: Option<f64>,
    /// Replications in which every estimator of the experiment succeeded.
    pub reps: Vec<u64>,
    /// estimator label → angular errors (degrees), one per entry of `reps`.
    pub errors: BTreeMap<String, Vec<f64>>,
    /// estimator label → disagreement with u* (fraction), one per entry of `reps`.
    pub disagreement: BTreeMap<String, Vec<f64>>,
    /// estimator label → Σ-weighted angle (degrees; NaN in runs written before it).
    pub sigma_angle: BTreeMap<String, Vec<f64>>,
}

impl SeriesCell {
    /// Whether the cell has rows of this estimator (a study may list one that never ran).
    pub fn has(&self, est: &str) -> bool {
        self.errors.contains_key(est)
    }
    pub fn mean(&self, est: &str) -> f64 {
        let e = &self.errors[est];
        e.iter().sum::<f64>() / e.len() as f64
    }
    pub fn mcse(&self, est: &str) -> f64 {
        let e = &self.errors[est];
        let m = self.mean(est);
        let n = e.len() as f64;
        (e.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt()
    }
    /// Mean over the replications `idx` of `est`'s errors.
    pub fn resampled_mean(&self, est: &str, idx: &[usize]) -> f64 {
        let e = &self.errors[est];
        idx.iter().map(|i| e[*i]).sum::<f64>() / idx.len() as f64
    }
}

impl SeriesCell {
    /// Mean over the replications `idx` of `est`'s Σ-weighted angle.
    pub fn resampled_sigma_angle(&self, est: &str, idx: &[usize]) -> f64 {
        let e = &self.sigma_angle[est];
        idx.iter().map(|i| e[*i]).sum::<f64>() / idx.len() as f64
    }
    /// Mean over the replications `idx` of `est`'s disagreement.
    pub fn resampled_disagreement(&self, est: &str, idx: &[usize]) -> f64 {
        let e = &self.disagreement[est];
        idx.iter().map(|i| e[*i]).sum::<f64>() / idx.len() as f64
    }
}

/// Groups rows into cells (in first-appearance order), dropping replications where any
/// estimator failed.
pub fn cells(rows: &[Row]) -> Vec<SeriesCell> {
    let mut order: Vec<String> = Vec::new();
    let mut by: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        if !by.contains_key(&r.cell) {
            order.push(r.cell.clone());
        }
        by.entry(r.cell.clone()).or_default().push(r);
    }
    order
        .into_iter()
        .map(|k| {
            let rs = &by[&k];
            let ests: Vec<String> = {
                let mut v: Vec<String> = Vec::new();
                for r in rs {
                    if !v.contains(&r.estimator) {
                        v.push(r.estimator.clone());
                    }
                }
                v
            };
            let mut per_rep: BTreeMap<u64, BTreeMap<String, (f64, f64, f64)>> = BTreeMap::new();
            for r in rs {
                if let Some(e) = r.angular_error_deg {
                    per_rep.entry(r.replication).or_default().insert(
                        r.estimator.clone(),
                        (
                            e,
                            r.disagreement.unwrap_or(f64::NAN),
                            r.sigma_angle_deg.unwrap_or(f64::NAN),
                        ),
                    );
                }
            }
            let reps: Vec<u64> = per_rep
                .iter()
                .filter(|(_, m)| m.len() == ests.len())
                .map(|(r, _)| *r)
                .collect();
            let errors = ests
                .iter()
                .map(|e| (e.clone(), reps.iter().map(|r| per_rep[r][e].0).collect()))
                .collect();
            let disagreement = ests
                .iter()
                .map(|e| (e.clone(), reps.iter().map(|r| per_rep[r][e].1).collect()))
                .collect();
            let sigma_angle = ests
                .iter()
                .map(|e| (e.clone(), reps.iter().map(|r| per_rep[r][e].2).collect()))
                .collect();
            let f = rs[0];
            SeriesCell {
                key: k,
                n: f.n,
                d: f.d,
                heterogeneity: f.heterogeneity,
                type_weight: f.type_weight,
                reps,
                errors,
                disagreement,
                sigma_angle,
            }
        })
        .collect()
}

/// Cells of one DGP group (they differ only in n), sorted by n.
#[derive(Debug, Clone)]
pub struct Series {
    /// The DGP group (the cell key without its n part, as in targets.csv).
    pub group: String,
    pub d: usize,
    pub heterogeneity: f64,
    pub type_weight: Option<f64>,
    pub cells: Vec<SeriesCell>,
}

impl Series {
    /// Text naming the series, e.g. `d=2, heterogeneity=1`.
    pub fn label(&self) -> String {
        self.group.replace('/', ", ")
    }
}

pub fn series(cells: &[SeriesCell]) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for c in cells {
        let group = signest_sweep::spec::group_of(&c.key);
        match out.iter_mut().find(|s| s.group == group) {
            Some(s) => s.cells.push(c.clone()),
            None => out.push(Series {
                group: group.to_string(),
                d: c.d,
                heterogeneity: c.heterogeneity,
                type_weight: c.type_weight,
                cells: vec![c.clone()],
            }),
        }
    }
    for s in &mut out {
        s.cells.sort_by_key(|c| c.n);
    }
    out
}

/// A statistic with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    pub value: f64,
    pub lo: f64,
    pub hi: f64,
    /// Standard error of `value`: the standard deviation of the finite bootstrap draws (for a
    /// population target, its stated numerical error; NaN when the statistic has none). The
    /// gate measures changes against a baseline in these units.
    #[serde(default = "nan")]
    pub se: f64,
}

/// Serde default of a missing float column.
pub(crate) fn nan() -> f64 {
    f64::NAN
}

impl Interval {
    /// Whether `x` lies in [lo, hi].
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// Bootstrap settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bootstrap {
    pub resamples: usize,
    /// Coverage of the percentile interval, e.g. 0.95.
    pub level: f64,
    pub seed: u64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap {
            resamples: 2000,
            level: 0.95,
            seed: 0xb007,
        }
    }
}

/// Percentile bootstrap of `stat` over `cells`; `stat` receives, per cell, the replication
/// indices to use. `tag` keys the random stream, so different statistics use different draws.
pub fn bootstrap(
    cells: &[&SeriesCell],
    b: &Bootstrap,
    tag: &str,
    stat: impl Fn(&[Vec<usize>]) -> f64 + Sync,
) -> Interval {
    let ident: Vec<Vec<usize>> = cells.iter().map(|c| (0..c.reps.len()).collect()).collect();
    let value = stat(&ident);
    let mut rng = signest_core::seed::stream(b.seed, &format!("signest/bootstrap/{tag}"), 0);
    let mut draws: Vec<f64> = (0..b.resamples)
        .map(|_| {
            let idx: Vec<Vec<usize>> = cells
                .iter()
                .map(|c| {
                    let m = c.reps.len();
                    (0..m).map(|_| rng.random_range(0..m)).collect()
                })
                .collect();
            stat(&idx)
        })
        .filter(|x| x.is_finite())
        .collect();
    draws.sort_by(f64::total_cmp);
    let a = (1.0 - b.level) / 2.0;
    Interval {
        value,
        lo: signest_sweep::output::quantile(&draws, a),
        hi: signest_sweep::output::quantile(&draws, 1.0 - a),
        se: signest_sweep::output::sample_variance(&draws).sqrt(),
    }
}

fn ols_slope(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    sxy / sxx
}

/// The cells used for a rate fit: n ≥ `min_n` if given, else the upper half of the series'
/// n values (at least 3 cells when the series has 3).
pub fn rate_cells(s: &Series, min_n: Option<usize>) -> Vec<&SeriesCell> {
    match min_n {
        Some(m) => s.cells.iter().filter(|c| c.n >= m).collect(),
        None => {
            let k = s.cells.len();
            let take = (k.div_ceil(2)).max(3.min(k));
            s.cells[k - take..].iter().collect()
        }
    }
}

/// Slope of log mean error on log `x(cell)` (x = n or d) for `est`.
pub fn log_slope(
    cells: &[&SeriesCell],
    est: &str,
    x: impl Fn(&SeriesCell) -> f64 + Sync,
    b: &Bootstrap,
    tag: &str,
) -> Interval {
    let lx: Vec<f64> = cells.iter().map(|c| x(c).ln()).collect();
    bootstrap(cells, b, tag, |idx| {
        let ly: Vec<f64> = cells
            .iter()
            .zip(idx)
            .map(|(c, i)| c.resampled_mean(est, i).ln())
            .collect();
        ols_slope(&lx, &ly)
    })
}

/// Least squares of y on [1, x1, x2]: the coefficients (a1, a2) of x1 and x2.
fn ols2(x1: &[f64], x2: &[f64], y: &[f64]) -> (f64, f64) {
    let m = y.len() as f64;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / m;
    let (m1, m2, my) = (mean(x1), mean(x2), mean(y));
    let (mut s11, mut s12, mut s22, mut s1y, mut s2y) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for k in 0..y.len() {
        let (a, b, c) = (x1[k] - m1, x2[k] - m2, y[k] - my);
        s11 += a * a;
        s12 += a * b;
        s22 += b * b;
        s1y += a * c;
        s2y += b * c;
    }
    let det = s11 * s22 - s12 * s12;
    ((s22 * s1y - s12 * s2y) / det, (s11 * s2y - s12 * s1y) / det)
}

/// The joint fit log mean error = c + a·log d + b·log n over `cells` (several d and n), for
/// `est`: (a, b), each with its percentile bootstrap interval (replications resampled within
/// cells; both from the same draws). NaN when the cells do not vary in both d and n.
pub fn joint_rate(
    cells: &[&SeriesCell],
    est: &str,
    b: &Bootstrap,
    tag: &str,
) -> (Interval, Interval) {
    let ld: Vec<f64> = cells.iter().map(|c| (c.d as f64).ln()).collect();
    let ln: Vec<f64> = cells.iter().map(|c| (c.n as f64).ln()).collect();
    let fit = |idx: &[Vec<usize>]| {
        let ly: Vec<f64> = cells
            .iter()
            .zip(idx)
            .map(|(c, i)| c.resampled_mean(est, i).ln())
            .collect();
        ols2(&ld, &ln, &ly)
    };
    (
        bootstrap(cells, b, tag, |idx| fit(idx).0),
        bootstrap(cells, b, tag, |idx| fit(idx).1),
    )
}

/// Rate: slope of log mean error on log n.
pub fn rate(cells: &[&SeriesCell], est: &str, b: &Bootstrap, tag: &str) -> Interval {
    log_slope(cells, est, |c| c.n as f64, b, tag)
}

/// Difference of two estimators' rate slopes (first minus second), paired bootstrap.
pub fn rate_difference(
    cells: &[&SeriesCell],
    e1: &str,
    e2: &str,
    b: &Bootstrap,
    tag: &str,
) -> Interval {
    let lx: Vec<f64> = cells.iter().map(|c| (c.n as f64).ln()).collect();
    bootstrap(cells, b, tag, |idx| {
        let s = |e: &str| {
            let ly: Vec<f64> = cells
                .iter()
                .zip(idx)
                .map(|(c, i)| c.resampled_mean(e, i).ln())
                .collect();
            ols_slope(&lx, &ly)
        };
        s(e1) - s(e2)
    })
}

/// Weighted least squares of y ≈ c + a·n^(−b), b profiled on a grid; returns (c, a, b).
pub fn fit_plateau(n: &[f64], y: &[f64], w: &[f64]) -> (f64, f64, f64) {
    let mut best = (f64::INFINITY, 0.0, 0.0, 0.0);
    for k in 0..=195 {
        let b = 0.05 + 0.01 * k as f64;
        let x: Vec<f64> = n.iter().map(|v| v.powf(-b)).collect();
        // Weighted linear regression of y on (1, x).
        let sw: f64 = w.iter().sum();
        let mx = x.iter().zip(w).map(|(a, w)| a * w).sum::<f64>() / sw;
        let my = y.iter().zip(w).map(|(a, w)| a * w).sum::<f64>() / sw;
        let sxy: f64 = x
            .iter()
            .zip(y)
            .zip(w)
            .map(|((a, c), w)| w * (a - mx) * (c - my))
            .sum();
        let sxx: f64 = x.iter().zip(w).map(|(a, w)| w * (a - mx).powi(2)).sum();
        let a = sxy / sxx;
        let c = my - a * mx;
        let rss: f64 = x
            .iter()
            .zip(y)
            .zip(w)
            .map(|((xi, yi), w)| w * (yi - c - a * xi).powi(2))
            .sum();
        if rss < best.0 {
            best = (rss, c, a, b);
        }
    }
    (best.1, best.2, best.3)
}

/// Plateau c of error ≈ c + a·n^(−b) over all cells of a series, with its bootstrap interval.
pub fn plateau(cells: &[&SeriesCell], est: &str, b: &Bootstrap, tag: &str) -> Interval {
    let n: Vec<f64> = cells.iter().map(|c| c.n as f64).collect();
    let w: Vec<f64> = cells
        .iter()
        .map(|c| 1.0 / c.mcse(est).max(1e-12).powi(2))
        .collect();
    bootstrap(cells, b, tag, |idx| {
        let y: Vec<f64> = cells
            .iter()
            .zip(idx)
            .map(|(c, i)| c.resampled_mean(est, i))
            .collect();
        fit_plateau(&n, &y, &w).0
    })
}

/// Paired difference of mean errors (e1 − e2) in one cell: (mean, standard error).
pub fn paired_difference(c: &SeriesCell, e1: &str, e2: &str) -> (f64, f64) {
    let a = &c.errors[e1];
    let b = &c.errors[e2];
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let m = d.iter().sum::<f64>() / d.len() as f64;
    let v = d.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (d.len() as f64 - 1.0);
    (m, (v / d.len() as f64).sqrt())
}

/// Smallest n of the series from which `better` has a lower mean error than `worse` with
/// confidence (paired mean difference + 1.96 SE < 0) at that n and every larger n.
pub fn crossover(s: &Series, better: &str, worse: &str) -> Option<usize> {
    let mut first = None;
    for c in s.cells.iter().rev() {
        let (m, se) = paired_difference(c, better, worse);
        if m + 1.96 * se < 0.0 {
            first = Some(c.n);
        } else {
            break;
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plateau_fit_recovers_an_exact_curve() {
        let n: Vec<f64> = [1e2, 1e3, 1e4, 1e5, 1e6].to_vec();
        let y: Vec<f64> = n.iter().map(|v| 2.5 + 40.0 * v.powf(-0.4)).collect();
        let (c, a, b) = fit_plateau(&n, &y, &[1.0; 5]);
        assert!(
            (c - 2.5).abs() < 1e-9 && (a - 40.0).abs() < 1e-7 && (b - 0.4).abs() < 1e-12,
            "{c} {a} {b}"
        );
    }

    #[test]
    fn ols_slope_of_a_power_law() {
        let x: Vec<f64> = [1.0f64, 2.0, 3.0].iter().map(|v| v.ln()).collect();
        let y: Vec<f64> = [1.0f64, 2.0, 3.0]
            .iter()
            .map(|v| (5.0 * v.powf(-1.0 / 3.0)).ln())
            .collect();
        assert!((ols_slope(&x, &y) + 1.0 / 3.0).abs() < 1e-14);
    }
}
