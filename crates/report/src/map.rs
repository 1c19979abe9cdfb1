//! The regime map: at one n and one d, the cells of a grid over two DGP coordinates
//! (heterogeneity, type_weight or `[grid.dgp]` keys), each holding the relative reduction
//! 1 − sign/bt of the mean Euclidean angle and of the mean disagreement, with a paired
//! standard error, and whether the sign estimator's population target leaves u*. Drawn as
//! heatmaps with the 0 and 35% contours (the paper's −35%).
//!
//! Extraction ([`regime_maps`]) is pure and separate from drawing ([`draw`]).

use crate::ReportError;
use crate::Results;
use crate::style;
use plotters::coord::Shift;
use plotters::prelude::*;
use signest_estimator::Family;
use signest_theory::stats::{self, SeriesCell};
use std::path::Path;

/// A sign target further than this from u* (Euclidean angle, degrees) marks its cell: the
/// sign estimator then converges to another direction, and the symmetry assumption of
/// SPEC §4 fails by a visible amount.
pub const TARGET_OFF_DEG: f64 = 1.0;

/// The contour levels drawn: no gain, and the paper's 35%.
pub const LEVELS: [f64; 2] = [0.0, 0.35];

/// A reduction with its standard error over replications.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reduction {
    pub value: f64,
    pub se: f64,
}

/// The paired reduction 1 − mean(s)/mean(b) with its delta-method standard error
/// ([`crate::collection::relative_reduction`]: pairing, both estimators fitting the same data,
/// keeps the common noise out of the error); `None` below two replications or with a
/// non-finite value.
pub fn paired_reduction(s: &[f64], b: &[f64]) -> Option<Reduction> {
    if s.len() < 2 || b.len() != s.len() || s.iter().chain(b).any(|x| !x.is_finite()) {
        return None;
    }
    let pairs: Vec<(f64, f64)> = s.iter().copied().zip(b.iter().copied()).collect();
    let (value, se) = crate::collection::relative_reduction(&pairs);
    (value.is_finite() && se.is_finite()).then_some(Reduction { value, se })
}

/// One cell of a map.
#[derive(Debug, Clone, PartialEq)]
pub struct MapCell {
    pub key: String,
    pub angle: Option<Reduction>,
    pub disagreement: Option<Reduction>,
    /// Euclidean and Σ angle of the sign target from u* (degrees), when targets.csv has it.
    pub sign_target_bias: Option<(f64, f64)>,
    /// The same of bt's target.
    pub bt_target_bias: Option<(f64, f64)>,
}

impl MapCell {
    /// Whether the sign target leaves u* by more than [`TARGET_OFF_DEG`].
    pub fn target_off(&self) -> bool {
        self.sign_target_bias.is_some_and(|b| b.0 > TARGET_OFF_DEG)
    }
}

/// A regime map at one (n, d): `cells[iy][ix]`, `None` where the grid has no such cell.
#[derive(Debug, Clone, PartialEq)]
pub struct RegimeMap {
    pub n: usize,
    pub d: usize,
    pub x_name: String,
    pub xs: Vec<f64>,
    pub y_name: String,
    pub ys: Vec<f64>,
    pub sign: String,
    pub bt: String,
    pub cells: Vec<Vec<Option<MapCell>>>,
}

/// The coordinates of a cell besides n and d, in a fixed order.
fn coordinates(c: &signest_sweep::spec::Cell) -> Vec<(String, f64)> {
    let mut v = vec![("heterogeneity".to_string(), c.heterogeneity)];
    if let Some(t) = c.type_weight {
        v.push(("type_weight".into(), t));
    }
    v.extend(c.dgp.iter().cloned());
    v
}

