"""External estimators in sweeps: the scikit-learn example against the built-in bt on every
unit, and workers that crash or hang (failed fits with messages; the sweep goes on)."""

import os
import sys

import numpy as np
import pytest

import signest

from helpers import ROOT, reference_experiment


@pytest.fixture
def in_root(monkeypatch):
    # Workers are started as written in the experiment file, from the current directory, with
    # this interpreter first on PATH (it has signest and scikit-learn).
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])


def col(t, name):
    return np.asarray(t[name])


def test_example_a_matches_builtin_bt_on_every_unit(in_root, tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    log = tmp_path / "angles.txt"
    monkeypatch.setenv("SIGNEST_EXAMPLE_LOG", str(log))
    out = signest.run("examples/external_sklearn/experiment.toml", out=tmp_path / "ex", progress=False)
    angles = [float(line.split()[1]) for line in log.read_text().splitlines()]
    assert len(angles) == 20
    assert max(angles) < 1e-4, max(angles)
    runs = signest.load(out)["runs"]
    est, err = col(runs, "estimator"), col(runs, "angular_error_deg")
    assert np.all(col(runs, "status")[est == "sklearn_lr"] == "heuristic")
    # Same units, same order: the angular errors agree to the same precision.
    assert np.max(np.abs(err[est == "bt"] - err[est == "sklearn_lr"])) < 1e-4


EXP = reference_experiment("flaky", 3, 6, [500], """
[[estimator]]
name = "bt"

[[estimator]]
name = "external"
label = "flaky"
command = ["python3", "crates/python/tests/workers/flaky.py"]
timeout_seconds = 3
""", extra="max_failures = 10")


@pytest.mark.parametrize("env,message", [("CRASH_AT", "exited before answering"),
                                          ("HANG_AT", "no answer within 3 s")])
def test_a_crashing_or_hanging_worker_fails_its_unit_and_the_sweep_goes_on(
        in_root, tmp_path, monkeypatch, env, message):
    monkeypatch.setenv(env, "2")
    exp = tmp_path / "flaky.toml"
    exp.write_text(EXP)
    out = signest.run(exp, out=tmp_path / "o", threads=1, progress=False)
    runs = signest.load(out)["runs"]
    est, status = col(runs, "estimator"), col(runs, "status")
    errors = [str(e) for e, s, l in zip(col(runs, "error"), status, est) if l == "flaky" and s == "error"]
    # Request 2 of the first worker fails; the restarted worker counts from 1 again, so its
    # second request (unit 3 of the run) fails too, and so on: every other unit.
    assert len(errors) == 3, errors
    assert all(message in e for e in errors), errors
    if env == "CRASH_AT":
        assert all("crashing on purpose" in e for e in errors), errors
    ok = (est == "flaky") & (status != "error")
    assert ok.sum() == 3
    # The successful units equal bt's (the worker fits bt).
    e = col(runs, "angular_error_deg")
    assert np.allclose(e[ok], e[(est == "bt")][ok[est == "flaky"]], atol=1e-9)


def test_serve_round_trip_in_process(tmp_path):
    # serve() itself, without a process: a request line in, an answer line out.
    import io
    import json

    Z = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    np.save(tmp_path / "z.npy", Z)
    np.save(tmp_path / "y.npy", np.array([1.0, -1.0, 1.0]))
    req = json.dumps({"protocol": 1, "n": 3, "d": 2, "z": str(tmp_path / "z.npy"),
                      "y": str(tmp_path / "y.npy"), "w": None, "groups": None})
    out = io.StringIO()
    signest.serve(lambda Z, y, w: {"direction": [2.0, 1.0], "notes": ["n"]}, io.StringIO(req + "\n"), out)
    assert json.loads(out.getvalue()) == {"direction": [2.0, 1.0], "notes": ["n"]}
    out = io.StringIO()
    signest.serve(lambda Z, y, w: 1 / 0, io.StringIO(req + "\n"), out)
    assert json.loads(out.getvalue())["error"].startswith("ZeroDivisionError")
    out = io.StringIO()
    signest.serve(lambda Z, y, w: [np.nan, 1.0], io.StringIO(req + "\n"), out)
    assert "non-finite" in json.loads(out.getvalue())["error"]


@pytest.mark.skipif(not os.path.exists(os.environ.get("SIGNEST_BIN", os.path.join(ROOT, "target", "release", "signest"))),
                    reason="the signest binary is not built")
def test_the_gate_on_a_users_estimator_passes_and_catches_a_planted_slip(in_root, tmp_path, monkeypatch):
    import subprocess

    pytest.importorskip("sklearn")
    bin_ = os.environ.get("SIGNEST_BIN", os.path.join(ROOT, "target", "release", "signest"))
    args = [bin_, "check", "--experiment", "examples/external_gate/ci.toml",
            "--baseline", "examples/external_gate/baseline.json"]
    ok = subprocess.run(args + ["--out", str(tmp_path / "ok")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "check: 17 passed, 0 failed" in ok.stdout
    monkeypatch.setenv("MY_ESTIMATOR_BUG", "1")
    bad = subprocess.run(args + ["--out", str(tmp_path / "bad")], capture_output=True, text=True)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    # The failed items' table: | check | subject | value | baseline | change | allowed | unit | result | detail |
    rows = [r.split("|") for r in bad.stdout.splitlines() if r.startswith("| accuracy |")]
    assert any(r[2].strip() == "n=2000/d=2/heterogeneity=1 my_estimator" and r[8].strip() == "FAIL"
               for r in rows), bad.stdout
