//! Shards merged with `signest merge` form a complete results directory: `verify` and
//! `report` work on it and write what they write for a single run of the same experiment
//! (apart from timings: the fit-time figure and the manifest line of report.md).

use std::path::{Path, PathBuf};
use std::process::Command;

const EXP: &str = r#"
name = "merge_test"
seed = 11
replications = 24
[dgp]
population = "two_type"
beta_bar = [1.0, 0.5]
v = [2.0, -0.5]
[grid]
n = [400, 1600, 6400]
heterogeneity = [0.0, 1.0]
[[estimator]]
name = "bt"
[[estimator]]
name = "sign"
solver = "exact"
[verify]
expect = ["C1"]
bootstrap = 400
"#;

fn signest(args: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_signest"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "signest {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn text_without(p: &Path, drop: &[&str]) -> String {
    String::from_utf8(read(p))
        .unwrap()
        .lines()
        .filter(|l| !drop.iter().any(|d| l.contains(d)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn merged_shards_verify_and_report_like_a_single_run() {
    let root = std::env::temp_dir().join(format!("signest-merge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let exp = root.join("merge_test.toml");
    std::fs::write(&exp, EXP).unwrap();
    let p = |s: &str| -> PathBuf { root.join(s) };
    let e = exp.to_str().unwrap();
    let (a, b, m, single) = (p("shard1"), p("shard2"), p("merged"), p("single"));
    let s = |x: &PathBuf| x.to_str().unwrap().to_string();
    signest(&[
        "run",
        e,
        "--shard",
        "1/2",
        "--out",
        &s(&a),
        "--threads",
        "1",
    ]);
    signest(&[
        "run",
        e,
        "--shard",
        "2/2",
        "--out",
        &s(&b),
        "--threads",
        "2",
    ]);
    signest(&["merge", &s(&a), &s(&b), "--out", &s(&m)]);
    signest(&["run", e, "--out", &s(&single)]);
    for d in [&m, &single] {
        signest(&["verify", &s(d)]);
        signest(&["report", &s(d)]);
    }
    // The merged directory is complete.
    for f in [
        "experiment.toml",
        "runs.csv",
        "summary.csv",
        "manifest.json",
    ] {
        assert!(m.join(f).exists(), "merged directory lacks {f}");
    }
    // Results: identical apart from *_seconds.
    for f in ["runs.csv", "summary.csv"] {
        let x = signest_sweep::output::drop_seconds_columns(
            &String::from_utf8(read(&m.join(f))).unwrap(),
        );
        let y = signest_sweep::output::drop_seconds_columns(
            &String::from_utf8(read(&single.join(f))).unwrap(),
        );
        assert_eq!(x, y, "{f}");
        // Not vacuous: 6 cells × 2 estimators, × 24 replications for runs.csv, plus a header.
        let want = if f == "runs.csv" {
            6 * 2 * 24 + 1
        } else {
            6 * 2 + 1
        };
        assert_eq!(x.len(), want, "{f}");
    }
    // Verify and report outputs: byte for byte, except what records timings or paths.
    for f in [
        "experiment.toml",
        "targets.csv",
        "verdicts.json",
        "verdicts.md",
    ] {
        assert_eq!(read(&m.join(f)), read(&single.join(f)), "{f}");
    }
    let figures: Vec<String> = std::fs::read_dir(&single)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| (n.ends_with(".png") || n.ends_with(".svg")) && !n.starts_with("fit_time"))
        .collect();
    assert!(figures.len() >= 4, "{figures:?}");
    for f in &figures {
        assert_eq!(read(&m.join(f)), read(&single.join(f)), "{f}");
    }
    let drop = ["Manifest:", "Produced by", "| fit s |", "fit_time"];
    let summary_rows = |t: String| {
        // report.md's summary table has a fit-seconds column: drop its last field.
        t.lines()
            .map(|l| match l.starts_with("| n=") {
                true => l.rsplitn(3, '|').nth(2).unwrap_or(l).to_string(),
                false => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        summary_rows(text_without(&m.join("report.md"), &drop)),
        summary_rows(text_without(&single.join("report.md"), &drop)),
        "report.md"
    );
    // `signest audit` replays units from the directory alone: identical here, and a single
    // changed digit in runs.csv (cell 0, replication 0, the unit audit replays first) is caught.
    signest(&["audit", &s(&single), "--units", "2"]);
    let runs = String::from_utf8(read(&single.join("runs.csv"))).unwrap();
    let mut lines: Vec<String> = runs.lines().map(str::to_string).collect();
    let mut fields: Vec<String> = lines[1].split(',').map(str::to_string).collect();
    assert!(
        fields[0].starts_with("n=400/") && fields[5] == "0",
        "{}",
        lines[1]
    );
    fields[8].insert(0, '1'); // angular_error_deg gains a leading digit
    lines[1] = fields.join(",");
    std::fs::write(single.join("runs.csv"), lines.join("\n") + "\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_signest"))
        .args(["audit", &s(&single), "--units", "2"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("DIFFERS"));
    let _ = std::fs::remove_dir_all(&root);
}
