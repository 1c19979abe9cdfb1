//! `signest calibrate`: the value of one `[dgp]` key at which a population-target statistic
//! equals a target (issue: "the panel whose bt bias is the paper's 12 %").
//!
//! Pure stages first: [`CalibrationSpec::parse`] checks the statistic and the bracket before
//! anything is computed. Then the experiment text is edited with `toml_edit` (comments and
//! layout kept), parsed and resolved as any experiment, and the statistic is computed from the
//! population targets of the experiment's first DGP group (exact routes where they apply).
//! Root finding: bisection safeguarded regula falsi (Illinois) on stat(x) − target over the
//! bracket, which must change sign at its ends. It stops when |stat − target| is below the
//! statistic's own numerical error (plus 1e-9 relative) or the bracket is narrower than
//! `x_tol`. The reported error of the calibrated statistic is the target computation's error
//! plus the residual.

use crate::error::{TheoryError, input, other};
use crate::spec::Study;
use crate::verdict::{TargetRow, experiment_targets};

/// Which number of which target: `bt.disagreement`, `sign.bias_deg`, `bt.sigma_bias_deg`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistic {
    pub estimator: String,
    pub metric: Metric,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    BiasDeg,
    SigmaBiasDeg,
    Disagreement,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Metric::BiasDeg => "bias_deg",
            Metric::SigmaBiasDeg => "sigma_bias_deg",
            Metric::Disagreement => "disagreement",
        }
    }
}

/// What to calibrate, as given on the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationSpec {
    /// A numeric key of `[dgp]` (e.g. `coupling`, `heterogeneity`, `intensity_sigma`).
    pub key: String,
    pub stat: Statistic,
    pub target: f64,
    /// Bracket [lo, hi] searched for the root.
    pub lo: f64,
    pub hi: f64,
    /// Smallest bracket width at which the search stops.
    pub x_tol: f64,
}

impl CalibrationSpec {
    /// `stat_eq` is `STAT=VALUE` (e.g. `bt.disagreement=0.12`), `range` is `LO:HI`.
    pub fn parse(key: &str, stat_eq: &str, range: &str) -> Result<CalibrationSpec, TheoryError> {
        let (stat, value) = stat_eq.split_once('=').ok_or_else(|| {
            input(format!(
                "--target: expected STAT=VALUE (e.g. bt.disagreement=0.12), got '{stat_eq}'"
            ))
        })?;
        let (est, metric) = stat.split_once('.').ok_or_else(|| {
            input(format!(
                "--target: STAT must be ESTIMATOR.METRIC (bt or sign; bias_deg, sigma_bias_deg or disagreement), got '{stat}'"
            ))
        })?;
        if !["bt", "sign"].contains(&est) {
            return Err(input(format!(
                "--target: the estimator of STAT must be bt or sign (the targets computed), got '{est}'"
            )));
        }
        let metric = match metric {
            "bias_deg" => Metric::BiasDeg,
            "sigma_bias_deg" => Metric::SigmaBiasDeg,
            "disagreement" => Metric::Disagreement,
            m => {
                return Err(input(format!(
                    "--target: metric must be bias_deg, sigma_bias_deg or disagreement, got '{m}'"
                )));
            }
        };
        let target: f64 = value
            .trim()
            .parse()
            .map_err(|_| input(format!("--target: VALUE must be a number, got '{value}'")))?;
        if !target.is_finite() {
            return Err(input(format!(
                "--target: VALUE must be finite, got {target}"
            )));
        }
        let (lo, hi) = range
            .split_once(':')
            .and_then(|(a, b)| Some((a.trim().parse::<f64>().ok()?, b.trim().parse::<f64>().ok()?)))
            .ok_or_else(|| {
                input(format!(
                    "--range: expected LO:HI (two numbers), got '{range}'"
                ))
            })?;
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(input(format!(
                "--range: need finite LO < HI, got {lo}:{hi}"
            )));
        }
        if key.is_empty() || key.contains('.') {
            return Err(input(format!(
                "--key: a key of [dgp] (e.g. coupling), got '{key}'"
            )));
        }
        Ok(CalibrationSpec {
            key: key.to_string(),
            stat: Statistic {
                estimator: est.to_string(),
                metric,
            },
            target,
            lo,
            hi,
            x_tol: 1e-9 * (hi - lo).max(1e-300),
        })
    }
}

/// The result: the calibrated value, the statistic there with its error, the evaluations, and
/// the calibrated experiment text.
#[derive(Debug, Clone)]
pub struct Calibration {
    pub value: f64,
    pub achieved: f64,
    /// Numerical error of `achieved`: the target route's error (in the metric's units) plus
    /// the residual |achieved − target|.
    pub error: f64,
    /// (key value, statistic) at every evaluation, in order.
    pub trace: Vec<(f64, f64)>,
    pub text: String,
}

