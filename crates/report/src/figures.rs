//! The figures: data extraction (from summaries, verdict statistics and targets) and one
//! generic plotting routine over PNG and SVG backends.

use crate::ReportError;
use crate::Results;
use crate::style;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use signest_estimator::Family;
use signest_theory::stats;
use std::path::Path;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Svg,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.trim() {
            "png" => Some(Format::Png),
            "svg" => Some(Format::Svg),
            _ => None,
        }
    }
    pub(crate) fn ext(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Svg => "svg",
        }
    }
}

/// A written figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub stem: String,
    pub title: String,
    pub caption: String,
    /// File names written (relative to the results directory).
    pub files: Vec<String>,
    /// Legend entries, in order.
    pub legend: Vec<String>,
}

/// The x value of a summary row on the disagreement figure.
type XFun = Box<dyn Fn(&signest_sweep::SummaryRow) -> f64>;

/// One drawn series.
struct Line {
    label: String,
    colour: RGBColor,
    pts: Vec<(f64, f64)>,
    /// (x, lo, hi) for a shaded band.
    band: Vec<(f64, f64, f64)>,
    /// (x, lo, hi) for error bars.
    bars: Vec<(f64, f64, f64)>,
    dashed: bool,
    markers: bool,
    in_legend: bool,
}

impl Line {
    fn new(label: impl Into<String>, colour: RGBColor, pts: Vec<(f64, f64)>) -> Line {
        Line {
            label: label.into(),
            colour,
            pts,
            band: vec![],
            bars: vec![],
            dashed: false,
            markers: true,
            in_legend: true,
        }
    }
}

struct Plot {
    x_desc: String,
    y_desc: String,
    log_x: bool,
    log_y: bool,
    lines: Vec<Line>,
}

