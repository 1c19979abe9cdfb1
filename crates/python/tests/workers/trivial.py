"""A worker that answers a fixed direction at once: what the protocol itself costs."""
import numpy as np

import signest

signest.serve(lambda Z, y, w: np.ones(Z.shape[1]))