/// The regime maps the results support: for each d, at the largest n, when exactly two
/// coordinates vary (each over ≥ 2 values) and the experiment has a sign-family and a
/// bt-family estimator (the first of each, in file order).
pub fn regime_maps(res: &Results) -> Vec<RegimeMap> {
    let exp = &res.experiment;
    let first = |f: Family| {
        exp.estimators
            .iter()
            .find(|e| e.kind.family == f)
            .map(|e| e.label.clone())
    };
    let (Some(sign), Some(bt)) = (first(Family::Sign), first(Family::Bt)) else {
        return Vec::new();
    };
    let cells = stats::cells(&res.rows);
    let mut ds: Vec<usize> = exp.cells.iter().map(|c| c.d).collect();
    ds.sort();
    ds.dedup();
    let mut out = Vec::new();
    for d in ds {
        let Some(n) = exp.cells.iter().filter(|c| c.d == d).map(|c| c.n).max() else {
            continue;
        };
        let at: Vec<&signest_sweep::spec::Cell> =
            exp.cells.iter().filter(|c| c.d == d && c.n == n).collect();
        let names: Vec<String> = coordinates(at[0]).into_iter().map(|x| x.0).collect();
        let values = |name: &str| -> Vec<f64> {
            let mut v: Vec<f64> = at
                .iter()
                .filter_map(|c| coordinates(c).into_iter().find(|x| x.0 == name))
                .map(|x| x.1)
                .collect();
            v.sort_by(f64::total_cmp);
            v.dedup();
            v
        };
        let varying: Vec<&String> = names.iter().filter(|k| values(k).len() >= 2).collect();
        if varying.len() != 2 {
            continue;
        }
        let (xn, yn) = (varying[0].clone(), varying[1].clone());
        let (xs, ys) = (values(&xn), values(&yn));
        let value_of = |c: &signest_sweep::spec::Cell, k: &str| {
            coordinates(c)
                .into_iter()
                .find(|x| x.0 == k)
                .map(|x| x.1)
                .unwrap_or(f64::NAN)
        };
        let target = |group: &str, name: &str| {
            res.targets
                .iter()
                .find(|t| t.group == group && t.estimator == name)
                .map(|t| (t.bias_deg, t.sigma_bias_deg))
        };
        let grid = ys
            .iter()
            .map(|y| {
                xs.iter()
                    .map(|x| {
                        let c = at
                            .iter()
                            .find(|c| value_of(c, &xn) == *x && value_of(c, &yn) == *y)?;
                        let sc: Option<&SeriesCell> = cells.iter().find(|s| s.key == c.key);
                        let red = |m: &dyn Fn(&SeriesCell, &str) -> Option<Vec<f64>>| {
                            let s = sc?;
                            paired_reduction(&m(s, &sign)?, &m(s, &bt)?)
                        };
                        Some(MapCell {
                            key: c.key.clone(),
                            angle: red(&|s, e| s.errors.get(e).cloned()),
                            disagreement: red(&|s, e| s.disagreement.get(e).cloned()),
                            sign_target_bias: target(c.group(), "sign"),
                            bt_target_bias: target(c.group(), "bt"),
                        })
                    })
                    .collect()
            })
            .collect();
        out.push(RegimeMap {
            n,
            d,
            x_name: xn,
            xs,
            y_name: yn,
            ys,
            sign: sign.clone(),
            bt: bt.clone(),
            cells: grid,
        });
    }
    out
}

/// Contour segments of `level` through values at integer grid points (`v[iy][ix]`), by
/// marching squares with linear interpolation along each edge; coordinates are (ix, iy) as
/// reals. A square with a missing corner draws nothing; a saddle draws both pairs of
/// crossings in edge order.
pub fn contour(v: &[Vec<Option<f64>>], level: f64) -> Vec<[(f64, f64); 2]> {
    let mut segs = Vec::new();
    for iy in 0..v.len().saturating_sub(1) {
        for ix in 0..v[iy].len().saturating_sub(1) {
            let corner = |dx: usize, dy: usize| v[iy + dy].get(ix + dx).copied().flatten();
            let (Some(a), Some(b), Some(c), Some(d)) =
                (corner(0, 0), corner(1, 0), corner(1, 1), corner(0, 1))
            else {
                continue;
            };
            // Corners in order around the square, and the edges between them.
            let p = [
                ((ix as f64, iy as f64), a),
                ((ix as f64 + 1.0, iy as f64), b),
                ((ix as f64 + 1.0, iy as f64 + 1.0), c),
                ((ix as f64, iy as f64 + 1.0), d),
            ];
            let mut hits = Vec::new();
            for k in 0..4 {
                let (p0, v0) = p[k];
                let (p1, v1) = p[(k + 1) % 4];
                if (v0 < level) != (v1 < level) {
                    let t = (level - v0) / (v1 - v0);
                    hits.push((p0.0 + t * (p1.0 - p0.0), p0.1 + t * (p1.1 - p0.1)));
                }
            }
            for pair in hits.chunks_exact(2) {
                segs.push([pair[0], pair[1]]);
            }
        }
    }
    segs
}

