"""Least-variance planning measures the row that informs most other rows first, then the
direction still unknown."""

from __future__ import annotations

import numpy as np
from planning_support import planted

from pitot_tf.planning.variance import greedy_variance, least_variance


def test_representative_row_first_then_the_other_direction() -> None:
    x_p = np.array([[2.0, 0.0]] * 5 + [[0.0, 2.0]])
    design = np.concatenate([x_p, np.zeros((6, 1))], axis=1)[:, None, :]
    picks = least_variance(planted(design), 2, np.random.default_rng(0))
    assert picks[0].index < 5 and picks[1].index == 5
    assert picks[0].gain > picks[1].gain > 0


def test_measured_rows_and_cost() -> None:
    x_p = np.array([[2.0, 0.0]] * 5 + [[0.0, 2.0]])
    design = np.concatenate([x_p, np.zeros((6, 1))], axis=1)[:, None, :]
    known = greedy_variance(design, design[[0]], 1)
    assert known[0].index == 5  # e0 is known: the other direction now
    cost = np.array([10.0] * 5 + [1.0])
    assert greedy_variance(design, design[:0], 1, cost=cost)[0].index == 5
