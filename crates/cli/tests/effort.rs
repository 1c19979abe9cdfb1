//! `signest effort`: heuristic sign fits of a finished directory refitted at a higher effort.
//! Checked against what must hold whatever the solver does: the committed loss is the row's,
//! no effort goes below the certified optimum of the same unit, exact fits are skipped, and a
//! factor below 1 is refused (exit 2).

use std::process::Command;

const EXP: &str = r#"
name = "effort_test"
seed = 5
replications = 4
[dgp]
population = "two_type"
beta_bar = [1.0, 0.5, 0.0]
v = [2.0, -0.5, 1.0]
[grid]
n = [300, 900]
[[estimator]]
name = "sign"
solver = "exact"
[[estimator]]
name = "sign"
solver = "anneal"
"#;

fn signest(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_signest"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn effort_check_refits_heuristic_sign_fits_only() {
    let root = std::env::temp_dir().join(format!("signest-effort-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let exp = root.join("effort.toml");
    std::fs::write(&exp, EXP).unwrap();
    let out = root.join("out");
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let o = signest(&["run", &s(&exp), "--out", &s(&out), "--threads", "1"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = signest(&["effort", &s(&out), "--units", "3", "--factor", "4"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(stdout.contains("sign fits refitted at 4x"), "{stdout}");
    let mut runs = csv::Reader::from_path(out.join("runs.csv")).unwrap();
    let head = runs.headers().unwrap().clone();
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let (c_cell, c_rep, c_est, c_loss) = (
        col("cell"),
        col("replication"),
        col("estimator"),
        col("loss01"),
    );
    let runs: Vec<csv::StringRecord> = runs.records().map(|r| r.unwrap()).collect();
    let find = |cell: &str, rep: &str, est: &str| -> f64 {
        runs.iter()
            .find(|r| r[c_cell] == *cell && r[c_rep] == *rep && r[c_est] == *est)
            .unwrap()[c_loss]
            .parse()
            .unwrap()
    };
    let mut eff = csv::Reader::from_path(out.join("effort.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = eff.records().map(|r| r.unwrap()).collect();
    assert_eq!(
        rows.len(),
        3,
        "one anneal fit per sampled unit, exact skipped"
    );
    for r in &rows {
        assert_eq!(&r[2], "sign_anneal");
        let committed: f64 = r[4].parse().unwrap();
        let at_effort: f64 = r[5].parse().unwrap();
        assert_eq!(committed, find(&r[0], &r[1], "sign_anneal"));
        let optimum = find(&r[0], &r[1], "sign_exact");
        assert!(
            at_effort >= optimum - 1e-12,
            "{at_effort} below the optimum {optimum}"
        );
        assert!(committed >= optimum - 1e-12);
    }
    let o = signest(&["effort", &s(&out), "--factor", "0.5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--factor must be a number >= 1"));
    let _ = std::fs::remove_dir_all(&root);
}