fn extent(p: &Plot) -> ((f64, f64), (f64, f64)) {
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for l in &p.lines {
        let ys = l
            .pts
            .iter()
            .map(|q| q.1)
            .chain(l.band.iter().flat_map(|b| [b.1, b.2]))
            .chain(l.bars.iter().flat_map(|b| [b.1, b.2]));
        for x in l.pts.iter().map(|q| q.0) {
            x0 = x0.min(x);
            x1 = x1.max(x);
        }
        for y in ys.filter(|y| y.is_finite() && (!p.log_y || *y > 0.0)) {
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    if !x0.is_finite() {
        (x0, x1) = (1.0, 10.0);
    }
    if !y0.is_finite() {
        (y0, y1) = (0.1, 1.0);
    }
    // Margins; the top 35% of the plot is left free for the legend.
    if p.log_x {
        (x0, x1) = (x0 / 1.4, x1 * 1.4);
    } else {
        let m = 0.05 * (x1 - x0).max(1e-9);
        (x0, x1) = (x0 - m, x1 + m);
    }
    if p.log_y {
        let r = (y1 / y0).max(2.0);
        (y0, y1) = (y0 / r.powf(0.08), y1 * r.powf(0.8));
    } else {
        let r = (y1 - y0).max(1e-9);
        (y0, y1) = (y0 - 0.05 * r, y1 + 0.8 * r);
        if y0 > 0.0 && y0 < 0.3 * y1 {
            y0 = 0.0;
        }
    }
    ((x0, x1), (y0, y1))
}

fn draw_on<DB, X, Y>(
    root: &DrawingArea<DB, Shift>,
    x: X,
    y: Y,
    p: &Plot,
    xb: (f64, f64),
    yb: (f64, f64),
) -> Result<(), String>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(root)
        .margin_top(18)
        .margin_right(30)
        .margin_left(10)
        .margin_bottom(10)
        .x_label_area_size(90)
        .y_label_area_size(120)
        .build_cartesian_2d(x, y)
        .map_err(e)?;
    let tick = (style::FONT, style::TICK).into_font();
    let desc = (style::FONT, style::AXIS_DESC).into_font();
    let (lx, ly) = (p.log_x, p.log_y);
    let (mx, my) = (xb.1 / xb.0 < 100.0, yb.1 / yb.0 < 100.0);
    let fx = move |v: &f64| {
        if lx {
            style::log_label(*v, mx)
        } else {
            trim(*v)
        }
    };
    let fy = move |v: &f64| {
        if ly {
            style::log_label(*v, my)
        } else {
            trim(*v)
        }
    };
    chart
        .configure_mesh()
        .x_desc(p.x_desc.as_str())
        .y_desc(p.y_desc.as_str())
        .axis_desc_style(desc)
        .label_style(tick)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .x_labels(7)
        .y_labels(7)
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .draw()
        .map_err(e)?;
    for l in &p.lines {
        let c = l.colour;
        if !l.band.is_empty() {
            let mut poly: Vec<(f64, f64)> = l.band.iter().map(|b| (b.0, b.1)).collect();
            poly.extend(l.band.iter().rev().map(|b| (b.0, b.2)));
            chart
                .draw_series(std::iter::once(Polygon::new(poly, c.mix(0.18).filled())))
                .map_err(e)?;
        }
        for b in &l.bars {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(b.0, b.1), (b.0, b.2)],
                    c.stroke_width(3),
                )))
                .map_err(e)?;
        }
        let st = ShapeStyle {
            color: c.to_rgba(),
            filled: false,
            stroke_width: 4,
        };
        let anno = if l.dashed {
            chart
                .draw_series(DashedLineSeries::new(l.pts.clone(), 14, 10, st))
                .map_err(e)?
        } else {
            chart
                .draw_series(LineSeries::new(l.pts.clone(), st))
                .map_err(e)?
        };
        if l.in_legend {
            let dashed = l.dashed;
            anno.label(l.label.as_str()).legend(move |(x, y)| {
                let st = ShapeStyle {
                    color: c.to_rgba(),
                    filled: false,
                    stroke_width: 4,
                };
                let g = if dashed {
                    [(0, 11), (19, 30), (38, 44)]
                } else {
                    [(0, 11), (11, 30), (30, 44)]
                };
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(g[0].0, 0), (g[0].1, 0)], st)
                    + PathElement::new(vec![(g[1].0, 0), (g[1].1, 0)], st)
                    + PathElement::new(vec![(g[2].0, 0), (g[2].1, 0)], st)
            });
        }
        if l.markers {
            chart
                .draw_series(l.pts.iter().map(|q| Circle::new(*q, 6, c.filled())))
                .map_err(e)?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((style::FONT, style::LEGEND).into_font())
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .margin(12)
        .legend_area_size(58)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)?;
    Ok(())
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    if s == "-0" { "0".into() } else { s }
}

fn render<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, p: &Plot) -> Result<(), String> {
    let ((x0, x1), (y0, y1)) = extent(p);
    match (p.log_x, p.log_y) {
        (true, true) => draw_on(
            &root,
            (x0..x1)
                .log_scale()
                .with_key_points(style::log_keys(x0, x1)),
            (y0..y1)
                .log_scale()
                .with_key_points(style::log_keys(y0, y1)),
            p,
            (x0, x1),
            (y0, y1),
        ),
        (true, false) => draw_on(
            &root,
            (x0..x1)
                .log_scale()
                .with_key_points(style::log_keys(x0, x1)),
            y0..y1,
            p,
            (x0, x1),
            (y0, y1),
        ),
        (false, true) => draw_on(
            &root,
            x0..x1,
            (y0..y1)
                .log_scale()
                .with_key_points(style::log_keys(y0, y1)),
            p,
            (x0, x1),
            (y0, y1),
        ),
        (false, false) => draw_on(&root, x0..x1, y0..y1, p, (x0, x1), (y0, y1)),
    }
}

