//! A sweep killed with SIGKILL mid-run and finished with --resume gives the same runs.csv and
//! summary.csv as an uninterrupted run (apart from the *_seconds columns).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const EXP: &str = r#"
name = "killme"
seed = 99
replications = 24

[dgp]
population = "gaussian"
beta_bar = [1.0, 0.5, -0.5]
heterogeneity = 1.0

[grid]
n = [3000, 30000]

[[estimator]]
name = "bt"

[[estimator]]
name = "sign"
solver = "exact"

[[estimator]]
name = "hinge"
"#;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("signest-resume-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn signest() -> Command {
    Command::new(env!("CARGO_BIN_EXE_signest"))
}

/// Runs `signest run EXP --out OUT EXTRA...` and asserts success.
fn run_ok(exp: &Path, out: &Path, extra: &[&str]) {
    let o = signest()
        .args(["run", exp.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn without_seconds(path: &Path) -> Vec<String> {
    signest_sweep::output::drop_seconds_columns(&std::fs::read_to_string(path).unwrap())
}

#[test]
fn kill_9_then_resume_equals_an_uninterrupted_run() {
    let dir = tmp("files");
    std::fs::create_dir_all(&dir).unwrap();
    let exp = dir.join("killme.toml");
    std::fs::write(&exp, EXP).unwrap();
    let (full, cut) = (tmp("full"), tmp("cut"));

    run_ok(&exp, &full, &["--threads", "2"]);

    let mut child = signest()
        .args([
            "run",
            exp.to_str().unwrap(),
            "--out",
            cut.to_str().unwrap(),
            "--threads",
            "2",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let progress = cut.join("progress.jsonl");
    let t = Instant::now();
    loop {
        let lines = std::fs::read_to_string(&progress).map_or(0, |s| s.lines().count());
        if lines >= 6 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "the run never wrote progress"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done_at_kill = std::fs::read_to_string(&progress).unwrap().lines().count();
    assert!(
        !cut.join("manifest.json").exists(),
        "the run finished before it was killed: the test proved nothing"
    );
    assert!(
        done_at_kill < 48,
        "{done_at_kill} of 48 units were done at the kill"
    );

    // Without --resume the directory is refused (exit code 2).
    let refused = signest()
        .args(["run", exp.to_str().unwrap(), "--out", cut.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        refused.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    run_ok(&exp, &cut, &["--resume", "--threads", "1"]);
    for f in ["runs.csv", "summary.csv"] {
        let (a, b) = (
            without_seconds(&full.join(f)),
            without_seconds(&cut.join(f)),
        );
        assert_eq!(a.len(), b.len(), "{f}: row counts differ");
        if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
            panic!(
                "{f}: row {i} differs:\n uninterrupted: {}\n resumed:       {}",
                a[i], b[i]
            );
        }
    }
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cut.join("manifest.json")).unwrap()).unwrap();
    assert!(m["units_resumed"].as_u64().unwrap() >= 6);
}

#[test]
fn replay_prints_the_rows_of_runs_csv() {
    let dir = tmp("replay");
    std::fs::create_dir_all(&dir).unwrap();
    let exp = dir.join("small.toml");
    std::fs::write(
        &exp,
        EXP.replace("replications = 24", "replications = 3")
            .replace("n = [3000, 30000]", "n = [500, 1500]"),
    )
    .unwrap();
    let out = dir.join("out");
    run_ok(&exp, &out, &[]);
    let runs = without_seconds(&out.join("runs.csv"));
    let rep = signest()
        .args([
            "replay",
            exp.to_str().unwrap(),
            "--cell",
            "n=1500/d=3/heterogeneity=1",
            "--rep",
            "2",
        ])
        .output()
        .unwrap();
    assert!(
        rep.status.success(),
        "{}",
        String::from_utf8_lossy(&rep.stderr)
    );
    let replay_file = dir.join("replay.csv");
    std::fs::write(&replay_file, &rep.stdout).unwrap();
    let replayed = without_seconds(&replay_file);
    assert_eq!(replayed.len(), 4, "header and three rows");
    assert_eq!(replayed[0], runs[0], "same columns as runs.csv");
    for line in &replayed[1..] {
        assert!(runs.contains(line), "replayed row not in runs.csv: {line}");
    }
    let bad = signest()
        .args([
            "replay",
            exp.to_str().unwrap(),
            "--cell",
            "n=7",
            "--rep",
            "0",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no cell 'n=7'"));
}
