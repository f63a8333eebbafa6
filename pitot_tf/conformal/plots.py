"""Figures for conformal bounds. Each function returns a :class:`matplotlib.figure.Figure`
built without pyplot (no global state, safe on headless machines and in threads); save it
with ``fig.savefig(path)``.

``table`` arguments are tidy DataFrames with at least the columns ``objective, alpha,
coverage, width`` -- one row per objective and miscoverage level, for the chosen head (e.g.
``ConformalUpperBound.evaluate(...).assign(objective=name)`` concatenated over objectives).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from pitot_tf.errors import ConformalError

_TABLE_COLUMNS = ("objective", "alpha", "coverage", "width")


def _check_table(table: pd.DataFrame) -> None:
    missing = [c for c in _TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise ConformalError(f"table is missing column(s) {missing}; it needs {_TABLE_COLUMNS}")


def calibration_plot(table: pd.DataFrame, title: str = "") -> Figure:
    """Empirical coverage against the target ``1 - alpha``, one line per objective, plus the
    diagonal: points on or above it mean the bound holds as often as promised. ``title``
    names the run and split the rows come from."""
    _check_table(table)
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.add_subplot()
    for objective, rows in table.groupby("objective", sort=True):
        rows = rows.sort_values("alpha", ascending=False)
        ax.plot(1 - rows["alpha"], rows["coverage"], marker="o", label=str(objective))
    target = 1 - table["alpha"].to_numpy(dtype=float)
    lo, hi = float(target.min()), float(target.max())
    ax.plot([lo, hi], [lo, hi], color="black", linestyle="--", linewidth=1, label="target")
    ax.set_xlabel("target coverage 1 − α")
    ax.set_ylabel("empirical coverage")
    _title(ax, title)
    ax.legend()
    return fig


def tightness_plot(table: pd.DataFrame, title: str = "") -> Figure:
    """Bound width (mean ``|t/u − 1|``) against ``alpha``, one line per objective: lower is
    tighter; smaller ``alpha`` (more coverage) costs width."""
    _check_table(table)
    fig = Figure(figsize=(5, 4), layout="constrained")
    ax = fig.add_subplot()
    for objective, rows in table.groupby("objective", sort=True):
        rows = rows.sort_values("alpha")
        ax.plot(rows["alpha"], rows["width"], marker="o", label=str(objective))
    ax.set_xlabel("miscoverage α")
    ax.set_ylabel("bound width  mean |t/u − 1|")
    _title(ax, title)
    ax.legend()
    return fig


def predicted_vs_actual_plot(
    true_runtime: npt.ArrayLike,
    predicted_runtime: npt.ArrayLike,
    upper_bound: npt.ArrayLike,
    title: str = "",
) -> Figure:
    """Predicted runtime and upper bound against the actual runtime, all in seconds
    (:meth:`Evaluation.test_runtimes`), on log-log axes, with the ``y = x`` line: bound points
    below it are misses."""
    t = np.asarray(true_runtime, dtype=float).ravel()
    p = np.asarray(predicted_runtime, dtype=float).ravel()
    u = np.asarray(upper_bound, dtype=float).ravel()
    if not t.shape == p.shape == u.shape:
        raise ConformalError(
            f"true_runtime, predicted_runtime and upper_bound must have the same length, "
            f"got {t.shape[0]}, {p.shape[0]}, {u.shape[0]}"
        )
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(t, p, linestyle="none", marker=".", alpha=0.5, label="prediction")
    ax.plot(t, u, linestyle="none", marker="^", markersize=3, alpha=0.5, label="upper bound")
    finite = np.concatenate([t, p, u])
    finite = finite[np.isfinite(finite) & (finite > 0)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (1e-3, 1.0)
    ax.plot([lo, hi], [lo, hi], color="black", linestyle="--", linewidth=1, label="y = x")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("actual runtime (s)")
    ax.set_ylabel("predicted runtime / upper bound (s)")
    _title(ax, title)
    ax.legend()
    return fig


def _title(ax: Axes, title: str) -> None:
    """A title of up to two lines (run, then what the rows are), small enough to fit."""
    if title:
        ax.set_title(title, fontsize=9)
