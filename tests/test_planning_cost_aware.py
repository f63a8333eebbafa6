"""Cost-aware planning prefers the cheap row when the gain is equal, and pays for a slow row
only when it teaches enough more."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from planning_support import planted

from pitot_tf.planning.cost_aware import cost_aware
from pitot_tf.planning.doptimal import d_optimal


def test_prefers_cheap_rows_at_equal_gain() -> None:
    design = np.tile(np.array([[1.0, 0.0, 1.0]]), (4, 1))[:, None, :]  # identical rows
    log_runtime = np.log([30.0, 1.0, 5.0, 0.5])
    picks = cost_aware(planted(design, log_runtime), 2, np.random.default_rng(0))
    assert [p.index for p in picks] == [3, 1]


def test_slow_informative_row_against_cheap_repeats() -> None:
    """D-optimal takes the new direction, slow or not; cost-aware takes it only once the
    cheap direction is learnt well enough that its gain per second falls below it."""
    design = np.array([[1.0, 0.0, 1.0]] * 5 + [[0.0, 1.0, 1.0]])[:, None, :]
    log_runtime = np.log([0.01] * 5 + [30.0])
    outlook = planted(design, log_runtime)
    assert 5 in [p.index for p in d_optimal(outlook, 2, np.random.default_rng(0))]
    cheap = [p.index for p in cost_aware(outlook, 5, np.random.default_rng(0))]
    assert 5 not in cheap and len(set(cheap)) == 5


def test_cost_exponent_trades_gain_against_seconds() -> None:
    """A slow row in a new direction against cheap repeats of a direction already measured
    20 times: per second (exponent 1) the cheap repeats win, per second to the power 0.2 the
    slow row does, and at exponent 0 the choice is D-optimal's."""
    design = np.array([[1.0, 0.0, 1.0]] * 3 + [[0.0, 1.0, 1.0]])[:, None, :]
    log_runtime = np.log([0.01] * 3 + [30.0])
    known = replace(planted(design, log_runtime), measured_design=np.repeat(design[:1], 20, 0))
    picked = {exponent: cost_aware(replace(known, cost_exponent=exponent), 1,
                                   np.random.default_rng(0))[0].index
              for exponent in (1.0, 0.2, 0.0)}
    assert picked[1.0] != 3
    assert picked[0.2] == 3
    assert picked[0.0] == d_optimal(known, 1, np.random.default_rng(0))[0].index == 3
