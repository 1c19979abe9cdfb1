//! `signest calibrate`: the calibrated file's own targets (recomputed independently of the
//! search, by `signest targets`) hit the requested statistic within the error it states; a
//! second calibration replaces the first one's note; bad requests exit 2 naming the option.

use std::process::Command;

const EXP: &str = r#"# a twin panel to calibrate
name = "calibrate_test"
seed = 3
replications = 2
[dgp]
population = "twins"
features = "spectral"
alpha = 1.0
personas = 150
mirror = true
signal = 2.0
heterogeneity = 4.0
value_axes = 1
coupling = 0.2   # the key solved for
noise = "none"
[grid]
n = [500]
d = [8]
[[estimator]]
name = "bt"
"#;

fn signest(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_signest"))
        .args(args)
        .output()
        .unwrap()
}

fn stat_of(targets_csv: &str, estimator: &str, column: &str) -> f64 {
    let mut lines = targets_csv.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = head.iter().position(|h| *h == column).unwrap();
    let est = head.iter().position(|h| *h == "estimator").unwrap();
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|f| f[est] == estimator)
        .map(|f| f[col].parse().unwrap())
        .unwrap()
}

#[test]
fn calibration_hits_its_target_within_its_error() {
    let root = std::env::temp_dir().join(format!("signest-calibrate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let exp = root.join("exp.toml");
    std::fs::write(&exp, EXP).unwrap();
    let cal = root.join("cal.toml");
    let o = signest(&[
        "calibrate",
        exp.to_str().unwrap(),
        "--key",
        "coupling",
        "--target",
        "bt.disagreement=0.05",
        "--range",
        "0:0.95",
        "--out",
        cal.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(&cal).unwrap();
    assert!(
        text.contains("# the key solved for"),
        "comments kept:\n{text}"
    );
    let err: f64 = stdout
        .split("error ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(err < 1e-9, "{stdout}");
    // Independent recomputation of the calibrated file's targets.
    let t = root.join("t");
    let o = signest(&[
        "targets",
        cal.to_str().unwrap(),
        "--out",
        t.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(t.join("targets.csv")).unwrap();
    let got = stat_of(&csv, "bt", "disagreement");
    assert!(
        (got - 0.05).abs() <= err + 1e-12,
        "calibrated disagreement {got} vs 0.05 (error {err})"
    );
    // Calibrating the calibrated file again keeps one note.
    let o = signest(&[
        "calibrate",
        cal.to_str().unwrap(),
        "--key",
        "coupling",
        "--target",
        "bt.disagreement=0.04",
        "--range",
        "0:0.95",
        "--out",
        cal.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let text = std::fs::read_to_string(&cal).unwrap();
    assert_eq!(text.matches("# calibrated by").count(), 1, "{text}");
    assert!(text.contains("bt.disagreement=0.04"));
    // Bad requests: exit 2 and the option named.
    for (args, needle) in [
        (
            vec![
                "--key",
                "coupling",
                "--target",
                "bt.angle=1",
                "--range",
                "0:1",
            ],
            "metric",
        ),
        (
            vec![
                "--key",
                "coupling",
                "--target",
                "em.bias_deg=1",
                "--range",
                "0:1",
            ],
            "bt or sign",
        ),
        (
            vec![
                "--key",
                "coupling",
                "--target",
                "bt.bias_deg=1",
                "--range",
                "1:0",
            ],
            "--range",
        ),
        (
            vec![
                "--key",
                "coupling",
                "--target",
                "bt.bias_deg=x",
                "--range",
                "0:1",
            ],
            "--target",
        ),
        // Unreachable: the statistic never reaches 60% in the bracket.
        (
            vec![
                "--key",
                "coupling",
                "--target",
                "bt.disagreement=0.6",
                "--range",
                "0:0.9",
            ],
            "widen --range",
        ),
        // A key that is not numeric.
        (
            vec![
                "--key",
                "population",
                "--target",
                "bt.bias_deg=1",
                "--range",
                "0:1",
            ],
            "numeric key",
        ),
    ] {
        let mut a = vec!["calibrate", exp.to_str().unwrap()];
        a.extend(args);
        let o = signest(&a);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{a:?}: {err}");
        assert!(err.contains(needle), "{a:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&root);
}
