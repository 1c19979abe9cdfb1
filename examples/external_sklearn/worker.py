"""An external estimator for signest sweeps: scikit-learn's logistic regression without
intercept or penalty, i.e. the same model as the built-in `bt` (Bradley–Terry).

Run by the harness as a worker (`[[estimator]] name = "external"`, see experiment.toml next to
this file). With SIGNEST_EXAMPLE_LOG set it also fits the built-in bt on the very data it was
sent (`signest.BT`, the same code as the sweep's `bt` row) and appends the angle between the
two directions, in degrees, to that file: the check that the two agree on every unit.
"""

import os

import numpy as np
from sklearn.linear_model import LogisticRegression

import signest


def fit(Z, y, w):
    lr = LogisticRegression(penalty=None, fit_intercept=False, tol=1e-12, max_iter=100_000)
    lr.fit(Z, y > 0, sample_weight=w)
    u = lr.coef_.ravel()
    log = os.environ.get("SIGNEST_EXAMPLE_LOG")
    if log:
        b = signest.BT().fit(Z, y, sample_weight=w).direction_
        a = u / np.linalg.norm(u)
        angle = np.degrees(2 * np.arcsin(min(1.0, np.linalg.norm(a - b) / 2)))
        with open(log, "a") as f:
            f.write(f"{len(y)} {angle:.6e}\n")
    return {"direction": u, "notes": [f"lbfgs iterations {int(lr.n_iter_[0])}"]}


if __name__ == "__main__":
    signest.serve(fit)
