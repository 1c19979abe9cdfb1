"""signest from Python: the sign estimator and its baselines as scikit-learn-style estimators.

    import numpy as np, signest
    Z = np.random.default_rng(0).standard_normal((2000, 3))        # feature differences z_a - z_b
    y = np.where(Z @ [1.0, 0.5, 0.0] + np.random.default_rng(1).logistic(size=2000) > 0, 1, -1)
    s = signest.Sign(solver="exact").fit(Z, y)
    s.direction_, s.loss01_, s.certified_, s.score(Z, y)

Every estimator fits a unit direction u (no intercept: a comparison's features are already
differences) and predicts the first alternative when u'z > 0. The fits run in Rust with the
GIL released (the same code and the same checks as `signest fit`); bad input raises
ValueError with the Rust message. With scikit-learn installed the classes are scikit-learn
estimators (clone, pipelines, `cross_val_score`); without it they keep the same interface.
"""

import inspect

import numpy as np

from . import _signest

__version__ = _signest.__version__
__all__ = ["Sign", "BT", "Hinge", "LatentClass", "PerUser", "estimators", "run", "verify",
           "report", "load", "serve", "__version__"]

try:  # scikit-learn is optional: its base classes when present, a stand-in otherwise.
    from sklearn.base import BaseEstimator as _Base
    from sklearn.base import ClassifierMixin as _Mixin
except ImportError:  # pragma: no cover - exercised only without scikit-learn

    class _Base:
        @classmethod
        def _get_param_names(cls):
            sig = inspect.signature(cls.__init__)
            return sorted(p for p in sig.parameters if p != "self")

        def get_params(self, deep=True):
            return {k: getattr(self, k) for k in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for k, v in params.items():
                if k not in valid:
                    raise ValueError(f"invalid parameter {k!r} for {type(self).__name__}: {valid}")
                setattr(self, k, v)
            return self

        def __repr__(self):
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
            return f"{type(self).__name__}({args})"

    class _Mixin:
        _estimator_type = "classifier"

        def score(self, X, y, sample_weight=None):
            yp = self.predict(X)
            w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
            return float(np.average(yp == np.asarray(y), weights=w))


def estimators():
    """The built-in estimators: name -> [(solver, settings, guarantee), ...], default first."""
    return _signest.estimators()


class _Bar:
    """A progress bar: tqdm (terminal or Jupyter, via tqdm.auto) when installed, else a line on
    stderr every few seconds."""

    def __init__(self, name):
        self.name = name
        self.bar = None
        self.last = 0.0
        try:
            from tqdm.auto import tqdm

            self.tqdm = tqdm
        except ImportError:
            self.tqdm = None

    def __call__(self, done, total):
        import sys
        import time

        if self.tqdm is not None:
            if self.bar is None:
                self.bar = self.tqdm(total=total, desc=self.name, unit="unit")
            self.bar.update(done - self.bar.n)
        else:
            now = time.monotonic()
            if now - self.last >= 2.0 or done == total:
                self.last = now
                print(f"{self.name}: {done}/{total} units", file=sys.stderr, flush=True)
        return True

    def close(self):
        if self.bar is not None:
            self.bar.close()


def run(experiment, out=None, threads=None, resume=False, progress=True):
    """Runs (or resumes) a sweep from an experiment file (docs/experiments.md) into `out`
    (default results/NAME); returns the output directory. The GIL is released while it runs;
    Ctrl-C stops it and keeps every finished unit (`resume=True` continues). Bad files raise
    ValueError with the same message as `signest run`."""
    import os

    bar = _Bar(os.path.basename(str(experiment))) if progress else None
    try:
        return _signest.run(str(experiment), out=None if out is None else str(out), threads=threads,
                            resume=resume, progress=False, callback=bar)
    finally:
        if bar is not None:
            bar.close()


def verify(dir, experiment=None):
    """Verdicts of a finished run (writes verdicts.md, verdicts.json; targets.csv if missing);
    returns the text `signest verify` prints. Raises ValueError when an expected verdict fails."""
    return _signest.verify(str(dir), None if experiment is None else str(experiment))


def report(dir, formats="png,svg"):
    """Figures and report.md for a finished run (or the headline table of a directory of runs)."""
    return _signest.report(str(dir), formats)


def _table(path):
    """A CSV as a pandas DataFrame, or without pandas a dict of numpy arrays (numeric columns
    as float, empty cells NaN; others as str)."""
    try:
        import pandas as pd

        return pd.read_csv(path)
    except ImportError:
        import csv

        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        header, body = rows[0], rows[1:]
        out = {}
        for j, name in enumerate(header):
            col = [r[j] for r in body]
            try:
                out[name] = np.array([float(v) if v != "" else np.nan for v in col])
            except ValueError:
                out[name] = np.array(col)
        return out


def load(dir):
    """A results directory as a dict: `runs`, `summary`, `targets` (tables: pandas DataFrames
    when pandas is installed, else dicts of numpy arrays; None when the file is absent),
    `verdicts` (the verdicts of verdicts.json as a table, or None), `verdicts_meta` (the rest
    of verdicts.json: bootstrap, expectations, optimiser audit), `manifest` (dict) and
    `experiment` (the experiment file's text)."""
    import json
    import os

    dir = str(dir)
    if not os.path.exists(os.path.join(dir, "manifest.json")):
        raise ValueError(f"{dir}: not a finished results directory (no manifest.json)")
    out = {}
    for key, name in (("runs", "runs.csv"), ("summary", "summary.csv"), ("targets", "targets.csv")):
        path = os.path.join(dir, name)
        out[key] = _table(path) if os.path.exists(path) else None
    path = os.path.join(dir, "verdicts.json")
    out["verdicts"] = out["verdicts_meta"] = None
    if os.path.exists(path):
        with open(path) as f:
            meta = json.load(f)
        rows = meta.pop("verdicts", [])
        out["verdicts_meta"] = meta
        try:
            import pandas as pd

            out["verdicts"] = pd.DataFrame(rows)
        except ImportError:
            keys = list(rows[0].keys()) if rows else []
            out["verdicts"] = {k: np.array([r.get(k) for r in rows]) for k in keys}
    with open(os.path.join(dir, "manifest.json")) as f:
        out["manifest"] = json.load(f)
    path = os.path.join(dir, "experiment.toml")
    out["experiment"] = None
    if os.path.exists(path):
        with open(path) as f:
            out["experiment"] = f.read()
    return out


def serve(fit_fn, stdin=None, stdout=None):
    """Turns `fit_fn(Z, y, w) -> direction` into an external-estimator worker (the line
    protocol of `[[estimator]] name = "external"`, docs/experiments.md): one JSON request per
    line on stdin, one JSON answer per line on stdout, until stdin closes.

    Z is n × d (float64), y has ±1 entries, w is None or the weights; a `groups` keyword, if
    fit_fn takes one, receives the respondent ids (or None). fit_fn returns the direction (any
    length-d array; the harness normalises it), or a dict with "direction" and optionally
    "objective" and "notes". An exception becomes a failed fit with its message. While
    serving, print() goes to stderr, so it cannot corrupt the protocol.

        # worker.py
        import signest
        from sklearn.linear_model import LogisticRegression
        def fit(Z, y, w):
            return LogisticRegression(penalty=None, fit_intercept=False).fit(Z, y, w).coef_[0]
        signest.serve(fit)
    """
    import json
    import sys

    params = inspect.signature(fit_fn).parameters
    takes_groups = "groups" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())
    inp = stdin if stdin is not None else sys.stdin
    out = stdout if stdout is not None else sys.stdout
    saved = sys.stdout
    sys.stdout = sys.stderr
    try:
        for line in inp:
            if not line.strip():
                continue
            try:
                req = json.loads(line)
                Z = np.load(req["z"])
                y = np.load(req["y"])
                w = np.load(req["w"]) if req.get("w") else None
                kw = {}
                if takes_groups:
                    kw["groups"] = np.load(req["groups"]) if req.get("groups") else None
                res = fit_fn(Z, y, w, **kw)
                extra = {}
                if isinstance(res, dict):
                    extra = {k: res[k] for k in ("objective", "notes") if k in res}
                    res = res["direction"]
                d = np.asarray(res, dtype=float).ravel()
                if not np.all(np.isfinite(d)):
                    answer = {"error": f"fit_fn returned a non-finite direction {d.tolist()}"}
                else:
                    answer = {"direction": d.tolist(), **extra}
            except Exception as e:  # reported as a failed fit; the worker keeps serving
                answer = {"error": f"{type(e).__name__}: {e}"}
            out.write(json.dumps(answer) + "\n")
            out.flush()
    finally:
        sys.stdout = saved


