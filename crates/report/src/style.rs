//! Fixed visual identity: sizes for a 3.5 in column and the embedded font. Colours are the
//! registry's (one per estimator and solver, Okabe–Ito), looked up by [`crate::Results::colour`].

pub const WIDTH: u32 = 1050;
pub const HEIGHT: u32 = 780;
pub const FONT: &str = "sans-serif";
pub const AXIS_DESC: u32 = 34;
pub const TICK: u32 = 30;
pub const LEGEND: u32 = 26;

static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Registers the embedded font once per process.
pub fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ =
            plotters::style::register_font(FONT, plotters::style::FontStyle::Normal, FONT_BYTES);
    });
}

/// Superscript digits for tick labels like 10⁴.
pub fn superscript(k: i32) -> String {
    let digits = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut s = String::new();
    if k < 0 {
        s.push('⁻');
    }
    for c in k.unsigned_abs().to_string().chars() {
        s.push(digits[c.to_digit(10).unwrap() as usize]);
    }
    s
}

/// Tick label for a log axis: powers of ten as 10^k (from 10^4 on, unless `plain`: an axis
/// that also labels 2× and 5× points prints every label as a plain number).
pub fn log_label(v: f64, plain: bool) -> String {
    let k = v.log10().round();
    if plain {
        return if v >= 1.0 {
            format!("{}", v.round())
        } else {
            format!("{v}")
        };
    }
    if (v.log10() - k).abs() < 1e-9 {
        if (0.0..=3.0).contains(&k) {
            format!("{}", v.round())
        } else if (-2.0..0.0).contains(&k) {
            format!("{v}")
        } else {
            format!("10{}", superscript(k as i32))
        }
    } else {
        format!("{v}")
    }
}

/// Key points for a log axis over [lo, hi]: powers of ten, plus 2× and 5× when the range spans
/// less than two decades.
pub fn log_keys(lo: f64, hi: f64) -> Vec<f64> {
    let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let mults: &[f64] = if hi / lo < 100.0 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let mut v = Vec::new();
    for k in a..=b {
        for m in mults {
            let x = m * 10f64.powi(k);
            if x >= lo * (1.0 - 1e-9) && x <= hi * (1.0 + 1e-9) {
                v.push(x);
            }
        }
    }
    v
}
