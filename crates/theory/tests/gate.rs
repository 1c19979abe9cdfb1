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
use signest_theory::gate::{
    Baseline, GateItem, GateRun, baseline_from, compare, execute, runs_hash,
};

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

/// The experiment, its baseline and the clean run (2 threads) the baseline was made from:
/// tests that plant defects in a clean run start from that one instead of running it again.
fn baseline() -> (Study, Baseline, GateRun) {
    let e = exp();
    let run = execute(&e, &clean, Some(2)).unwrap();
    let b = baseline_from(&e, &run, serde_json::Value::Null);
    (e, b, run)
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
    let (e, b, _) = baseline();
    let run = execute(&e, &clean, Some(1)).unwrap();
    let items = gate(&e, &run, &b);
    assert!(items.iter().all(|i| i.pass));
    // 1 experiment + 12 (cell, estimator) × 3 + 4 targets + verdicts × (1 + 3) + 6 replays
    assert!(items.len() >= 1 + 36 + 4 + 6, "{}", items.len());
    // Same code, same seed: every compared number is unchanged.
    for i in items
        .iter()
        .filter(|i| i.check == "statistic" || i.check == "target")
    {
        assert!(
            i.change == 0.0,
            "{} {} moved by {}",
            i.check,
            i.subject,
            i.change
        );
    }
    assert_eq!(items.iter().filter(|i| i.check == "target").count(), 4);
    assert!(items.iter().filter(|i| i.check == "statistic").count() >= 3 * 8);
}

/// A legitimate change that redraws every data set (another master seed) stays within the
/// accuracy and MCSE bounds: 24 accuracy items at k = 4 false-alarm with probability ≈ 8e-4.
#[test]
fn redrawn_data_pass_the_accuracy_items() {
    let (e, b, clean_run) = baseline();
    let mut e2 = exp();
    e2.seed = 78;
    let run = execute(&e2, &clean, Some(2)).unwrap();
    // The runs hash (what `identical_runs` of a baseline change records) tells the redraw
    // from the baseline's runs, and only the timings apart from a clean rerun.
    assert_ne!(runs_hash(&run.rows), b.runs_hash);
    let mut timed = clean_run.rows;
    for r in &mut timed {
        r.fit_seconds += 1.0;
    }
    assert_eq!(runs_hash(&timed), b.runs_hash);
    assert!(b.runs_hash.len() == 16 && b.runs_hash.chars().all(|c| c.is_ascii_hexdigit()));
    let items = gate(&e, &run, &b);
    assert!(failed(&items, "accuracy").is_empty() && failed(&items, "mcse").is_empty());
    // The statistic items (k_s from a 1e-3 family-wise rate) and the targets (independent of
    // the seed) pass a redraw too; the statistics did move, by about one SE.
    assert!(failed(&items, "statistic").is_empty() && failed(&items, "target").is_empty());
    let moved = items
        .iter()
        .filter(|i| i.check == "statistic" && i.unit == "bootstrap SE")
        .map(|i| i.change.abs())
        .fold(0.0, f64::max);
    assert!(
        moved > 0.1,
        "a redraw left every statistic unchanged ({moved})"
    );
}

/// The defect the verdict items alone missed: a statistic computed by a wrong rule whose
/// pass/fail does not change. Every verdict's statistic and interval are shifted by 6
/// combined bootstrap SEs (pass/fail kept): each shifted number must be caught; a shift by
/// one SE (what a redraw does) must not be.
#[test]
fn planted_statistic_shift_is_caught_without_a_verdict_flip() {
    let (e, b, clean_run) = baseline();
    for (shift, caught) in [(6.0, true), (1.0, false)] {
        let mut run = clean_run.clone();
        for v in run
            .verdicts
            .iter_mut()
            .filter(|v| v.se.is_finite() && v.se > 0.0)
        {
            let d = shift * v.se * 2f64.sqrt();
            v.value += d;
            v.lo += d;
            v.hi += d;
        }
        let items = gate(&e, &run, &b);
        assert!(failed(&items, "verdict").is_empty());
        let shifted = run
            .verdicts
            .iter()
            .filter(|v| v.se.is_finite() && v.se > 0.0)
            .count();
        assert!(shifted >= 8, "{shifted}");
        let n_failed = failed(&items, "statistic").len();
        if caught {
            assert_eq!(
                n_failed,
                3 * shifted,
                "a 6-SE shift passed the statistic items"
            );
        } else {
            assert_eq!(n_failed, 0, "a 1-SE shift raised an alarm");
        }
    }
}