/// Fill colour of a reduction: white at 0, Okabe–Ito blue towards +1 (sign better),
/// vermillion towards −1 (sign worse); beyond ±1 saturated.
fn fill(r: f64) -> RGBColor {
    let t = r.clamp(-1.0, 1.0).abs();
    let (tr, tg, tb) = if r >= 0.0 {
        (0.0, 114.0, 178.0)
    } else {
        (213.0, 94.0, 0.0)
    };
    let mix = |c: f64| (255.0 + t * (c - 255.0)).round() as u8;
    RGBColor(mix(tr), mix(tg), mix(tb))
}

fn tick(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn draw_one<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    m: &RegimeMap,
    metric: &dyn Fn(&MapCell) -> Option<Reduction>,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let (nx, ny) = (m.xs.len() as f64, m.ys.len() as f64);
    let mut chart = ChartBuilder::on(&root)
        .margin_top(18)
        .margin_right(30)
        .margin_left(10)
        .margin_bottom(10)
        .x_label_area_size(90)
        .y_label_area_size(120)
        .build_cartesian_2d(-0.5..nx - 0.5, -0.5..ny - 0.5)
        .map_err(e)?;
    // Ticks fall on cell centres (integers); any other key point the axis picks is unlabelled.
    let at = |v: &[f64], t: f64| {
        if (t - t.round()).abs() < 1e-9 && t >= 0.0 {
            v.get(t.round() as usize)
                .map_or(String::new(), |x| tick(*x))
        } else {
            String::new()
        }
    };
    let (xs, ys) = (m.xs.clone(), m.ys.clone());
    let fx = move |v: &f64| at(&xs, *v);
    let fy = move |v: &f64| at(&ys, *v);
    chart
        .configure_mesh()
        .x_desc(m.x_name.as_str())
        .y_desc(m.y_name.as_str())
        .axis_desc_style((style::FONT, style::AXIS_DESC).into_font())
        .label_style((style::FONT, style::TICK).into_font())
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .x_labels(m.xs.len() + 1)
        .y_labels(m.ys.len() + 1)
        .disable_mesh()
        .draw()
        .map_err(e)?;
    let values: Vec<Vec<Option<f64>>> = m
        .cells
        .iter()
        .map(|row| {
            row.iter()
                .map(|c| c.as_ref().and_then(metric).map(|r| r.value))
                .collect()
        })
        .collect();
    let text = (style::FONT, style::LEGEND).into_font();
    for (iy, row) in m.cells.iter().enumerate() {
        for (ix, c) in row.iter().enumerate() {
            let (x, y) = (ix as f64, iy as f64);
            let Some(c) = c else { continue };
            let r = metric(c);
            let colour = r.map_or(RGBColor(200, 200, 200), |r| fill(r.value));
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                    colour.filled(),
                )))
                .map_err(e)?;
            if c.target_off() {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x - 0.46, y - 0.46), (x + 0.46, y + 0.46)],
                        BLACK.stroke_width(3),
                    )))
                    .map_err(e)?;
            }
            let label = r.map_or("–".to_string(), |r| {
                format!("{:.0}%", 100.0 * r.value).replace('-', "−")
            });
            let dark = r.is_some_and(|r| r.value.abs() > 0.6);
            let style = text.clone().color(if dark { &WHITE } else { &BLACK }).pos(
                plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Center,
                ),
            );
            chart
                .draw_series(std::iter::once(Text::new(label, (x, y), style)))
                .map_err(e)?;
        }
    }
    for (level, dashed) in [(LEVELS[0], false), (LEVELS[1], true)] {
        for s in contour(&values, level) {
            let st = BLACK.stroke_width(4);
            if dashed {
                chart
                    .draw_series(DashedLineSeries::new(s.to_vec(), 10, 8, st))
                    .map_err(e)?;
            } else {
                chart
                    .draw_series(std::iter::once(PathElement::new(s.to_vec(), st)))
                    .map_err(e)?;
            }
        }
    }
    root.present().map_err(e)?;
    Ok(())
}

/// The metric a heatmap shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Angle,
    Disagreement,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::Angle => "angle",
            Metric::Disagreement => "disagreement",
        }
    }
    fn of(self, c: &MapCell) -> Option<Reduction> {
        match self {
            Metric::Angle => c.angle,
            Metric::Disagreement => c.disagreement,
        }
    }
}

