"""D-optimal planning spans the embedding: on planted design vectors it picks linearly
independent platform embeddings before any repeat, and counts measured rows as known."""

from __future__ import annotations

import numpy as np
from planning_support import planted

from pitot_tf.planning.doptimal import d_optimal, greedy_log_det


def repeated_basis() -> np.ndarray:
    """Design vectors [x_p, 1] of 9 platforms: three copies each of three orthogonal x_p."""
    x_p = np.repeat(np.eye(3) * 2.0, 3, axis=0)  # rows 0-2 = e0, 3-5 = e1, 6-8 = e2
    return np.concatenate([x_p, np.ones((9, 1))], axis=1)[:, None, :]


def test_picks_independent_embeddings_before_repeats() -> None:
    picks = d_optimal(planted(repeated_basis()), 4, np.random.default_rng(0))
    first_three = {p.index // 3 for p in picks[:3]}
    assert first_three == {0, 1, 2}  # one of each direction first
    gains = [p.gain for p in picks]
    assert gains == sorted(gains, reverse=True) and gains[3] < gains[2]


def test_measured_rows_count_as_known_directions() -> None:
    design = repeated_basis()
    known = design[[0, 3]]  # e0 and e1 already measured
    picks = greedy_log_det(design, known, 1)
    assert picks[0].index // 3 == 2


def test_members_gains_add() -> None:
    single = repeated_basis()
    double = np.concatenate([single, single], axis=1)
    one = greedy_log_det(single, np.zeros((0, 1, 4)), 2)
    two = greedy_log_det(double, np.zeros((0, 2, 4)), 2)
    assert [p.index for p in one] == [p.index for p in two]
    assert np.allclose([2 * p.gain for p in one], [p.gain for p in two])
