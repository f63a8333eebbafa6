"""Conformal figures: built without pyplot, with the expected axes and lines."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from pitot_tf.conformal.plots import calibration_plot, predicted_vs_actual_plot, tightness_plot
from pitot_tf.errors import ConformalError


def _table() -> pd.DataFrame:
    alphas = [0.1, 0.05, 0.01]
    return pd.DataFrame(
        {
            "objective": ["mf"] * 3 + ["if"] * 3,
            "alpha": alphas * 2,
            "coverage": [0.91, 0.95, 0.99, 0.89, 0.96, 0.995],
            "width": [0.2, 0.3, 0.6, 0.25, 0.35, 0.7],
        }
    )


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def test_calibration_plot() -> None:
    fig = calibration_plot(_table())
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert len(ax.lines) == 3  # two objectives + diagonal
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [0.9, 0.95, 0.99])
    assert _png(fig).startswith(b"\x89PNG")


def test_tightness_plot() -> None:
    fig = tightness_plot(_table())
    (ax,) = fig.axes
    assert len(ax.lines) == 2
    assert _png(fig).startswith(b"\x89PNG")


def test_predicted_vs_actual_plot() -> None:
    rng = np.random.default_rng(0)
    t = np.exp(rng.normal(size=50))
    p = t * np.exp(rng.normal(0, 0.2, 50))
    fig = predicted_vs_actual_plot(t, p, p * 1.5, title="matrix multiply")
    (ax,) = fig.axes
    assert len(ax.lines) == 3  # predictions, bounds, y = x
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_title() == "matrix multiply"
    assert _png(fig).startswith(b"\x89PNG")


def test_bad_inputs() -> None:
    with pytest.raises(ConformalError, match="width"):
        calibration_plot(_table().drop(columns="width"))
    with pytest.raises(ConformalError, match="same length"):
        predicted_vs_actual_plot([1.0, 2.0], [1.0], [1.0, 2.0])
