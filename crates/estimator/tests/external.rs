//! The `external` estimator's protocol and failure handling, with workers written in sh.

use signest_core::Comparisons;
use signest_estimator::{Estimator, External, FitError, NamedOptions, Registry};
use std::time::{Duration, Instant};

fn data() -> Comparisons {
    Comparisons::new(
        2,
        vec![1.0, 0.5, -0.2, 1.0, 0.3, -0.7],
        vec![1.0, -1.0, 1.0],
    )
    .unwrap()
}

fn sh(script: &str, timeout: f64) -> External {
    External::new(
        vec!["sh".into(), "-c".into(), script.into()],
        Duration::from_secs_f64(timeout),
    )
}

fn err(r: Result<signest_estimator::Fit, FitError>) -> String {
    match r {
        Err(FitError::External(m)) => m,
        other => panic!("expected an external failure, got {other:?}"),
    }
}

#[test]
fn a_worker_answers_every_request_with_the_files_it_was_sent() {
    // The worker reads the request, logs the path it was sent (before answering, so the log
    // is complete when the fit returns), checks that z.npy has the .npy magic, and answers a
    // fixed direction; the harness normalises it and removes the files.
    let log = std::env::temp_dir().join(format!("signest-ext-log-{}", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let e = sh(
        &format!(
            r#"while read l; do z=$(echo "$l" | sed 's/.*"z":"\([^"]*\)".*/\1/'); echo "$z" >> '{}'; head -c 6 "$z" | grep -q NUMPY && echo '{{"direction": [3, 4], "notes": ["ok"]}}' || echo '{{"error": "no z.npy"}}'; done"#,
            log.display()
        ),
        10.0,
    );
    for _ in 0..3 {
        let f = e.fit(&data()).unwrap();
        assert_eq!(f.direction, vec![0.6, 0.8]);
        assert_eq!(f.notes, vec!["ok".to_string()]);
    }
    let sent = std::fs::read_to_string(&log).unwrap();
    let paths: Vec<&str> = sent.lines().collect();
    assert_eq!(paths.len(), 3);
    assert!(
        paths
            .iter()
            .all(|p| p.ends_with("z.npy") && !std::path::Path::new(p).exists())
    );
}

#[test]
fn failures_are_failed_fits_and_the_worker_is_restarted() {
    // Answers `[1, 0]` except: request 2 → exits, so the next fit needs a new worker.
    let crash = sh(
        r#"k=0; while read l; do k=$((k+1)); [ $k -eq 2 ] && { echo dying >&2; exit 3; }; echo '{"direction": [1, 0]}'; done"#,
        10.0,
    );
    assert!(crash.fit(&data()).is_ok());
    let m = err(crash.fit(&data()));
    assert!(
        m.contains("exited before answering") && m.contains("dying"),
        "{m}"
    );
    // A fresh worker (its counter restarts at 1) answers again.
    assert!(crash.fit(&data()).is_ok());

    let hang = sh(r#"while read l; do sleep 30; done"#, 0.3);
    let t = Instant::now();
    let m = err(hang.fit(&data()));
    assert!(m.contains("no answer within 0.3 s"), "{m}");
    assert!(t.elapsed() < Duration::from_secs(5));

    for (answer, want) in [
        ("hello", "malformed answer"),
        (r#"{"direction": [1, 2, 3]}"#, "3 entries for d = 2"),
        (r#"{"direction": [0, 0]}"#, "direction is zero"),
        (r#"{"direction": [1, null]}"#, "malformed answer"),
        (
            r#"{"error": "my estimator failed"}"#,
            "the worker reported: my estimator failed",
        ),
        (r#"{"objective": 1}"#, "no \"direction\""),
    ] {
        let e = sh(&format!("while read l; do echo '{answer}'; done"), 10.0);
        let m = err(e.fit(&data()));
        assert!(m.contains(want), "{answer}: {m}");
        // A malformed answer leaves the worker running: it answers the next request too.
        let m2 = err(e.fit(&data()));
        assert!(m2.contains(want), "{answer}, second request: {m2}");
    }
    let missing = External::new(vec!["/nonexistent/worker".into()], Duration::from_secs(1));
    assert!(err(missing.fit(&data())).contains("cannot start"));
}

#[test]
fn the_registry_checks_command_and_timeout() {
    let r = Registry::builtin();
    let e = r
        .build("external", &NamedOptions::default())
        .err()
        .expect("command is required");
    assert!(e.to_string().contains("command"), "{e}");
    let bad = NamedOptions {
        command: Some(vec!["true".into()]),
        timeout_seconds: Some(0.0),
        ..NamedOptions::default()
    };
    assert!(
        r.build("external", &bad)
            .err()
            .unwrap()
            .to_string()
            .contains("timeout_seconds")
    );
    let wrong = NamedOptions {
        ridge: Some(1.0),
        command: Some(vec!["true".into()]),
        ..NamedOptions::default()
    };
    assert!(
        r.build("external", &wrong)
            .err()
            .unwrap()
            .to_string()
            .contains("ridge")
    );
}