def _labels(y):
    """Maps labels to ±1 (1 = the first alternative preferred). Accepts ±1, 0/1 and booleans;
    returns (signs, classes) with classes = (negative label, positive label) as given."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be one-dimensional, got shape {y.shape}")
    if y.dtype == bool:
        return np.where(y, 1.0, -1.0), np.array([False, True])
    if not np.issubdtype(y.dtype, np.number):
        raise ValueError(f"y must be ±1, 0/1 or boolean, got dtype {y.dtype}")
    vals = set(np.unique(y).tolist())
    if vals <= {-1, 1}:
        neg = -1
    elif vals <= {0, 1}:
        neg = 0
    else:
        raise ValueError(f"y must be ±1 or 0/1, got values {sorted(vals)[:5]}")
    yf = np.where(y == 1, 1.0, -1.0)
    classes = np.array([neg, 1], dtype=y.dtype)
    return yf, classes


class _SignestEstimator(_Mixin, _Base):
    """Shared fit/predict. Subclasses set `_name` and list their settings in `__init__`."""

    _name = None

    def _settings(self):
        return {}

    def fit(self, X, y, sample_weight=None, groups=None):
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"X must be two-dimensional (n comparisons × d features), got shape {X.shape}")
        yf, classes = _labels(y)
        if yf.shape[0] != X.shape[0]:
            raise ValueError(f"y has {yf.shape[0]} entries for {X.shape[0]} rows of X")
        w = None if sample_weight is None else np.ascontiguousarray(sample_weight, dtype=np.float64)
        g = None
        if groups is not None:
            g = np.asarray(groups)
            if g.shape != (X.shape[0],):
                raise ValueError(f"groups must have shape ({X.shape[0]},), got {g.shape}")
            _, g = np.unique(g, return_inverse=True)
            g = np.ascontiguousarray(g, dtype=np.int64)
        out = _signest.fit(self._name, X, yf, sample_weight=w, groups=g, **self._settings())
        self.direction_ = np.asarray(out["direction"])
        self.coef_ = self.direction_
        self.coefficients_ = None if out["coefficients"] is None else np.asarray(out["coefficients"])
        self.loss01_ = out["loss01"]
        self.status_ = out["status"]
        self.certified_ = out["certified"]
        self.gap_ = out["gap"]
        self.lower_bound_ = out["lower_bound"]
        self.iterations_ = out["iterations"]
        self.objective_ = out["objective"]
        self.fit_seconds_ = out["fit_seconds"]
        self.notes_ = list(out["notes"])
        self.solver_ = out["solver"]
        self.classes_ = classes
        self.n_features_in_ = X.shape[1]
        return self

    def _check_fitted(self):
        if not hasattr(self, "direction_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet: call fit first")

    def decision_function(self, X):
        """u'z for each row: > 0 predicts the first alternative."""
        self._check_fitted()
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have shape (n, {self.n_features_in_}), got {X.shape}")
        return X @ self.direction_

    def predict(self, X):
        """The label of the preferred alternative, in the labels fit saw (±1 or 0/1)."""
        s = self.decision_function(X)
        return np.where(s > 0, self.classes_[1], self.classes_[0])