/// A written heatmap.
pub struct MapFigure {
    pub stem: String,
    pub metric: Metric,
    pub files: Vec<String>,
}

/// Writes the two heatmaps of a map (angle, disagreement).
pub fn draw(
    m: &RegimeMap,
    dir: &Path,
    formats: &[crate::Format],
) -> Result<Vec<MapFigure>, ReportError> {
    style::register_font();
    let mut out = Vec::new();
    for which in [Metric::Angle, Metric::Disagreement] {
        let name = which.name();
        let metric = &|c: &MapCell| which.of(c);
        let stem = format!("regime_{name}_n{}_d{}", m.n, m.d);
        let mut files = Vec::new();
        for f in formats {
            let ext = f.ext();
            let file = format!("{stem}.{ext}");
            let tmp = dir.join(format!(".{stem}.tmp.{ext}"));
            let err = |s: String| ReportError::Failed(format!("{file}: {s}"));
            match f {
                crate::Format::Png => draw_one(
                    BitMapBackend::new(&tmp, (style::WIDTH, style::HEIGHT)).into_drawing_area(),
                    m,
                    metric,
                )
                .map_err(err)?,
                crate::Format::Svg => {
                    let mut s = String::new();
                    draw_one(
                        SVGBackend::with_string(&mut s, (style::WIDTH, style::HEIGHT))
                            .into_drawing_area(),
                        m,
                        metric,
                    )
                    .map_err(err)?;
                    std::fs::write(&tmp, s).map_err(|e| err(e.to_string()))?;
                }
            }
            std::fs::rename(&tmp, dir.join(&file)).map_err(|e| err(e.to_string()))?;
            files.push(file);
        }
        out.push(MapFigure {
            stem,
            metric: which,
            files,
        });
    }
    Ok(out)
}

/// The map's numbers as a markdown table (one row per cell).
pub fn table(m: &RegimeMap) -> String {
    let pct = |r: Option<Reduction>| {
        r.map_or("–".into(), |r| {
            format!("{:.1}% ± {:.1}", 100.0 * r.value, 100.0 * r.se)
        })
    };
    let deg =
        |b: Option<(f64, f64)>| b.map_or("–".into(), |b| format!("{:.2}° / {:.2}°", b.0, b.1));
    let mut s = format!(
        "| {} | {} | angle 1 − {}/{} ± se | disagreement 1 − {}/{} ± se | sign target (angle / Σ-angle from u*) | bt target |\n|---|---|---|---|---|---|\n",
        m.x_name, m.y_name, m.sign, m.bt, m.sign, m.bt
    );
    for (iy, row) in m.cells.iter().enumerate() {
        for (ix, c) in row.iter().enumerate() {
            let Some(c) = c else { continue };
            s += &format!(
                "| {} | {} | {} | {} | {}{} | {} |\n",
                tick(m.xs[ix]),
                tick(m.ys[iy]),
                pct(c.angle),
                pct(c.disagreement),
                deg(c.sign_target_bias),
                if c.target_off() { " (off u*)" } else { "" },
                deg(c.bt_target_bias),
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_reduction_refuses_what_it_cannot_estimate() {
        let p = paired_reduction(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap();
        assert!((p.value - 0.5).abs() < 1e-15 && p.se < 1e-15);
        assert!(paired_reduction(&[1.0], &[2.0]).is_none());
        assert!(paired_reduction(&[1.0, f64::NAN], &[2.0, 1.0]).is_none());
        assert!(paired_reduction(&[1.0, 2.0], &[2.0]).is_none());
    }

    #[test]
    fn contour_of_a_linear_field_is_the_level_line() {
        // v = x − 1.5 on a 4 × 3 grid: the 0 contour is the vertical line x = 1.5.
        let v: Vec<Vec<Option<f64>>> = (0..3)
            .map(|_| (0..4).map(|x| Some(x as f64 - 1.5)).collect())
            .collect();
        let segs = contour(&v, 0.0);
        assert_eq!(segs.len(), 2);
        for s in &segs {
            for p in s {
                assert!((p.0 - 1.5).abs() < 1e-12);
            }
        }
        // A level outside the values draws nothing; a missing corner skips its squares.
        assert!(contour(&v, 5.0).is_empty());
        let mut w = v.clone();
        w[0][1] = None;
        assert_eq!(contour(&w, 0.0).len(), 1);
    }
}
