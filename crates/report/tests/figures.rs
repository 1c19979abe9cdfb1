//! Structural tests of the figures: series, axis labels, legend entries, size, not blank, and
//! byte-identical re-rendering.

use signest_report::{Format, report};
use signest_sweep::{Experiment, RunOptions};
use std::path::PathBuf;

const EXP: &str = r#"
name = "report_test"
seed = 5
replications = 20
[dgp]
population = "two_type"
beta_bar = [1.0, 0.5]
v = [2.0, -0.5]
[grid]
n = [200, 400, 800]
[[estimator]]
name = "bt"
[[estimator]]
name = "sign"
[verify]
expect = ["C1"]
"#;

fn results_dir(tag: &str) -> PathBuf {
    run_and_verify(tag, EXP)
}

/// Runs `text` into a fresh temporary directory and writes its verdicts.
fn run_and_verify(tag: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("signest-report-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let exp = Experiment::parse(text, &format!("{tag}.toml")).unwrap();
    signest_sweep::run(
        &exp,
        &RunOptions {
            out: dir.clone(),
            threads: Some(2),
            shard: None,
            resume: false,
            progress: false,
        },
    )
    .unwrap();
    signest_theory::files::verify_dir(&dir, None).unwrap();
    dir
}

/// Polylines of one stroke colour with exactly `k` points (a data series over k cells; legend
/// swatches and guides have 2 points).
fn series_count(svg: &str, hex: &str, k: usize) -> usize {
    svg.split("<polyline")
        .skip(1)
        .filter(|p| {
            let tag = &p[..p.find('>').unwrap_or(p.len())];
            tag.to_ascii_uppercase()
                .contains(&format!("STROKE=\"#{hex}\""))
                && tag
                    .split("points=\"")
                    .nth(1)
                    .map(|s| s.split('"').next().unwrap().split_whitespace().count())
                    == Some(k)
        })
        .count()
}

#[test]
fn figures_have_their_series_labels_and_legends() {
    let dir = results_dir("structure");
    let figs = report(&dir, &[Format::Png, Format::Svg]).unwrap();
    let stems: Vec<&str> = figs.iter().map(|f| f.stem.as_str()).collect();
    assert!(stems.contains(&"convergence_d2_h1"), "{stems:?}");
    assert!(
        stems.contains(&"disagreement") && stems.contains(&"fit_time"),
        "{stems:?}"
    );
    let svg = std::fs::read_to_string(dir.join("convergence_d2_h1.svg")).unwrap();
    for text in [
        "sample size n (comparisons)",
        "angular error (degrees)",
        "bt: slope",
        "sign_exact: slope",
        "bt target bias",
        "n^(-1/3) guide",
        "n^(-1/2) guide",
    ] {
        assert!(
            svg.contains(text),
            "missing {text:?} in the convergence SVG"
        );
    }
    // One 3-point series per estimator, in its fixed colour (bt blue 0072B2, sign vermillion D55E00).
    assert_eq!(series_count(&svg, "0072B2", 3), 1, "bt series");
    assert_eq!(series_count(&svg, "D55E00", 3), 1, "sign series");
    // Tick labels are on the axes (powers of ten or plain numbers), no text outside the canvas.
    let texts: Vec<String> = svg
        .split("<text")
        .skip(1)
        .map(|t| {
            t.split_once('>')
                .unwrap()
                .1
                .split('<')
                .next()
                .unwrap()
                .trim()
                .to_string()
        })
        .collect();
    assert!(
        texts.iter().any(|t| t == "200") && texts.iter().any(|t| t == "500"),
        "n ticks: {texts:?}"
    );
    // PNG: requested size, and not blank (many distinct colours, non-white pixels).
    let img = image::open(dir.join("convergence_d2_h1.png"))
        .unwrap()
        .to_rgb8();
    assert_eq!(img.dimensions(), (1050, 780));
    let non_white = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    assert!(non_white > 20_000, "{non_white} non-white pixels");
    let blue = img.pixels().filter(|p| p.0 == [0, 114, 178]).count();
    assert!(blue > 200, "bt's colour drawn on {blue} pixels");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("| C1 |") && md.contains("![Convergence"),
        "report.md lacks verdicts or figures"
    );
}

