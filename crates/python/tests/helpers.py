"""What the pytest files share: the repository root and the SPEC reference-case experiment."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def reference_experiment(name, seed, replications, n, estimators, extra=""):
    """An experiment file's text: the SPEC reference case (two types, d = 2, logistic noise)
    at the given n, with `estimators` (TOML text of the [[estimator]] tables) appended."""
    return f"""
name = "{name}"
description = "SPEC reference case ({name})"
seed = {seed}
replications = {replications}
{extra}
[dgp]
population = "two_type"
beta_bar = [1.0, 0.5]
v = [2.0, -0.5]
noise = "logistic"

[grid]
n = {list(n)}
{estimators}"""