/// `text` with `[dgp].key = value`, comments and layout kept.
pub fn with_dgp_value(
    text: &str,
    file: &str,
    key: &str,
    value: f64,
) -> Result<String, TheoryError> {
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| input(format!("{file}: not valid TOML: {e}")))?;
    let dgp = doc
        .get_mut("dgp")
        .and_then(|t| t.as_table_mut())
        .ok_or_else(|| input(format!("{file}: no [dgp] table to calibrate")))?;
    if let Some(old) = dgp.get(key)
        && !(old.is_float() || old.is_integer())
    {
        return Err(input(format!(
            "{file}: dgp.{key}: calibration needs a numeric key, found {}",
            old.type_name()
        )));
    }
    match dgp.get_mut(key).and_then(|i| i.as_value_mut()) {
        Some(v) => {
            // Keep the value's own comments and spacing.
            let decor = v.decor().clone();
            *v = toml_edit::Value::from(value);
            *v.decor_mut() = decor;
        }
        None => dgp[key] = toml_edit::value(value),
    }
    Ok(doc.to_string())
}

fn statistic(rows: &[TargetRow], stat: &Statistic) -> Option<(f64, f64)> {
    let first = rows.first()?.group.clone();
    let r = rows
        .iter()
        .find(|r| r.group == first && r.estimator == stat.estimator)?;
    // The route's error_deg is an angle error: it carries over to Σ-angles up to the
    // whitening's stretch, which the exact routes keep near 1e-12; report it as is, and in
    // disagreement units for the disagreement.
    let (v, e) = match stat.metric {
        Metric::BiasDeg => (r.bias_deg, r.error_deg),
        Metric::SigmaBiasDeg => (r.sigma_bias_deg, r.error_deg),
        Metric::Disagreement => (r.disagreement, r.error_deg / 180.0),
    };
    Some((v, e))
}

const NOTE_PREFIX: &str = "# calibrated by `signest calibrate";

/// Finds the calibrated value; `eval` reports each evaluation (for progress lines).
pub fn calibrate(
    text: &str,
    file: &str,
    spec: &CalibrationSpec,
    eval: &mut dyn FnMut(f64, f64),
) -> Result<Calibration, TheoryError> {
    let mut trace = Vec::new();
    let mut f = |x: f64| -> Result<(f64, f64), TheoryError> {
        let t = with_dgp_value(text, file, &spec.key, x)?;
        let exp = Study::new(signest_sweep::Experiment::parse(&t, file)?)?;
        let rows = experiment_targets(&exp)?;
        let (v, e) = statistic(&rows, &spec.stat).ok_or_else(|| {
            other(format!(
                "{file}: no {} target for the first DGP group",
                spec.stat.estimator
            ))
        })?;
        if !v.is_finite() {
            return Err(other(format!(
                "{file}: {}.{} is not finite at {} = {x}",
                spec.stat.estimator,
                spec.stat.metric.name(),
                spec.key
            )));
        }
        trace.push((x, v));
        eval(x, v);
        Ok((v - spec.target, e))
    };
    let (mut a, mut b) = (spec.lo, spec.hi);
    let (mut fa, _) = f(a)?;
    let (mut fb, _) = f(b)?;
    if fa != 0.0 && fb != 0.0 && fa.signum() == fb.signum() {
        return Err(input(format!(
            "{file}: {}.{} - {} has the same sign at both ends of the range ({} = {a}: {:+.6}, {} = {b}: {:+.6}); widen --range",
            spec.stat.estimator,
            spec.stat.metric.name(),
            spec.target,
            spec.key,
            fa,
            spec.key,
            fb
        )));
    }
    let mut best = if fa.abs() <= fb.abs() {
        (a, fa, 0.0)
    } else {
        (b, fb, 0.0)
    };
    let mut side = 0i32;
    for _ in 0..100 {
        if best.1 == 0.0 || (b - a).abs() <= spec.x_tol {
            break;
        }
        // Illinois regula falsi, with a bisection step when it would stall.
        let mut x = (a * fb - b * fa) / (fb - fa);
        if !(x > a.min(b) && x < a.max(b)) {
            x = 0.5 * (a + b);
        }
        let (fx, ex) = f(x)?;
        if fx.abs() < best.1.abs() {
            best = (x, fx, ex);
        }
        if fx.abs() <= ex + 1e-9 * spec.target.abs().max(1e-12) {
            best = (x, fx, ex);
            break;
        }
        if fx.signum() == fb.signum() {
            b = x;
            fb = fx;
            if side == -1 {
                fa *= 0.5;
            }
            side = -1;
        } else {
            a = x;
            fa = fx;
            if side == 1 {
                fb *= 0.5;
            }
            side = 1;
        }
    }
    let (x, fx, ex) = best;
    let text = with_dgp_value(text, file, &spec.key, x)?;
    // A calibration replaces the note of an earlier one (the first lines that carry it).
    let text: String = {
        let mut lines = text.split_inclusive('\n').peekable();
        while lines.peek().is_some_and(|l| l.starts_with(NOTE_PREFIX)) {
            lines.next();
        }
        lines.collect()
    };
    let note = format!(
        "{NOTE_PREFIX} --key {} --target {}.{}={}`: {} = {x} gives {:.9} (error {:.1e})\n",
        spec.key,
        spec.stat.estimator,
        spec.stat.metric.name(),
        spec.target,
        spec.key,
        spec.target + fx,
        ex + fx.abs()
    );
    Ok(Calibration {
        value: x,
        achieved: spec.target + fx,
        error: ex + fx.abs(),
        trace,
        text: note + &text,
    })
}
