"""The Python estimators: shapes and errors, agreement with `signest fit --json` on the same
data, scikit-learn compatibility, and the GIL released during fits.

Run from the repository root after `pip install ./crates/python` (and `cargo build --release`
for the CLI comparison; SIGNEST_BIN overrides the binary's path)."""

import json
import os
import subprocess
import threading
import time

import numpy as np
import pytest

import signest

from helpers import ROOT
BIN = os.environ.get("SIGNEST_BIN", os.path.join(ROOT, "target", "release", "signest"))


def panel(n_resp=150, m=10, d=3, seed=0):
    rng = np.random.default_rng(seed)
    n = n_resp * m
    Z = rng.standard_normal((n, d))
    g = np.repeat(np.arange(n_resp) * 7 + 3, m)  # ids need not be 0..R-1
    types = np.where(rng.random(n_resp) < 0.4, 0, 1)[np.repeat(np.arange(n_resp), m)]
    betas = np.array([[3.0, 0.0, 0.5], [-1.0, 1.0, 0.0]])[:, :d]
    u = np.einsum("ij,ij->i", Z, betas[types]) + rng.logistic(size=n)
    y = np.where(u > 0, 1, -1)
    w = rng.uniform(0.5, 2.0, size=n)
    return Z, y, g, w


def angle(a, b):
    a, b = np.asarray(a) / np.linalg.norm(a), np.asarray(b) / np.linalg.norm(b)
    return np.degrees(2 * np.arcsin(min(1.0, np.linalg.norm(a - b) / 2)))


def cli_fit(tmp_path, Z, y, g, args):
    path = tmp_path / "data.csv"
    d = Z.shape[1]
    cols = [y.reshape(-1, 1), Z, g.reshape(-1, 1)]
    header = "y," + ",".join(f"x{j + 1}" for j in range(d)) + ",respondent"
    np.savetxt(path, np.hstack(cols), fmt=["%d"] + ["%.17g"] * d + ["%d"], delimiter=",",
               header=header, comments="")
    out = subprocess.run([BIN, "fit", "--data", str(path), "--json"] + args,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


CASES = [
    (signest.BT(), ["--estimator", "bt"]),
    (signest.BT(solver="subsampled"), ["--estimator", "bt", "--solver", "subsampled"]),
    (signest.Sign(solver="exact"), ["--estimator", "sign", "--solver", "exact"]),
    (signest.Sign(solver="smooth", seed=3), ["--estimator", "sign", "--solver", "smooth", "--seed", "3"]),
    (signest.Sign(solver="anneal", profile="fast"),
     ["--estimator", "sign", "--solver", "anneal", "--profile", "fast"]),
    (signest.Hinge(), ["--estimator", "hinge"]),
    (signest.LatentClass(k=2), ["--estimator", "em"]),
    (signest.PerUser(), ["--estimator", "peruser"]),
]


@pytest.mark.skipif(not os.path.exists(BIN), reason="the signest binary is not built")
@pytest.mark.parametrize("est,args", CASES, ids=[a[1] + (a[3] if len(a) > 3 else "") for _, a in CASES])
def test_agrees_with_signest_fit_json(tmp_path, est, args):
    # The same Rust fit on the same numbers (the CSV round-trips f64 exactly): same direction
    # to the bit, same 0-1 loss and status.
    Z, y, g, _ = panel()
    est.fit(Z, y, groups=g)
    ref = cli_fit(tmp_path, Z, y, g, args)
    assert angle(est.direction_, ref["direction"]) < 1e-9
    assert est.loss01_ == pytest.approx(ref["loss01"], abs=1e-15)
    assert est.status_ == ref["status"]
    assert est.certified_ == ref["certified"]


def test_fitted_attributes_and_certificate():
    Z, y, g, w = panel(d=2)
    s = signest.Sign().fit(Z, y, sample_weight=w)
    assert s.certified_ and s.gap_ == 0.0 and s.status_ == "certified_optimal"
    assert s.direction_.shape == (2,) and abs(np.linalg.norm(s.direction_) - 1) < 1e-12
    assert 0 <= s.loss01_ <= 1 and s.fit_seconds_ >= 0 and s.n_features_in_ == 2
    # The exact minimum: no direction on a fine circle has a lower weighted 0-1 loss.
    t = np.linspace(0, 2 * np.pi, 20000, endpoint=False)
    U = np.stack([np.cos(t), np.sin(t)], axis=1)
    m = (Z * y[:, None]) @ U.T
    loss = ((m < 0) * w[:, None] + (m == 0) * 0.5 * w[:, None]).sum(0) / w.sum()
    assert s.loss01_ <= loss.min() + 1e-12


def test_labels_pm1_and_01_give_the_same_fit_and_predictions():
    Z, y, _, _ = panel()
    a = signest.BT().fit(Z, y)
    b = signest.BT().fit(Z, (y > 0).astype(int))
    c = signest.BT().fit(Z, y > 0)
    assert np.array_equal(a.direction_, b.direction_) and np.array_equal(a.direction_, c.direction_)
    assert set(np.unique(b.predict(Z))) <= {0, 1}
    assert set(np.unique(a.predict(Z))) <= {-1, 1}
    assert a.score(Z, y) == b.score(Z, (y > 0).astype(int))
    assert np.array_equal(a.decision_function(Z) > 0, a.predict(Z) == 1)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda Z, y: signest.BT().fit(Z[:, 0], y), "two-dimensional"),
        (lambda Z, y: signest.BT().fit(Z, y[:-1]), "entries for"),
        (lambda Z, y: signest.BT().fit(Z, 2 * y), "±1 or 0/1"),
        (lambda Z, y: signest.BT().fit(np.where(np.arange(Z.size).reshape(Z.shape) == 4, np.nan, Z), y),
         "row 1, column 1: feature is not a finite number"),
        (lambda Z, y: signest.BT().fit(Z, y, sample_weight=-np.ones(len(y))), "weight"),
        (lambda Z, y: signest.BT().fit(Z, y, sample_weight=np.ones(3)), "sample_weight has 3 entries"),
        (lambda Z, y: signest.Sign(solver="nope").fit(Z, y), "^solver: "),
        (lambda Z, y: signest.BT(ridge=-1.0).fit(Z, y), "^ridge: "),
        (lambda Z, y: signest.Sign(solver="anneal", profile="quick").fit(Z, y), "^profile: .*fast"),
        (lambda Z, y: signest.Sign(solver="smooth", profile="fast").fit(Z, y), "^profile: .*does not apply"),
        (lambda Z, y: signest.Sign(max_memory_mib=0).fit(Z, y), "^max_memory_mib: .*at least 1"),
        (lambda Z, y: signest.Sign(solver="anneal", max_memory_mib=64).fit(Z, y),
         "^max_memory_mib: .*does not apply"),
        (lambda Z, y: signest.LatentClass(k=99).fit(Z, y, groups=np.arange(len(y)) // 5), "^k: "),
        (lambda Z, y: signest.PerUser().fit(Z, y), "respondent ids"),
        (lambda Z, y: signest.PerUser().fit(Z, y, groups=np.arange(3)), "groups must have shape"),
        (lambda Z, y: signest.BT().predict(Z), "not fitted"),
        (lambda Z, y: signest.BT().fit(Z, y).predict(Z[:, :2]), "must have shape"),
    ],
)
def test_bad_input_raises_value_error_with_the_message(make, match):
    Z, y, _, _ = panel()
    with pytest.raises(ValueError, match=match):
        make(Z, y)


