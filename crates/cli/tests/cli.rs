//! End-to-end tests of the `signest` binary: exit codes, messages, JSON.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

fn signest(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_signest"))
        .args(args)
        .output()
        .expect("run signest")
}

fn temp_csv(text: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("signest-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("d{}.csv", N.fetch_add(1, Ordering::SeqCst)));
    std::fs::write(&p, text).unwrap();
    p
}

fn repo_file(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
        .display()
        .to_string()
}

const SMALL: &str = "price_a,price_b,time,y,w\n1,2,0.5,1,1\n3,1,-1,0,2\n2,2,1,1,1\n0,1,-0.5,-1,1\n4,0,2,1,1\n1,1,0.2,0,1\n";

#[test]
fn fit_json_has_the_documented_keys_and_consistent_values() {
    let p = temp_csv(SMALL);
    for (est, solver) in [
        ("sign", Some("exact")),
        ("sign", Some("smooth")),
        ("bt", None),
        ("hinge", None),
    ] {
        let mut args = vec![
            "fit",
            "--data",
            p.to_str().unwrap(),
            "--estimator",
            est,
            "--json",
        ];
        if let Some(s) = solver {
            args.extend(["--solver", s]);
        }
        let out = signest(&args);
        assert!(
            out.status.success(),
            "{est}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            stdout.trim().lines().count(),
            1,
            "exactly one JSON object: {stdout}"
        );
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        for key in [
            "direction",
            "features",
            "loss01",
            "correct",
            "n",
            "d",
            "estimator",
            "solver",
            "certified",
            "gap",
            "fit_seconds",
        ] {
            assert!(v.get(key).is_some(), "{est}: missing key {key}");
        }
        assert_eq!(v["n"], 6);
        assert_eq!(v["d"], 2);
        assert_eq!(v["features"], serde_json::json!(["price", "time"]));
        let u: Vec<f64> = v["direction"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert!((u.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(v["estimator"], est);
        if solver == Some("exact") {
            assert_eq!(v["certified"], true);
            assert_eq!(v["gap"], 0.0);
        }
    }
}

/// The published exact maximum-score computation on Horowitz's data (Florios & Skouras 2008;
/// the CPLEX run shipped with kflorios/maxscore-estimator-MIP-inPython reports objective 765
/// with the first coefficient fixed to +1) classifies 765 of 842 rows correctly. Over the whole
/// sphere the optimum can only be as good or better; signest certifies 765.
#[test]
fn horowitz_exact_maximum_score_is_certified_at_765_correct() {
    let out = signest(&[
        "fit",
        "--data",
        &repo_file("data/horowitz-worktrip/horowitz.csv"),
        "--estimator",
        "sign",
        "--standardize",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["n"], 842);
    assert_eq!(v["d"], 5);
    assert_eq!(v["certified"], true);
    assert_eq!(v["correct"], 765);
}

fn assert_input_error(args: &[&str], expect: &str) {
    let out = signest(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "args {args:?}: stderr {stderr}");
    assert!(
        stderr.contains(expect),
        "args {args:?}: expected {expect:?} in {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout for a failed fit");
}

#[test]
fn bad_input_exits_2_naming_file_line_and_column() {
    let cases = [
        ("x,z\n1,2\n3,4\n", ":1: no 'y' column"),
        ("x,y\n1,1\n2,1,5\n", ":3: expected 2 fields"),
        (
            "x,y\n1,1\nabc,1\n",
            ":3: column 'x': expected a number, found 'abc'",
        ),
        (
            "x,y\n1,1\ninf,1\n",
            ":3: column 'x': 'inf' is not a finite number",
        ),
        (
            "x,y\n1,1\n2,3\n",
            ":3: column 'y': expected 1, 0 or -1, found '3'",
        ),
        ("x,y\n1,1\n", ": need at least 2 data rows"),
        ("y\n1\n0\n", ":1: no feature columns"),
        ("x,y,x\n1,1,1\n2,0,1\n", ":1: duplicate column 'x'"),
    ];
    for (text, expect) in cases {
        let p = temp_csv(text);
        let path = p.to_str().unwrap();
        assert_input_error(
            &["fit", "--data", path, "--estimator", "sign"],
            &format!("{path}{expect}"),
        );
    }
    let p = temp_csv(SMALL);
    let path = p.to_str().unwrap();
    assert_input_error(
        &["fit", "--data", path, "--estimator", "cart"],
        "--estimator: expected bt, sign or hinge, got 'cart'",
    );
    assert_input_error(
        &[
            "fit",
            "--data",
            path,
            "--estimator",
            "sign",
            "--solver",
            "magic",
        ],
        "--solver: expected exact or smooth",
    );
    assert_input_error(
        &[
            "fit",
            "--data",
            path,
            "--estimator",
            "bt",
            "--solver",
            "exact",
        ],
        "--solver: a solver applies to the sign estimator only",
    );
    assert_input_error(
        &["fit", "--data", "/no/such/file.csv", "--estimator", "bt"],
        "/no/such/file.csv: cannot open",
    );
    assert_input_error(&["fit", "--estimator", "bt"], "--data");
}

#[test]
fn all_zero_data_is_a_clear_error_not_a_panic() {
    let p = temp_csv("x,y\n0,1\n0,0\n");
    let out = signest(&["fit", "--data", p.to_str().unwrap(), "--estimator", "bt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("degenerate data"));
}

#[test]
fn demo_prints_every_estimator() {
    let out = signest(&["demo", "--n", "2000", "--reps", "3"]);
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    for name in ["bt", "sign (exact)", "sign (smooth)", "hinge"] {
        assert!(s.contains(name), "{s}");
    }
}
