"""signest from Python, notebook style (run as a script, or cell by cell in Jupyter).

1. An embedding data set: 400 items with 32-dimensional embeddings, 20,000 pairwise
   comparisons by a heterogeneous panel (two kinds of users who weigh one embedding direction
   oppositely and unequally decisively: the case where Bradley–Terry is biased).
2. Sign and BT fitted on it with numpy arrays; their angle to the population-average utility.
3. A small sweep (the SPEC reference case) with signest.run, and its convergence plot drawn
   from signest.load (matplotlib when installed; signest.report's figures otherwise).

    pip install ./crates/python            # plus matplotlib for step 3's plot
    python examples/python/quickstart.py [--out DIR]
"""

import argparse
import os
import tempfile

import numpy as np

import signest

ap = argparse.ArgumentParser()
ap.add_argument("--out", default=None, help="where the sweep and the figure go (default: a temp dir)")
args = ap.parse_args()
out_dir = args.out or tempfile.mkdtemp(prefix="signest-quickstart-")
os.makedirs(out_dir, exist_ok=True)

# --- 1. the data -------------------------------------------------------------------------
rng = np.random.default_rng(2026)
items = rng.standard_normal((400, 32)) @ np.diag(np.linspace(1.5, 0.2, 32))  # anisotropic
b = np.zeros(32)
b[0], b[1] = 1.0, 0.6                 # the population-average utility direction (u*)
a = np.zeros(32)
a[1] = 1.0                            # a value axis the two user kinds disagree on
n = 20_000
i, j = rng.integers(0, 400, n), rng.integers(0, 400, n)
Z = items[i] - items[j]               # a comparison's features: embedding differences
kind = rng.random(n) < 0.5            # half the answers come from each kind of user
beta = np.where(kind[:, None], 6.0 * (b + 1.5 * a), 1.0 * (b - 1.5 * a))  # decisive vs not
y = np.where((Z * beta).sum(1) + rng.logistic(size=n) > 0, 1, -1)
u_star = 0.5 * (6.0 * (b + 1.5 * a) + 1.0 * (b - 1.5 * a))
u_star /= np.linalg.norm(u_star)


def angle(u, v):
    return np.degrees(np.arccos(np.clip(u @ v / np.linalg.norm(u) / np.linalg.norm(v), -1, 1)))


# --- 2. the fits ---------------------------------------------------------------------------
sign = signest.Sign(solver="anneal", seed=0).fit(Z, y)
bt = signest.BT().fit(Z, y)
print(f"sign (anneal): angle to u* {angle(sign.direction_, u_star):5.1f}°, train 0-1 loss "
      f"{sign.loss01_:.4f}, {sign.fit_seconds_:.2f} s")
print(f"bt           : angle to u* {angle(bt.direction_, u_star):5.1f}°, train 0-1 loss "
      f"{bt.loss01_:.4f}, {bt.fit_seconds_:.2f} s")

# --- 3. a small sweep and its convergence plot ---------------------------------------------
exp = os.path.join(out_dir, "small.toml")
with open(exp, "w") as f:
    f.write("""
name = "python_quickstart"
description = "SPEC reference case: bt vs sign against n"
seed = 1
replications = 20

[dgp]
population = "two_type"
beta_bar = [1.0, 0.5]
v = [2.0, -0.5]
noise = "logistic"

[grid]
n = [500, 2000, 8000]

[[estimator]]
name = "bt"

[[estimator]]
name = "sign"
""")
run_dir = os.path.join(out_dir, "run")
if not os.path.exists(os.path.join(run_dir, "manifest.json")):
    signest.run(exp, out=run_dir)
r = signest.load(run_dir)
s = r["summary"]
est = np.asarray(s["estimator"])
nn = np.asarray(s["n"], dtype=float)
mean = np.asarray(s["mean_angular_error_deg"], dtype=float)
mcse = np.asarray(s["mcse_angular_error_deg"], dtype=float)
for e in sorted(set(est)):
    k = est == e
    print(e, " ".join(f"n={int(a)}: {m:.2f}±{c:.2f}°" for a, m, c in zip(nn[k], mean[k], mcse[k])))
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for e in sorted(set(est)):
        k = est == e
        ax.errorbar(nn[k], mean[k], yerr=2 * mcse[k], marker="o", capsize=3, label=e)
    ax.set(xscale="log", yscale="log", xlabel="n", ylabel="mean angular error (°)",
           title="SPEC reference case")
    ax.legend()
    path = os.path.join(out_dir, "convergence.png")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    print("figure:", path)
except ImportError:
    print(signest.report(run_dir, formats="png"), end="")