class Sign(_SignestEstimator):
    """The sign estimator: minimises the (weighted) 0-1 loss over unit directions.

    solver: "exact" (certified: d = 1, 2 exactly, d >= 3 branch and bound within max_nodes /
    time_limit / max_memory_mib of open nodes), "smooth" or "anneal" (heuristics, for high d), "sgd" (minibatch Adam on the
    smoothed loss). After fit, `certified_` and `gap_` say how well it optimised.
    profile (anneal only): "thorough" (default) or "fast" (about half the time: subsampled bt
    start, one polish round, early ends of the early stages).
    """

    _name = "sign"

    def __init__(self, solver="exact", seed=None, random_starts=None, max_nodes=None, time_limit=None,
                 max_memory_mib=None, profile=None):
        self.solver = solver
        self.seed = seed
        self.random_starts = random_starts
        self.max_nodes = max_nodes
        self.time_limit = time_limit
        self.max_memory_mib = max_memory_mib
        self.profile = profile

    def _settings(self):
        s = {"solver": self.solver}
        for k in ("seed", "random_starts", "max_nodes", "max_memory_mib", "profile"):
            if getattr(self, k) is not None:
                s[k] = getattr(self, k)
        if self.time_limit is not None:
            s["time_limit"] = float(self.time_limit)
        return s


class BT(_SignestEstimator):
    """Bradley–Terry (logistic MLE without intercept), the RLHF reward-model loss.
    solver "newton" (relative gradient < 1e-10; separation detected), "subsampled" (the same
    optimum and guarantee in a few fused passes: faster at large n) or "sgd"."""

    _name = "bt"

    def __init__(self, solver="newton", ridge=None, seed=None):
        self.solver = solver
        self.ridge = ridge
        self.seed = seed

    def _settings(self):
        s = {"solver": self.solver}
        if self.ridge is not None:
            s["ridge"] = float(self.ridge)
        if self.seed is not None:
            s["seed"] = self.seed
        return s


class Hinge(_SignestEstimator):
    """Linear SVM without intercept (hinge loss, penalty C)."""

    _name = "hinge"

    def __init__(self, C=None):
        self.C = C

    def _settings(self):
        return {} if self.C is None else {"c": float(self.C)}


class LatentClass(_SignestEstimator):
    """Latent-class logit by EM (`em`): k classes (0 = choose 1..4 by BIC), each respondent's
    answers sharing one class; the direction is Σ π_k β_k. Needs `groups` in fit."""

    _name = "em"

    def __init__(self, k=2, random_starts=None, ridge=None, seed=None):
        self.k = k
        self.random_starts = random_starts
        self.ridge = ridge
        self.seed = seed

    def _settings(self):
        s = {"classes": int(self.k)}
        if self.random_starts is not None:
            s["random_starts"] = self.random_starts
        if self.ridge is not None:
            s["ridge"] = float(self.ridge)
        if self.seed is not None:
            s["seed"] = self.seed
        return s


class PerUser(_SignestEstimator):
    """The average of per-respondent ridge logits (ridge λ per respondent, default 1).
    Needs `groups` in fit."""

    _name = "peruser"

    def __init__(self, ridge=None):
        self.ridge = ridge

    def _settings(self):
        return {} if self.ridge is None else {"ridge": float(self.ridge)}
