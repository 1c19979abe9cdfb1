#!/usr/bin/env python3
"""signest's bt and peruser against scikit-learn on the same data (issue 13, item 3).

For each shape the script draws one data set with numpy (seeded: the same data on every run),
writes it as a CSV that `signest fit` reads, and then alternates REPEATS fits of each side:

- bt: `signest fit --estimator bt --solver S --json` for each S of `--bt-solvers` (default
  newton and subsampled; its `fit_seconds` is timed around the fit only, after the CSV is
  parsed) against `LogisticRegression(penalty=None, fit_intercept=False,
  tol=1e-10, solver="lbfgs")`, timed around `.fit` only;
- peruser: `signest fit --estimator peruser --json` (ridge 1 per respondent) against a Python
  loop of `LogisticRegression(C=1, fit_intercept=False, tol=1e-10)` per respondent (a
  respondent whose answers all agree is fitted on its signed rows and their mirror images
  with C = 1/2: the same ridge objective, which scikit-learn cannot fit with one class).

Threads: signest through RAYON_NUM_THREADS, scikit-learn through OMP/OPENBLAS/MKL_NUM_THREADS
(set before numpy is imported, in a child process per thread count). It prints, per shape, the
median seconds of each side, the ratio scikit-learn / signest (> 1: signest is faster) and
the angle between the two directions. Timings on a shared 2-core machine vary by ±25%, which
is why the fits alternate and only ratios from one run are compared.

Usage (a venv with numpy and scikit-learn; `just bench-sklearn` makes one):
    python scripts/bench_vs_sklearn.py [--signest target/release/signest] [--repeats 5]
        [--shapes bt:1000000x10:1,bt:1000000x10:2,bt:100000x50:1,peruser:2000x50x16:1]
        [--bt-solvers newton,subsampled]
Not part of CI.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

DEFAULT_SHAPES = "bt:1000000x10:1,bt:1000000x10:2,bt:100000x50:1,peruser:2000x50x16:1"


def parse_shapes(text):
    out = []
    for item in text.split(","):
        try:
            kind, dims, threads = item.split(":")
            dims = [int(v) for v in dims.split("x")]
            threads = int(threads)
        except ValueError:
            sys.exit(f"--shapes: `{item}` is not KIND:DIMS:THREADS (e.g. bt:100000x50:1)")
        if kind == "bt" and len(dims) == 2:
            out.append((kind, dims, threads))
        elif kind == "peruser" and len(dims) == 3:
            out.append((kind, dims, threads))
        else:
            sys.exit(f"--shapes: `{item}`: bt:NxD:T or peruser:RESPONDENTSxPERxD:T expected")
        if threads < 1 or min(dims) < 1:
            sys.exit(f"--shapes: `{item}`: sizes and threads must be >= 1")
    return out


def child(args):
    """Runs one shape in this process (thread variables already set by the parent)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    kind, dims, threads = args.kind, [int(v) for v in args.dims.split("x")], args.threads
    rng = np.random.default_rng(2026)
    if kind == "bt":
        n, d = dims
        resp = None
    else:
        r, m, d = dims
        n = r * m
        resp = np.repeat(np.arange(r), m)
    # Two-type heterogeneity around (1, 0.5, 0, ...): beta = (1 ± 0.8) * b on each half,
    # logistic noise; z ~ N(0, I_d).
    b = np.zeros(d)
    b[0] = 1.0
    if d > 1:
        b[1] = 0.5
    z = rng.standard_normal((n, d))
    scale = np.where(rng.random(n if resp is None else dims[0]) < 0.5, 0.2, 1.8)
    if resp is not None:
        scale = scale[resp]
    u = scale * (z @ b) + rng.logistic(size=n)
    y = np.where(u > 0, 1, -1)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.csv")
        cols = [y.reshape(-1, 1), z]
        header = "y," + ",".join(f"f{j}" for j in range(d))
        if resp is not None:
            cols.append(resp.reshape(-1, 1))
            header += ",respondent"
        fmt = ["%d"] + ["%.17g"] * d + (["%d"] if resp is not None else [])
        np.savetxt(path, np.hstack(cols), fmt=fmt, delimiter=",", header=header, comments="")
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
        solvers = args.bt_solvers.split(",") if kind == "bt" else [None]
        ts = {s: [] for s in solvers}
        dirs = {}
        tk = []
        dir_k = None
        for _ in range(args.repeats):
            t = time.perf_counter()
            if kind == "bt":
                lr = LogisticRegression(
                    penalty=None, fit_intercept=False, tol=1e-10, max_iter=100000
                )
                lr.fit(z, (y > 0).astype(int))
                coef = lr.coef_.ravel()
            else:
                coef = np.zeros(d)
                for k in range(dims[0]):
                    zs, ys = z[resp == k], y[resp == k]
                    if len(set(ys)) == 2:
                        lr = LogisticRegression(C=1.0, fit_intercept=False, tol=1e-10, max_iter=100000)
                        lr.fit(zs, (ys > 0).astype(int))
                    else:
                        x = zs * ys[:, None]
                        lr = LogisticRegression(C=0.5, fit_intercept=False, tol=1e-10, max_iter=100000)
                        lr.fit(np.vstack([x, -x]), np.r_[np.ones(len(x)), np.zeros(len(x))])
                    coef += lr.coef_.ravel()
                coef /= dims[0]
            tk.append(time.perf_counter() - t)
            dir_k = coef / np.linalg.norm(coef)
            for solver in solvers:
                cmd = [args.signest, "fit", "--data", path, "--estimator", kind, "--json"]
                if solver is not None:
                    cmd += ["--solver", solver]
                out = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if out.returncode != 0:
                    sys.exit(f"signest fit failed ({out.returncode}): {out.stderr.strip()}")
                fit = json.loads(out.stdout)
                ts[solver].append(fit["fit_seconds"])
                dirs[solver] = np.array(fit["direction"])
        mk = float(np.median(tk))
        for solver in solvers:
            # 2·asin(|a − b|/2): accurate for tiny angles, where arccos of the dot product is not.
            ang = np.degrees(2.0 * np.arcsin(min(1.0, np.linalg.norm(dirs[solver] - dir_k) / 2.0)))
            print(json.dumps({"kind": kind, "solver": solver, "dims": args.dims, "threads": threads,
                              "signest_s": float(np.median(ts[solver])), "sklearn_s": mk,
                              "angle_deg": float(ang)}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--signest", default="target/release/signest")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--shapes", default=DEFAULT_SHAPES)
    ap.add_argument("--bt-solvers", default="newton,subsampled")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--kind", help=argparse.SUPPRESS)
    ap.add_argument("--dims", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    if args.repeats < 1:
        sys.exit("--repeats must be >= 1")
    if not os.path.exists(args.signest):
        sys.exit(f"--signest {args.signest}: no such file (cargo build --release first)")
    shapes = parse_shapes(args.shapes)
    import sklearn  # noqa: F401  (fail early, with the import error, when it is missing)

    print(f"scikit-learn {sklearn.__version__}, {args.repeats} alternated fits per shape, medians")
    print(f"{'fit':<16} {'shape':<16} {'threads':>7} {'signest':>10} {'sklearn':>10} {'sklearn/signest':>16} {'angle':>10}")
    for kind, dims, threads in shapes:
        env = dict(os.environ)
        for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[v] = str(threads)
        dims_s = "x".join(str(v) for v in dims)
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--kind", kind, "--dims", dims_s,
             "--threads", str(threads), "--repeats", str(args.repeats), "--signest", args.signest,
             "--bt-solvers", args.bt_solvers],
            env=env, capture_output=True, text=True,
        )
        if out.returncode != 0:
            sys.exit(f"{kind} {dims_s}: {out.stderr.strip() or out.stdout.strip()}")
        for line in out.stdout.strip().splitlines():
            r = json.loads(line)
            name = kind if r["solver"] is None else f"{kind} {r['solver']}"
            print(f"{name:<16} {dims_s:<16} {threads:>7} {r['signest_s'] * 1e3:>8.0f}ms "
                  f"{r['sklearn_s'] * 1e3:>8.0f}ms {r['sklearn_s'] / r['signest_s']:>16.2f} {r['angle_deg']:>9.1e}°")


if __name__ == "__main__":
    main()