#[test]
fn rendering_is_deterministic() {
    let dir = results_dir("determinism");
    report(&dir, &[Format::Png, Format::Svg]).unwrap();
    let first: Vec<(String, Vec<u8>)> = [
        "convergence_d2_h1.png",
        "convergence_d2_h1.svg",
        "disagreement.png",
        "fit_time.svg",
        "report.md",
    ]
    .iter()
    .map(|f| (f.to_string(), std::fs::read(dir.join(f)).unwrap()))
    .collect();
    report(&dir, &[Format::Png, Format::Svg]).unwrap();
    for (f, bytes) in first {
        assert!(
            std::fs::read(dir.join(&f)).unwrap() == bytes,
            "{f} changed on re-rendering"
        );
    }
}

/// A grid over two DGP coordinates at one n draws the regime map: one cell per grid point,
/// each reduction equal to 1 − mean(sign)/mean(bt) from summary.csv, boxes where targets.csv
/// puts the sign target more than TARGET_OFF_DEG from u*.
#[test]
fn a_two_coordinate_grid_draws_the_regime_map() {
    let text = r#"
name = "map_test"
seed = 9
replications = 4
[dgp]
population = "skewed"
beta_bar = [1.0, 0.0]
v = [0.0, 1.0]
[grid]
n = [400]
heterogeneity = [0.0, 1.5, 3.0]
[grid.dgp]
noise_scale = [0.5, 2.0]
[[estimator]]
name = "bt"
[[estimator]]
name = "sign"
[verify]
expect = []
"#;
    let dir = run_and_verify("map", text);
    let res = signest_report::Results::load(&dir).unwrap();
    let maps = signest_report::map::regime_maps(&res);
    assert_eq!(maps.len(), 1);
    let m = &maps[0];
    assert_eq!(
        (m.x_name.as_str(), m.y_name.as_str()),
        ("heterogeneity", "noise_scale")
    );
    assert_eq!((m.xs.len(), m.ys.len()), (3, 2));
    let mut off = 0;
    for row in &m.cells {
        for c in row {
            let c = c.as_ref().expect("every grid point is a cell");
            let mean = |e: &str| {
                res.summary
                    .iter()
                    .find(|s| s.cell == c.key && s.estimator == e)
                    .unwrap()
                    .mean_angular_error_deg
            };
            let want = 1.0 - mean(&m.sign) / mean(&m.bt);
            let got = c.angle.unwrap();
            assert!(
                (got.value - want).abs() < 1e-12,
                "{}: {got:?} vs {want}",
                c.key
            );
            assert!(got.se > 0.0 && got.se.is_finite());
            let t = res
                .targets
                .iter()
                .find(|t| t.group == signest_sweep::spec::group_of(&c.key) && t.estimator == "sign")
                .unwrap();
            assert_eq!(
                c.target_off(),
                t.bias_deg > signest_report::map::TARGET_OFF_DEG
            );
            off += c.target_off() as usize;
        }
    }
    // Heterogeneity 0 is homogeneous (sign target = u*); the skewed cells at 3 are not.
    assert!((1..6).contains(&off), "{off} cells off u*");
    let figs = report(&dir, &[Format::Svg]).unwrap();
    let names: Vec<&str> = figs.iter().map(|f| f.stem.as_str()).collect();
    assert!(names.contains(&"regime_angle_n400_d2"), "{names:?}");
    assert!(names.contains(&"regime_disagreement_n400_d2"), "{names:?}");
    let svg = std::fs::read_to_string(dir.join("regime_angle_n400_d2.svg")).unwrap();
    assert!(svg.contains("heterogeneity") && svg.contains("noise_scale"));
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("## Regime map (n = 400, d = 2)"));
    std::fs::remove_dir_all(&dir).unwrap();
}
