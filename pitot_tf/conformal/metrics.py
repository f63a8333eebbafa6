"""Bound and point-prediction metrics, in the log domain, exactly as the Pitot reference.

All inputs are natural logs: ``log_true = log t`` (measured runtime), ``log_pred = log t̂``
(predicted runtime) and ``log_bound = log u`` (upper bound). Working on logs keeps the metrics
exact for runtimes spanning many orders of magnitude.

Bound metrics accept ``log_bound`` of shape ``(n,)`` or ``(..., n)`` (e.g. ``(n_alpha, n)``
for a grid of miscoverage levels) and average over the last axis; a 1-D bound gives a ``float``,
a stacked bound an array of the leading shape.

* ``coverage``      -- mean(t <= u): the fraction of rows the bound holds for.
* ``bound_width``   -- mean |t/u - 1|: the paper's "width" / bound tightness.
* ``overprovision`` -- mean max(0, u/t - 1): resources reserved beyond the true runtime.
* ``mape``          -- mean |t/t̂ - 1|: the paper's (reference code's) MAPE.
* ``mape_textbook`` -- mean |t̂/t - 1|: the usual textbook MAPE (error relative to the truth).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from pitot_tf.errors import ConformalError

FloatArray = npt.NDArray[np.float64]


def _as_log_true(log_true: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(log_true, dtype=np.float64)
    if arr.ndim != 1:
        raise ConformalError(f"log_true must be 1-D (n,), got shape {arr.shape}")
    return arr


def _as_bound(log_true: FloatArray, log_bound: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(log_bound, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] != log_true.shape[0]:
        raise ConformalError(
            f"log_bound must have shape (..., n) with n={log_true.shape[0]} rows, "
            f"got shape {arr.shape}"
        )
    return arr


def _first_head(log_true: FloatArray, log_pred: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(log_pred, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] != log_true.shape[0]:
        raise ConformalError(
            f"log_pred must have shape (n,) or (n, heads) with n={log_true.shape[0]}, "
            f"got shape {np.shape(log_pred)}"
        )
    return arr


def _reduce(values: FloatArray) -> float | FloatArray:
    mean = np.mean(values, axis=-1)
    return float(mean) if np.ndim(mean) == 0 else np.asarray(mean, dtype=np.float64)


def coverage(log_true: npt.ArrayLike, log_bound: npt.ArrayLike) -> float | FloatArray:
    """Fraction of rows with ``log t <= log u`` (the bound holds)."""
    lt = _as_log_true(log_true)
    return _reduce((lt <= _as_bound(lt, log_bound)).astype(np.float64))


def bound_width(log_true: npt.ArrayLike, log_bound: npt.ArrayLike) -> float | FloatArray:
    """Bound tightness ("width" in the paper): ``mean |exp(log t - log u) - 1| = mean |t/u - 1|``.

    0 means the bound equals the runtime; 0.1 means it is off by about 10 % on average (the
    reference measures it relative to the bound, so over- and under-shoot count alike).
    """
    lt = _as_log_true(log_true)
    return _reduce(np.abs(np.expm1(lt - _as_bound(lt, log_bound))))


def overprovision(log_true: npt.ArrayLike, log_bound: npt.ArrayLike) -> float | FloatArray:
    """Mean over-reservation ``mean max(0, u/t - 1)``: how much slack the bound wastes."""
    lt = _as_log_true(log_true)
    return _reduce(np.maximum(0.0, np.expm1(_as_bound(lt, log_bound) - lt)))


def mape(log_true: npt.ArrayLike, log_pred: npt.ArrayLike) -> float:
    """The paper's MAPE, ``mean |t/t̂ - 1| = mean |exp(log t - log t̂) - 1|``, of the first head."""
    lt = _as_log_true(log_true)
    return float(np.mean(np.abs(np.expm1(lt - _first_head(lt, log_pred)))))


def mape_textbook(log_true: npt.ArrayLike, log_pred: npt.ArrayLike) -> float:
    """Textbook MAPE, ``mean |t̂/t - 1|`` (error relative to the truth), of the first head."""
    lt = _as_log_true(log_true)
    return float(np.mean(np.abs(np.expm1(_first_head(lt, log_pred) - lt))))


def coverage_by_group(
    log_true: npt.ArrayLike,
    log_bound: npt.ArrayLike,
    groups: npt.ArrayLike,
    alphas: Sequence[float] | None = None,
) -> pd.DataFrame:
    """Coverage within each group, for plain or Mondrian bounds alike.

    ``log_bound`` is ``(n,)``, giving columns ``group, n, coverage``; or ``(n_alpha, n)`` with
    the matching ``alphas``, giving columns ``alpha, group, n, coverage`` (one row per pair).
    Groups are listed in sorted order.
    """
    lt = _as_log_true(log_true)
    bound = _as_bound(lt, log_bound)
    labels = np.asarray(groups)
    if labels.shape != lt.shape:
        raise ConformalError(f"groups must have shape {lt.shape}, got {labels.shape}")
    uniq, inverse = np.unique(labels, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(uniq))
    names = [u.item() if isinstance(u, np.generic) else u for u in uniq]

    def per_group(b: FloatArray) -> FloatArray:
        hits = np.bincount(inverse, weights=(lt <= b).astype(np.float64), minlength=len(uniq))
        return np.asarray(hits / counts, dtype=np.float64)

    if bound.ndim == 1:
        return pd.DataFrame({"group": names, "n": counts, "coverage": per_group(bound)})
    if bound.ndim != 2 or alphas is None or len(alphas) != bound.shape[0]:
        raise ConformalError(
            f"a stacked log_bound of shape {bound.shape} needs alphas with one entry per row"
        )
    frames = [
        pd.DataFrame(
            {"alpha": float(a), "group": names, "n": counts, "coverage": per_group(bound[i])}
        )
        for i, a in enumerate(alphas)
    ]
    return pd.concat(frames, ignore_index=True)
