"""A worker for the tests: answers bt's direction, but crashes on request CRASH_AT (counted per
worker process) and hangs on request HANG_AT, as given by the environment."""
import os
import sys
import time

import signest

state = {"k": 0}


def fit(Z, y, w):
    state["k"] += 1
    if state["k"] == int(os.environ.get("CRASH_AT", "0")):
        print("crashing on purpose", file=sys.stderr)
        os._exit(3)
    if state["k"] == int(os.environ.get("HANG_AT", "0")):
        time.sleep(60)
    return signest.BT().fit(Z, y, sample_weight=w).direction_


signest.serve(fit)
