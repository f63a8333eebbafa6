"""Widest conformal bound: the rows whose upper bound is furthest above the prediction, in
log runtime (so relative to the runtime: a slow platform's bound is not wider for being
slow). With split-conformal margins (one margin per co-runner count) every row of one degree
has the same width, and ties go in random order; with quantile heads (CQR) the width varies
by row."""

from __future__ import annotations

import numpy as np

from pitot_tf.planning.entity import Outlook
from pitot_tf.planning.picks import Pick, top_scores


def widest_bound(outlook: Outlook, budget: int, rng: np.random.Generator) -> list[Pick]:
    width = np.round(outlook.log_bound - outlook.log_runtime, 9)  # float noise is no width
    return top_scores(width, budget, rng)