def test_scikit_learn_compatibility():
    sklearn = pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    Z, y, _, _ = panel()
    s = signest.Sign(solver="smooth", seed=1)
    assert s.get_params() == {"solver": "smooth", "seed": 1, "random_starts": None,
                              "max_nodes": None, "time_limit": None, "max_memory_mib": None,
                              "profile": None}
    c = clone(s).set_params(seed=2)
    assert c.seed == 2 and s.seed == 1
    scores = cross_val_score(signest.BT(), Z, y, cv=4)
    assert scores.shape == (4,) and np.all((scores > 0.5) & (scores <= 1))
    p = make_pipeline(FunctionTransformer(lambda X: 2 * X), signest.Sign(solver="exact"))
    p.fit(Z, y)
    assert p.score(Z, y) == signest.Sign(solver="exact").fit(Z, y).score(Z, y)
    assert sklearn.base.is_classifier(signest.BT())


def test_the_gil_is_released_during_a_fit():
    # A fit of ~0.5 s or more in a thread: the main thread keeps running Python meanwhile.
    rng = np.random.default_rng(5)
    Z = rng.standard_normal((200_000, 8))
    y = np.where(Z @ np.arange(1, 9) + rng.logistic(size=len(Z)) > 0, 1, -1)
    done = threading.Event()
    t = threading.Thread(target=lambda: (signest.Sign(solver="smooth").fit(Z, y), done.set()))
    ticks = 0
    t0 = time.perf_counter()
    t.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    t.join()
    elapsed = time.perf_counter() - t0
    # With the GIL held for the whole fit the loop would run about once; released, about
    # once per millisecond (allow a factor 10 for a loaded machine).
    assert elapsed < 0.05 or ticks >= elapsed * 100, (ticks, elapsed)