/// The other defect: a target computed by a coarser rule, moved by 1e-8° while it states an
/// error of 1e-9° (the quadrature floor). Caught; a move of 1e-13° (rounding) is not.
#[test]
fn planted_target_move_beyond_its_stated_error_is_caught() {
    let (e, b, clean_run) = baseline();
    assert!(clean_run.targets.iter().all(|t| {
        t.error_deg <= signest_theory::targets::QUADRATURE_ERROR_FLOOR_DEG
            && t.method == "quadrature"
    }));
    for (mv, caught) in [(1e-8, true), (1e-13, false)] {
        let mut run = clean_run.clone();
        run.targets[2].bias_deg += mv;
        let items = gate(&e, &run, &b);
        assert_eq!(
            failed(&items, "target").len(),
            usize::from(caught),
            "move {mv}"
        );
    }
    let mut run = clean_run.clone();
    run.targets[0].method = "stream".into();
    assert_eq!(
        failed(&gate(&e, &run, &b), "target").len(),
        1,
        "a changed method passed"
    );
}

/// `check --update-baseline` needs a reason, keeps the history and records what moved.
#[test]
fn baseline_updates_record_their_reason_and_history() {
    let dir = std::env::temp_dir().join(format!("signest-gate-history-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let exp_path = dir.join("gate_test.toml");
    std::fs::write(&exp_path, EXP).unwrap();
    let base = dir.join("baseline.json");
    let out = dir.join("latest");
    let check = signest_theory::gate::check;
    assert!(check(&exp_path, &base, &out, Some("  "), Some(2)).is_err());
    assert!(
        !base.exists(),
        "an update without a reason wrote a baseline"
    );
    check(&exp_path, &base, &out, Some("first"), Some(2)).unwrap();
    let o = check(&exp_path, &base, &out, Some("second"), Some(2)).unwrap();
    assert!(o.baseline_updated);
    let b: Baseline = serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    let reasons: Vec<&str> = b.changes.iter().map(|c| c.reason.as_str()).collect();
    assert_eq!(reasons, ["first", "second"]);
    assert_eq!(b.changes[0].identical_runs, None);
    assert_eq!(b.changes[1].identical_runs, Some(true));
    assert!(b.changes[1].moved.is_empty());
    let o = check(&exp_path, &base, &out, None, Some(2)).unwrap();
    assert!(o.identical_to_baseline && o.items.iter().all(|i| i.pass));
    let report = std::fs::read_to_string(out.join("check.md")).unwrap();
    assert!(report.contains("| check | subject | value | baseline | change | allowed |"));
    assert!(report.contains("False alarms"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn planted_label_flips_are_caught() {
    let (e, b, _) = baseline();
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
    let (e, b, _) = baseline();
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
    let (e, b, _) = baseline();
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
    let (e, b, clean_run) = baseline();
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
    // Each of a cell's coordinates compared on its own: the same cell key whose recorded n,
    // d, heterogeneity, type weight or replication count differs from the run's.
    let run = clean_run;
    type Edit = fn(&mut signest_theory::gate::BaseCell);
    let edits: [(&str, Edit); 5] = [
        ("n", |c| c.n += 1),
        ("d", |c| c.d += 1),
        ("heterogeneity", |c| c.heterogeneity += 0.5),
        ("type_weight", |c| c.type_weight = Some(0.3)),
        ("n_reps", |c| c.n_reps -= 1),
    ];
    for (what, edit) in edits {
        let mut b2 = b.clone();
        edit(&mut b2.cells[0]);
        let items = gate(&e, &run, &b2);
        let f = failed(&items, "grid");
        assert_eq!(
            f.len(),
            1,
            "a baseline cell with another {what} passed the gate"
        );
    }
}

#[test]
fn planted_zero_mcse_is_caught() {
    let (e, b, mut run) = baseline();
    for s in &mut run.summary {
        s.mcse_angular_error_deg = 0.0; // what a summariser with this defect would produce
    }
    let items = gate(&e, &run, &b);
    assert!(
        !failed(&items, "mcse").is_empty(),
        "MCSE = 0 passed the gate"
    );
}

/// The accuracy item is one-sided at K combined MCSEs and reports the change in those units;
/// the MCSE item bounds the ratio both ways. Numbers planted in one cell's summary of a clean
/// run (survivors of `just mutants gate`: the limit `b + K·se` read as `b + K + se`, the change
/// as a product).
#[test]
fn accuracy_and_mcse_items_hold_their_bounds() {
    use signest_theory::gate::{K, MCSE_RATIO};
    let (e, b, clean_run) = baseline();
    let s0 = clean_run.summary[0].clone();
    let b0 = b
        .cells
        .iter()
        .find(|c| c.cell == s0.cell && c.estimator == s0.estimator)
        .unwrap();
    let se = (s0.mcse_angular_error_deg.powi(2) + b0.mcse_angular_error_deg.powi(2)).sqrt();
    assert!(se > 0.0 && K * se < K + se, "construction: se {se}");
    let subject = format!("{} {}", s0.cell, s0.estimator);
    let find = |items: &[GateItem], check: &str| -> GateItem {
        items
            .iter()
            .find(|i| i.check == check && i.subject == subject)
            .unwrap()
            .clone()
    };
    for (shift, pass) in [(K + 0.5, false), (K - 0.5, true), (-3.0 * K, true)] {
        let mut run = clean_run.clone();
        run.summary[0].mean_angular_error_deg = b0.mean_angular_error_deg + shift * se;
        let a = find(&compare(&e, &run, &b), "accuracy");
        assert_eq!(a.pass, pass, "shift {shift} SE: {a:?}");
        assert!(
            (a.change - shift).abs() < 1e-9,
            "change in MCSE units: {a:?}"
        );
        assert_eq!(a.allowed, K);
    }
    for (factor, pass) in [
        (MCSE_RATIO * 1.1, false),
        (MCSE_RATIO * 0.9, true),
        (1.0 / (MCSE_RATIO * 0.9), true),
        (1.0 / (MCSE_RATIO * 1.1), false),
    ] {
        let mut run = clean_run.clone();
        run.summary[0].mcse_angular_error_deg = b0.mcse_angular_error_deg * factor;
        let m = find(&compare(&e, &run, &b), "mcse");
        assert_eq!(m.pass, pass, "MCSE × {factor}: {m:?}");
        assert!((m.change - factor).abs() < 1e-9, "{m:?}");
    }
}

/// A target's bounds by route, at their edges: deterministic within e + e_b + floor (not the
/// stream's K·√(e² + e_b²)); stream within K combined errors; the direction within the same
/// limit as the bias. Errors and moves planted in a clean run's targets and the baseline's.
/// (Survivors of `just mutants gate`: the route test inverted, the stream's √(e² + e_b²) as a
/// product, the direction limit's `k·se + floor` as `k·se·floor` or `k/se + floor`.)
#[test]
fn target_bounds_by_route_at_their_edges() {
    use signest_theory::gate::{K, TARGET_FLOOR_DEG};
    let (e, b, clean_run) = baseline();
    let i = 2;
    let bi = b
        .targets
        .iter()
        .position(|t| {
            t.group == clean_run.targets[i].group && t.estimator == clean_run.targets[i].estimator
        })
        .unwrap();
    let err = 1e-9;
    let run_with = |method: &str, bias_move: f64, dir_move: f64| {
        let mut run = clean_run.clone();
        let mut base = b.clone();
        run.targets[i].method = method.into();
        run.targets[i].error_deg = err;
        base.targets[bi].method = method.into();
        base.targets[bi].error_deg = err;
        run.targets[i].bias_deg = base.targets[bi].bias_deg + bias_move;
        // Rotate the direction (d = 2) by dir_move degrees.
        let x: Vec<f64> = base.targets[bi]
            .direction
            .split_whitespace()
            .map(|s| s.parse().unwrap())
            .collect();
        let a = dir_move.to_radians();
        let r = [
            x[0] * a.cos() - x[1] * a.sin(),
            x[0] * a.sin() + x[1] * a.cos(),
        ];
        run.targets[i].direction = format!("{:.17e} {:.17e}", r[0], r[1]);
        let items = compare(&e, &run, &base);
        failed(&items, "target").len()
    };
    // Deterministic: allowed 2·err + floor = 3e-9°.
    let det = 2.0 * err + TARGET_FLOOR_DEG;
    assert_eq!(
        run_with("quadrature", 1.5 * det, 0.0),
        1,
        "bias beyond e + e_b + floor"
    );
    assert_eq!(run_with("quadrature", 0.5 * det, 0.0), 0);
    // The stream bound K·√2·err + floor ≈ 6.7e-9° would let 4.5e-9° through: it must not.
    assert!(K * 2f64.sqrt() * err + TARGET_FLOOR_DEG > 1.5 * det);
    assert_eq!(
        run_with("quadrature", 0.0, 1.5 * det),
        1,
        "direction beyond the limit"
    );
    assert_eq!(run_with("quadrature", 0.0, 0.5 * det), 0);
    // Stream: allowed K·√2·err + floor.
    let st = K * 2f64.sqrt() * err + TARGET_FLOOR_DEG;
    assert_eq!(
        run_with("stream", 1.2 * st, 0.0),
        1,
        "stream bias beyond K combined errors"
    );
    assert_eq!(run_with("stream", 0.8 * st, 0.0), 0, "stream bias within");
    assert_eq!(
        run_with("stream", 0.0, 1.2 * st),
        1,
        "stream direction beyond"
    );
    assert_eq!(run_with("stream", 0.0, 0.8 * st), 0);
}

/// Cells, targets and verdicts present on one side only: each is one failed item, named as
/// such; a baseline without targets (made before targets were compared) raises no target
/// item for the run's targets.
#[test]
fn items_on_one_side_only_are_caught() {
    let (e, b, run) = baseline();
    let mut b2 = b.clone();
    b2.cells.remove(0);
    let items = gate(&e, &run, &b2);
    let f = failed(&items, "grid");
    assert_eq!(f.len(), 1);
    assert!(
        f[0].detail.contains("not in the baseline"),
        "{}",
        f[0].detail
    );

    let mut b2 = b.clone();
    b2.targets.remove(0);
    let items = gate(&e, &run, &b2);
    let f = failed(&items, "target");
    assert_eq!(f.len(), 1);
    assert!(f[0].detail.contains("new target"), "{}", f[0].detail);

    let mut b2 = b.clone();
    b2.targets.clear();
    assert!(failed(&gate(&e, &run, &b2), "target").is_empty());

    let mut b2 = b.clone();
    b2.verdicts.remove(0);
    let items = gate(&e, &run, &b2);
    let f = failed(&items, "verdict");
    assert_eq!(f.len(), 1);
    assert!(f[0].detail.contains("new verdict"), "{}", f[0].detail);
}

/// k_s is the Bonferroni quantile over the numbers with a bootstrap SE: three per baseline
/// verdict with se > 0 (value, lo, hi), counted here from the baseline.
#[test]
fn statistic_k_counts_the_numbers_with_a_standard_error() {
    use signest_theory::gate::{statistic_k, statistic_k_of};
    let (e, b, run) = baseline();
    let items = gate(&e, &run, &b);
    let with_se = b
        .verdicts
        .iter()
        .filter(|v| v.se.is_some_and(|s| s > 0.0))
        .count();
    assert!(with_se >= 3, "construction: {with_se}");
    let ks = statistic_k(3 * with_se);
    assert_eq!(statistic_k_of(&items), ks);
    let stat: Vec<_> = items
        .iter()
        .filter(|i| i.check == "statistic" && i.unit == "bootstrap SE")
        .collect();
    assert_eq!(stat.len(), 3 * with_se);
    assert!(stat.iter().all(|i| i.allowed == ks));
    assert!(statistic_k_of(&[]).is_nan());
}

/// Each baseline entry removed in turn (a cell of one estimator, a target): exactly one item
/// fails, and it names that entry. A search that matched on the cell or group alone, or on the
/// estimator alone, would name a different entry or none (the gate's cells have two
/// estimators each, so removing one leaves the other under the same key). Written for the two
/// survivors of the gate mutation sample (`==` → `!=` in the "in this run but not in the
/// baseline" searches).
#[test]
fn a_removed_baseline_entry_is_named_exactly() {
    let (e, b, run) = baseline();
    for i in 0..b.cells.len() {
        let mut b2 = b.clone();
        let gone = b2.cells.remove(i);
        let f: Vec<_> = gate(&e, &run, &b2)
            .into_iter()
            .filter(|x| !x.pass && x.check == "grid")
            .collect();
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].subject, format!("{} {}", gone.cell, gone.estimator));
    }
    for i in 0..b.targets.len() {
        let mut b2 = b.clone();
        let gone = b2.targets.remove(i);
        let f: Vec<_> = gate(&e, &run, &b2)
            .into_iter()
            .filter(|x| !x.pass && x.check == "target")
            .collect();
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].subject, format!("{} {}", gone.group, gone.estimator));
    }
}
