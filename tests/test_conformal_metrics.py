"""Bound and point metrics on small hand-computed arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pitot_tf.conformal import (
    bound_width,
    coverage,
    coverage_by_group,
    mape,
    mape_textbook,
    overprovision,
)
from pitot_tf.errors import ConformalError

T = np.array([1.0, 2.0, 4.0])  # true runtimes
LOG_T = np.log(T)
LOG_U = np.log([2.0, 2.0, 2.0])  # upper bound


def test_bound_metrics_by_hand() -> None:
    # t <= u: yes, yes (equal), no.
    assert coverage(LOG_T, LOG_U) == pytest.approx(2 / 3)
    # |t/u - 1| = 0.5, 0, 1.
    assert bound_width(LOG_T, LOG_U) == pytest.approx(0.5)
    # max(0, u/t - 1) = 1, 0, 0.
    assert overprovision(LOG_T, LOG_U) == pytest.approx(1 / 3)


def test_mape_paper_vs_textbook() -> None:
    log_pred = np.log([2.0, 1.0, 8.0])
    # paper: |t/t^ - 1| = 0.5, 1, 0.5; textbook: |t^/t - 1| = 1, 0.5, 1.
    assert mape(LOG_T, log_pred) == pytest.approx(2 / 3)
    assert mape_textbook(LOG_T, log_pred) == pytest.approx(5 / 6)
    # Several heads: the first one is scored.
    heads = np.stack([log_pred, np.zeros(3)], axis=1)
    assert mape(LOG_T, heads) == pytest.approx(2 / 3)
    assert mape_textbook(LOG_T, heads) == pytest.approx(5 / 6)


def test_stacked_bounds_are_vectorised() -> None:
    bounds = np.stack([LOG_U, np.log([1.0, 4.0, 8.0])])  # (n_alpha=2, n=3)
    np.testing.assert_allclose(coverage(LOG_T, bounds), [2 / 3, 1.0])
    np.testing.assert_allclose(bound_width(LOG_T, bounds), [0.5, (0 + 0.5 + 0.5) / 3])
    np.testing.assert_allclose(overprovision(LOG_T, bounds), [1 / 3, (0 + 1 + 1) / 3])
    assert isinstance(coverage(LOG_T, LOG_U), float)


def test_coverage_by_group() -> None:
    table = coverage_by_group(LOG_T, LOG_U, ["a", "b", "a"])
    expected = pd.DataFrame({"group": ["a", "b"], "n": [2, 1], "coverage": [0.5, 1.0]})
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)

    bounds = np.stack([LOG_U, np.log([1.0, 4.0, 8.0])])
    stacked = coverage_by_group(LOG_T, bounds, np.array([3, 7, 3]), alphas=[0.1, 0.05])
    assert list(stacked.columns) == ["alpha", "group", "n", "coverage"]
    assert stacked["coverage"].tolist() == [0.5, 1.0, 1.0, 1.0]
    assert stacked["group"].tolist() == [3, 7, 3, 7]


def test_shape_errors() -> None:
    with pytest.raises(ConformalError, match="log_bound"):
        coverage(LOG_T, LOG_U[:2])
    with pytest.raises(ConformalError, match="log_pred"):
        mape(LOG_T, np.zeros(4))
    with pytest.raises(ConformalError, match="groups"):
        coverage_by_group(LOG_T, LOG_U, ["a", "b"])
    with pytest.raises(ConformalError, match="alphas"):
        coverage_by_group(LOG_T, np.stack([LOG_U, LOG_U]), ["a", "b", "a"])
