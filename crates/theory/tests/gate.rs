//! The accuracy gate must catch planted defects (a gate that passes one is a bug) and must not
//! raise false alarms on a clean or a legitimately redrawn run.
//!
//! The experiment here is a smaller sibling of experiments/ci.toml (d = 2 reference case and
//! its homogeneous control, bt and exact sign, 60 replications) so that the seven gate runs
//! take seconds. The baseline is made from a clean run of the same code: what is under test is
//! the gate's power to tell a defective run from it.

use rand::RngExt;
use signest_core::Comparisons;
use signest_core::seed::{SimRng, stream};
use signest_sweep::{Cell, Experiment, Row, SweepError, run_unit_from};
use signest_theory::Study;
use signest_theory::gate::{Baseline, GateItem, GateRun, baseline_from, compare, execute};

const EXP: &str = r#"
name = "gate_test"
seed = 77
replications = 60
[dgp]
population = "two_type"
beta_bar = [1.0, 0.5]
v = [2.0, -0.5]
[grid]
n = [500, 2000, 8000]
heterogeneity = [0.0, 1.0]
[[estimator]]
name = "bt"
[[estimator]]
name = "sign"
solver = "exact"
[verify]
expect = ["C1", "C3", "C4"]
bootstrap = 500
"#;

fn exp() -> Study {
    Study::new(Experiment::parse(EXP, "gate_test.toml").unwrap()).unwrap()
}

fn clean(e: &Experiment, c: &Cell, k: u64) -> Result<Vec<Row>, SweepError> {
    signest_sweep::run_unit(e, c, k)
}

fn baseline() -> (Study, Baseline) {
    let e = exp();
    let run = execute(&e, &clean, Some(2)).unwrap();
    let b = baseline_from(&e, &run, serde_json::Value::Null);
    (e, b)
}

fn failed<'a>(items: &'a [GateItem], check: &str) -> Vec<&'a GateItem> {
    items
        .iter()
        .filter(|i| !i.pass && i.check == check)
        .collect()
}

fn gate(e: &Study, run: &GateRun, b: &Baseline) -> Vec<GateItem> {
    let items = compare(e, run, b);
    for i in items.iter().filter(|i| !i.pass) {
        eprintln!("  caught: {} {} — {}", i.check, i.subject, i.detail);
    }
    items
}

#[test]
fn clean_rerun_passes_every_item() {
    let (e, b) = baseline();
    let run = execute(&e, &clean, Some(1)).unwrap();
    let items = gate(&e, &run, &b);
    assert!(items.iter().all(|i| i.pass));
    // 1 experiment + 12 (cell, estimator) × 3 + verdicts + 6 replays
    assert!(items.len() >= 1 + 36 + 6, "{}", items.len());
}

/// A legitimate change that redraws every data set (another master seed) stays within the
/// accuracy and MCSE bounds: 24 accuracy items at k = 4 false-alarm with probability ≈ 8e-4.
#[test]
fn redrawn_data_pass_the_accuracy_items() {
    let (e, b) = baseline();
    let mut e2 = exp();
    e2.seed = 78;
    let run = execute(&e2, &clean, Some(2)).unwrap();
    let items = gate(&e, &run, &b);
    assert!(failed(&items, "accuracy").is_empty() && failed(&items, "mcse").is_empty());
}

#[test]
fn planted_label_flips_are_caught() {
    let (e, b) = baseline();
    let flip = |e: &Experiment, c: &Cell, k: u64| {
        let mut rng = stream(e.seed, &c.key, k);
        run_unit_from(e, c, k, &mut rng, &|data: Comparisons, rng: &mut SimRng| {
            let y: Vec<f64> = data
                .y()
                .iter()
                .map(|y| if rng.random::<f64>() < 0.2 { -y } else { *y })
                .collect();
            Comparisons::new(data.d(), data.z().to_vec(), y).unwrap()
        })
    };
    let run = execute(&e, &flip, Some(2)).unwrap();
    let items = gate(&e, &run, &b);
    assert!(
        !failed(&items, "accuracy").is_empty(),
        "20% flipped labels passed the gate"
    );
}

#[test]
fn planted_bt_for_sign_is_caught() {
    let (e, b) = baseline();
    let mut bad = exp();
    let bt = bad.estimators[0].estimator.clone();
    bad.estimators[1].estimator = bt;
    let run = execute(&bad, &clean, Some(2)).unwrap();
    let items = gate(&e, &run, &b);
    assert!(
        !failed(&items, "accuracy").is_empty(),
        "bt in place of sign passed the gate"
    );
    assert!(
        !failed(&items, "verdict").is_empty(),
        "no verdict flipped with bt in place of sign"
    );
}

#[test]
fn planted_thread_dependent_seed_is_caught() {
    let (e, b) = baseline();
    let threaded = |e: &Experiment, c: &Cell, k: u64| {
        let t = rayon::current_thread_index().map_or(0, |i| i as u64 + 1);
        let mut rng = stream(e.seed ^ t, &c.key, k);
        run_unit_from(e, c, k, &mut rng, &|d, _| d)
    };
    let run = execute(&e, &threaded, Some(2)).unwrap();
    let items = gate(&e, &run, &b);
    assert!(
        !failed(&items, "replay").is_empty(),
        "a thread-dependent seed passed the gate"
    );
}

#[test]
fn planted_grid_off_by_one_is_caught() {
    let (e, b) = baseline();
    // n one too large (keys follow n, as the grid builder makes them) ...
    let mut bad = exp();
    for c in &mut bad.cells {
        c.n += 1;
        c.key = c
            .key
            .replacen(&format!("n={}/", c.n - 1), &format!("n={}/", c.n), 1);
    }
    let run = execute(&bad, &clean, Some(2)).unwrap();
    assert!(
        !failed(&gate(&e, &run, &b), "grid").is_empty(),
        "n + 1 passed the gate"
    );
    // ... and the last grid point dropped.
    let mut short = exp();
    short.cells.retain(|c| c.n != 8000);
    let run = execute(&short, &clean, Some(2)).unwrap();
    assert!(
        !failed(&gate(&e, &run, &b), "grid").is_empty(),
        "a missing n passed the gate"
    );
}

#[test]
fn planted_zero_mcse_is_caught() {
    let (e, b) = baseline();
    let mut run = execute(&e, &clean, Some(2)).unwrap();
    for s in &mut run.summary {
        s.mcse_angular_error_deg = 0.0; // what a summariser with this defect would produce
    }
    let items = gate(&e, &run, &b);
    assert!(
        !failed(&items, "mcse").is_empty(),
        "MCSE = 0 passed the gate"
    );
}