fn write(p: &Plot, dir: &Path, stem: &str, formats: &[Format]) -> Result<Vec<String>, ReportError> {
    style::register_font();
    let mut files = Vec::new();
    for f in formats {
        let name = format!("{stem}.{}", f.ext());
        let tmp = dir.join(format!(".{stem}.tmp.{}", f.ext()));
        let err = |m: String| ReportError::Failed(format!("{name}: {m}"));
        match f {
            Format::Png => {
                render(
                    BitMapBackend::new(&tmp, (style::WIDTH, style::HEIGHT)).into_drawing_area(),
                    p,
                )
                .map_err(err)?;
            }
            Format::Svg => {
                let mut s = String::new();
                render(
                    SVGBackend::with_string(&mut s, (style::WIDTH, style::HEIGHT))
                        .into_drawing_area(),
                    p,
                )
                .map_err(err)?;
                std::fs::write(&tmp, s).map_err(|e| err(e.to_string()))?;
            }
        }
        std::fs::rename(&tmp, dir.join(&name)).map_err(|e| err(e.to_string()))?;
        files.push(name);
    }
    Ok(files)
}

fn estimators(res: &Results) -> Vec<String> {
    res.experiment
        .estimators
        .iter()
        .map(|e| e.label.clone())
        .collect()
}

fn target_bias(res: &Results, group: &str, est_label: &str) -> Option<f64> {
    let name = res.target_name(est_label)?;
    res.targets
        .iter()
        .find(|t| t.group == group && t.estimator == name)
        .map(|t| t.bias_deg)
}

