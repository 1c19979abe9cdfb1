"""A user's own estimator, checked by signest's accuracy gate (see README.md next to this file).

Here: an L2-penalised logistic regression without intercept (scikit-learn, C = 1). Setting
MY_ESTIMATOR_BUG=1 plants the kind of slip a gate should catch: the last feature column is
dropped before fitting (its coefficient is reported as 0).
"""

import os

import numpy as np
from sklearn.linear_model import LogisticRegression

import signest


def fit(Z, y, w):
    bug = os.environ.get("MY_ESTIMATOR_BUG") == "1"
    X = Z[:, :-1] if bug else Z
    lr = LogisticRegression(C=1.0, fit_intercept=False, tol=1e-10, max_iter=10_000)
    lr.fit(X, y > 0, sample_weight=w)
    coef = lr.coef_.ravel()
    return np.r_[coef, 0.0] if bug else coef


if __name__ == "__main__":
    signest.serve(fit)