/// Draws every figure the results support into `dir`.
pub fn render_all(
    res: &Results,
    dir: &Path,
    formats: &[Format],
) -> Result<Vec<Figure>, ReportError> {
    let mut out = Vec::new();
    let ests = estimators(res);
    let cells = stats::cells(&res.rows);
    let series = stats::series(&cells);
    let summ = |cell: &str, e: &str| {
        res.summary
            .iter()
            .find(|s| s.cell == cell && s.estimator == e)
    };
    let ns: Vec<usize> = {
        let mut v: Vec<usize> = res.summary.iter().map(|s| s.n).collect();
        v.sort();
        v.dedup();
        v
    };

    // 1. Convergence, one figure per series over n.
    for s in series.iter().filter(|s| s.cells.len() >= 2) {
        let g = s.group.clone();
        let mut lines = Vec::new();
        let mut legend = Vec::new();
        let mut sign_first = None;
        for e in &ests {
            let pts: Vec<(f64, f64)> = s.cells.iter().map(|c| (c.n as f64, c.mean(e))).collect();
            let band = s
                .cells
                .iter()
                .map(|c| {
                    (
                        c.n as f64,
                        (c.mean(e) - 1.96 * c.mcse(e)).max(c.mean(e) * 0.05),
                        c.mean(e) + 1.96 * c.mcse(e),
                    )
                })
                .collect();
            let label = if s.cells.len() >= 3 {
                let (r, _, _) = signest_theory::verdict::series_rate(&res.experiment, s, e);
                format!("{e}: slope {:.2} [{:.2}, {:.2}]", r.value, r.lo, r.hi)
            } else {
                e.clone()
            };
            if res.family(e) == Some(Family::Sign) && sign_first.is_none() {
                sign_first = pts.first().copied();
            }
            legend.push(label.clone());
            let mut l = Line::new(label, res.colour(e), pts);
            l.band = band;
            lines.push(l);
            if let Some(b) = target_bias(res, &g, e).filter(|b| *b > 0.01) {
                let (x0, x1) = (s.cells[0].n as f64, s.cells[s.cells.len() - 1].n as f64);
                let mut t = Line::new(
                    format!("{e} target bias {b:.2}°"),
                    res.colour(e),
                    vec![(x0, b), (x1, b)],
                );
                t.dashed = true;
                t.markers = false;
                legend.push(t.label.clone());
                lines.push(t);
            }
        }
        if let Some((x0, y0)) = sign_first {
            let x1 = s.cells[s.cells.len() - 1].n as f64;
            for (p, name) in [(1.0 / 3.0, "n^(-1/3) guide"), (0.5, "n^(-1/2) guide")] {
                let mut l = Line::new(
                    name,
                    RGBColor(120, 120, 120),
                    vec![(x0, y0), (x1, y0 * (x1 / x0).powf(-p))],
                );
                l.dashed = p == 0.5;
                l.markers = false;
                legend.push(name.into());
                lines.push(l);
            }
        }
        let plot = Plot {
            x_desc: "sample size n (comparisons)".into(),
            y_desc: "angular error (degrees)".into(),
            log_x: true,
            log_y: true,
            lines,
        };
        let stem = format!(
            "convergence_d{}_h{}{}",
            s.d,
            s.heterogeneity,
            s.type_weight.map_or(String::new(), |t| format!("_w{t}"))
        ) + &s
            .group
            .split('/')
            .skip(2)
            .filter(|p| !p.starts_with("type_weight="))
            .map(|p| format!("_{}", p.replace('=', "")))
            .collect::<String>();
        let files = write(&plot, dir, &stem, formats)?;
        out.push(Figure {
            stem,
            title: format!("Convergence ({})", s.label()),
            caption: "Mean angular error against n (log–log) with a 95% band (± 1.96 MCSE); slopes and 95% bootstrap CIs over the largest-n cells in the legend; grey guides n^(−1/3) (solid) and n^(−1/2) (dashed) from sign's first point; dashed horizontals: population targets' bias.".into(),
            files,
            legend,
        });
    }

    // 2. Heterogeneity at fixed n; 3. dimension at fixed n.
    for &n in &ns {
        for (axis, name) in [("heterogeneity", "heterogeneity"), ("d", "dimension")] {
            let mut xs: Vec<(f64, String)> = res
                .summary
                .iter()
                .filter(|s| s.n == n)
                .map(|s| {
                    (
                        if axis == "d" {
                            s.d as f64
                        } else {
                            s.heterogeneity
                        },
                        s.cell.clone(),
                    )
                })
                .collect();
            xs.sort_by(|a, b| a.0.total_cmp(&b.0));
            xs.dedup_by(|a, b| a.1 == b.1);
            let distinct = {
                let mut v: Vec<f64> = xs.iter().map(|x| x.0).collect();
                v.dedup();
                v.len()
            };
            if distinct < 3 || xs.len() != distinct {
                continue;
            }
            let mut lines = Vec::new();
            let mut legend = Vec::new();
            let mut sign_first = None;
            for e in &ests {
                let rows: Vec<(f64, &signest_sweep::SummaryRow)> = xs
                    .iter()
                    .filter_map(|(x, c)| summ(c, e).map(|r| (*x, r)))
                    .collect();
                let pts: Vec<(f64, f64)> = rows
                    .iter()
                    .map(|(x, r)| (*x, r.mean_angular_error_deg))
                    .collect();
                if res.family(e) == Some(Family::Sign) && sign_first.is_none() {
                    sign_first = pts.first().copied();
                }
                let mut l = Line::new(e.clone(), res.colour(e), pts);
                l.band = rows
                    .iter()
                    .map(|(x, r)| {
                        (
                            *x,
                            (r.mean_angular_error_deg - 1.96 * r.mcse_angular_error_deg)
                                .max(r.mean_angular_error_deg * 0.05),
                            r.mean_angular_error_deg + 1.96 * r.mcse_angular_error_deg,
                        )
                    })
                    .collect();
                legend.push(e.clone());
                lines.push(l);
            }
            let log = axis == "d";
            if !log {
                // Population targets' bias at each level (dashed), where computed.
                for name in ["bt", "sign"] {
                    let pts: Vec<(f64, f64)> = xs
                        .iter()
                        .filter_map(|(h, c)| {
                            let r = res.summary.iter().find(|s| &s.cell == c)?;
                            let g = signest_sweep::spec::group_of(&r.cell);
                            res.targets
                                .iter()
                                .find(|t| t.group == g && t.estimator == name)
                                .map(|t| (*h, t.bias_deg))
                        })
                        .collect();
                    if pts.len() == xs.len() {
                        let mut l = Line::new(format!("{name} target bias"), res.colour(name), pts);
                        l.dashed = true;
                        l.markers = false;
                        legend.push(l.label.clone());
                        lines.push(l);
                    }
                }
            }
            if log && let Some((x0, y0)) = sign_first {
                let x1 = xs[xs.len() - 1].0;
                let mut g = Line::new(
                    "d^(1/3) guide",
                    RGBColor(120, 120, 120),
                    vec![(x0, y0), (x1, y0 * (x1 / x0).powf(1.0 / 3.0))],
                );
                g.markers = false;
                legend.push(g.label.clone());
                lines.push(g);
            }
            let plot = Plot {
                x_desc: if log {
                    "dimension d".into()
                } else {
                    "heterogeneity (spread of user coefficients)".into()
                },
                y_desc: "angular error (degrees)".into(),
                log_x: log,
                log_y: log,
                lines,
            };
            let stem = format!("{name}_n{n}");
            let files = write(&plot, dir, &stem, formats)?;
            out.push(Figure {
                stem,
                title: format!("{} at n = {n}", if log { "Error against dimension" } else { "Error against heterogeneity" }),
                caption: if log { "Mean angular error against d (log–log) with a 95% band; grey: a d^(1/3) guide from sign's first point.".into() } else { "Mean angular error against the heterogeneity level with a 95% band (± 1.96 MCSE); dashed: the population targets' bias.".into() },
                files,
                legend,
            });
        }
    }

    // 4. Disagreement against the experiment's main axis.
    let (axis_name, xfun): (&str, XFun) = if ns.len() >= 2 {
        ("sample size n (comparisons)", Box::new(|s| s.n as f64))
    } else if res.summary.iter().any(|s| s.type_weight.is_some()) {
        (
            "weight of the first type",
            Box::new(|s| s.type_weight.unwrap_or(0.5)),
        )
    } else if res
        .summary
        .iter()
        .map(|s| s.d)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        >= 2
    {
        ("dimension d", Box::new(|s| s.d as f64))
    } else {
        (
            "heterogeneity (spread of user coefficients)",
            Box::new(|s| s.heterogeneity),
        )
    };
    let log_x = ns.len() >= 2 || axis_name == "dimension d";
    let multi_series = ns.len() >= 2 && series.len() > 1;
    // With several series over n, the disagreement and fit-time figures show the first one
    // (the others are in summary.csv).
    let keep = |r: &signest_sweep::SummaryRow| {
        !multi_series
            || (r.d == series[0].d
                && r.heterogeneity == series[0].heterogeneity
                && r.type_weight == series[0].type_weight)
    };
    // One line per estimator of a per-cell (mean, MCSE), bars ± 1.96 MCSE.
    let metric_lines = |metric: &dyn Fn(&signest_sweep::SummaryRow) -> (f64, f64)| {
        let mut lines = Vec::new();
        let mut legend = Vec::new();
        for (k, e) in ests.iter().enumerate() {
            let jitter = 1.0 + 0.025 * (k as f64 - (ests.len() as f64 - 1.0) / 2.0);
            let mut rows: Vec<&signest_sweep::SummaryRow> = res
                .summary
                .iter()
                .filter(|r| &r.estimator == e && keep(r))
                .collect();
            rows.sort_by(|a, b| xfun(a).total_cmp(&xfun(b)));
            let x = |r: &signest_sweep::SummaryRow| {
                if log_x {
                    xfun(r) * jitter
                } else {
                    xfun(r) + (jitter - 1.0) * 0.2
                }
            };
            let pts: Vec<(f64, f64)> = rows.iter().map(|r| (x(r), metric(r).0)).collect();
            let mut l = Line::new(e.clone(), res.colour(e), pts);
            l.bars = rows
                .iter()
                .map(|r| {
                    (
                        x(r),
                        metric(r).0 - 1.96 * metric(r).1,
                        metric(r).0 + 1.96 * metric(r).1,
                    )
                })
                .collect();
            legend.push(e.clone());
            lines.push(l);
        }
        (lines, legend)
    };
    let (lines, legend) =
        metric_lines(&|r| (100.0 * r.mean_disagreement, 100.0 * r.mcse_disagreement));
    let plot = Plot {
        x_desc: axis_name.into(),
        y_desc: "disagreement with u* (%)".into(),
        log_x,
        log_y: false,
        lines,
    };
    let files = write(&plot, dir, "disagreement", formats)?;
    out.push(Figure {
        stem: "disagreement".into(),
        title: "Disagreement with the population preference".into(),
        caption: format!(
            "Share of test pairs ordered differently from u* (mean over replications, bars ± 1.96 MCSE; estimators offset slightly to keep bars apart){}.",
            if multi_series { format!("; series {}", series[0].label()) } else { String::new() }
        ),
        files,
        legend,
    });

    // 4b. The Σ-weighted angle, when the features are anisotropic (it differs from the
    // Euclidean angle somewhere).
    let anisotropic = res
        .summary
        .iter()
        .all(|r| r.mean_sigma_angle_deg.is_finite())
        && res
            .summary
            .iter()
            .any(|r| (r.mean_sigma_angle_deg - r.mean_angular_error_deg).abs() > 1e-6);
    if anisotropic {
        let (lines, legend) = metric_lines(&|r| (r.mean_sigma_angle_deg, r.mcse_sigma_angle_deg));
        let plot = Plot {
            x_desc: axis_name.into(),
            y_desc: "Σ-weighted angle to u* (deg)".into(),
            log_x,
            log_y: false,
            lines,
        };
        let files = write(&plot, dir, "sigma_angle", formats)?;
        out.push(Figure {
        stem: "sigma_angle".into(),
        title: "Σ-weighted angle".into(),
        caption: format!(
            "The angle between Σ^½ û and Σ^½ u*, Σ the covariance of z (mean over replications, bars ± 1.96 MCSE): for Gaussian features 180° × the disagreement; errors in low-variance directions, which inflate the Euclidean angle, barely move it{}.",
            if multi_series { format!("; series {}", series[0].label()) } else { String::new() }
        ),
        files,
        legend,
    });
    }

    // 5. Fit time against n.
    if ns.len() >= 2 {
        let mut lines = Vec::new();
        let mut legend = Vec::new();
        for e in &ests {
            let mut rows: Vec<&signest_sweep::SummaryRow> = res
                .summary
                .iter()
                .filter(|r| &r.estimator == e && keep(r))
                .collect();
            rows.sort_by_key(|r| r.n);
            let pts: Vec<(f64, f64)> = rows
                .iter()
                .map(|r| (r.n as f64, r.mean_fit_seconds.max(1e-6)))
                .collect();
            legend.push(e.clone());
            lines.push(Line::new(e.clone(), res.colour(e), pts));
        }
        let plot = Plot {
            x_desc: "sample size n (comparisons)".into(),
            y_desc: "mean fit time (seconds)".into(),
            log_x: true,
            log_y: true,
            lines,
        };
        let files = write(&plot, dir, "fit_time", formats)?;
        out.push(Figure {
            stem: "fit_time".into(),
            title: "Fit time".into(),
            caption: format!(
                "Mean wall time of one fit against n (log–log), this machine{}.",
                if multi_series {
                    format!("; series {}", series[0].label())
                } else {
                    String::new()
                }
            ),
            files,
            legend,
        });
    }

    // 6. Assumption boundary: targets' bias against the type weight.
    let mut tws: Vec<(f64, String)> = res
        .targets
        .iter()
        .filter_map(|t| t.type_weight.map(|w| (w, t.group.clone())))
        .collect();
    tws.sort_by(|a, b| a.0.total_cmp(&b.0));
    tws.dedup();
    if tws.len() >= 2 {
        let mut lines = Vec::new();
        let mut legend = Vec::new();
        for name in ["bt", "sign"] {
            let pts: Vec<(f64, f64)> = tws
                .iter()
                .filter_map(|(w, g)| {
                    res.targets
                        .iter()
                        .find(|t| &t.group == g && t.estimator == name)
                        .map(|t| (*w, t.bias_deg))
                })
                .collect();
            let label = format!("{name} target bias");
            legend.push(label.clone());
            let mut l = Line::new(label, res.colour(name), pts);
            l.dashed = true;
            lines.push(l);
        }
        // Empirical mean errors at the largest n, as points with bars.
        let nmax = *ns.last().unwrap_or(&0);
        for e in &ests {
            let mut rows: Vec<&signest_sweep::SummaryRow> = res
                .summary
                .iter()
                .filter(|r| &r.estimator == e && r.n == nmax && r.type_weight.is_some())
                .collect();
            rows.sort_by(|a, b| a.type_weight.unwrap().total_cmp(&b.type_weight.unwrap()));
            let pts: Vec<(f64, f64)> = rows
                .iter()
                .map(|r| (r.type_weight.unwrap(), r.mean_angular_error_deg))
                .collect();
            let mut l = Line::new(format!("{e} mean error, n = {nmax}"), res.colour(e), pts);
            l.bars = rows
                .iter()
                .map(|r| {
                    (
                        r.type_weight.unwrap(),
                        r.mean_angular_error_deg - 1.96 * r.mcse_angular_error_deg,
                        r.mean_angular_error_deg + 1.96 * r.mcse_angular_error_deg,
                    )
                })
                .collect();
            legend.push(l.label.clone());
            lines.push(l);
        }
        let plot = Plot {
            x_desc: "weight of the first type".into(),
            y_desc: "angle from u* (degrees)".into(),
            log_x: false,
            log_y: false,
            lines,
        };
        let files = write(&plot, dir, "assumption", formats)?;
        out.push(Figure {
            stem: "assumption".into(),
            title: "Assumption boundary".into(),
            caption: "Bias of the population targets (dashed) and mean angular error at the largest n (solid, bars ± 1.96 MCSE) as the type weights move away from ½: at ½ sign's target is u*; away from it sign loses its guarantee.".into(),
            files,
            legend,
        });
    }
    // 7. Regime maps: two coordinates varying at one n (crate::map).
    for m in crate::map::regime_maps(res) {
        for crate::map::MapFigure {
            stem,
            metric,
            files,
        } in crate::map::draw(&m, dir, formats)?
        {
            let metric = metric.name();
            let what = if metric == "angle" {
                "mean angular error"
            } else {
                "mean disagreement with the population preference"
            };
            out.push(Figure {
                stem,
                title: format!("Regime map: {metric} (n = {}, d = {})", m.n, m.d),
                caption: format!(
                    "Relative reduction 1 − {s}/{b} of the {what} in each cell ({r} replications; blue: sign better, vermillion: worse, saturated at ±100%); solid contour 0, dashed 35% (the paper's headline); boxed cells: the sign target is more than {off}° from u*. Numbers with standard errors: the table below.",
                    s = m.sign,
                    b = m.bt,
                    r = res.experiment.replications,
                    off = crate::map::TARGET_OFF_DEG,
                ),
                files,
                legend: Vec::new(),
            });
        }
    }
    Ok(out)
}
