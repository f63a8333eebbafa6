"""Cold start: predict for platforms or workloads that have side features but no measurements.

Two things make such a row usable. Its free (learned) parameters, which training never
touched, are set to a neutral value: the mean over rows that were trained, or zeros for a
model trained with ``model.cold_dropout`` (which trained on exactly that input for dropped
rows, :mod:`pitot_tf.models.cold_dropout`). Its baseline term comes from what its features
predict (:meth:`pitot_tf.models.baseline.LinearScaling.feature_term`: a ridge regression or
a forest stored in the baseline layer). :func:`extend_model`
applies both to rows that are not in the dataset at all (a new device or program). Which
weights are per-row, and their role, the layers declare (:mod:`pitot_tf.models.rows`); a
weight that grows with an axis but is not declared is an error, not silently skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from pitot_tf.errors import PredictionError
from pitot_tf.models.parts import model_parts
from pitot_tf.models.rows import RowWeight, model_row_weights


def neutralize_unseen(model: keras.Model, seen: dict[str, np.ndarray]) -> None:
    """Set free per-row weights of rows not ``seen[axis]`` (a boolean mask) to their neutral
    value (:meth:`RowWeight.neutral_row`: the seen mean, or zeros after cold dropout)."""
    for row in model_row_weights(model).values():
        mask = seen[row.axis]
        if row.role != "free" or mask.all() or not mask.any():
            continue
        values = np.array(row.weight.numpy())
        values[~mask] = row.neutral_row(values[mask])
        row.weight.assign(values)


def _resize_config(config: Any, added: dict[str, int]) -> Any:
    """A copy of a model config with every ``platforms``/``workloads`` count grown by
    ``added`` (every row-indexed layer takes its sizes under those two names)."""
    if isinstance(config, list):
        return [_resize_config(item, added) for item in config]
    if not isinstance(config, dict):
        return config
    resized = {key: _resize_config(value, added) for key, value in config.items()}
    for axis in ("platform", "workload"):
        if isinstance(resized.get(f"{axis}s"), int):
            resized[f"{axis}s"] += added[axis]
    return resized


def extend_model(
    model: keras.Model, platform_features: np.ndarray | None = None,
    workload_features: np.ndarray | None = None,
) -> keras.Model:
    """A copy of ``model`` with new platform and/or workload rows appended (indices after the
    existing ones), known only by their side features."""
    new = {
        "platform": np.zeros((0, 0)) if platform_features is None else platform_features,
        "workload": np.zeros((0, 0)) if workload_features is None else workload_features,
    }
    baseline = model_parts(model).baseline
    for axis, dim in zip(("platform", "workload"), baseline.feature_dims, strict=True):
        if len(new[axis]) and new[axis].shape[1] != dim:
            raise PredictionError(f"a new {axis} needs {dim} features, got {new[axis].shape[1]}")
    added = {axis: len(rows) for axis, rows in new.items()}
    grown = model.__class__.from_config(_resize_config(model.get_config(), added))
    rows = model_row_weights(model)
    for old, target in zip(model.weights, grown.weights, strict=True):
        values = np.asarray(old.numpy())
        if tuple(target.shape) != values.shape:
            if id(old) not in rows:
                raise ValueError(
                    f"weight {old.path} {values.shape} grows with the rows of an axis but no "
                    "layer declares it in row_weights(); cold start cannot extend it"
                )
            values = _append_rows(rows[id(old)], values, new, baseline)
        target.assign(values)
    return grown


def _append_rows(
    row: RowWeight, values: np.ndarray, new: dict[str, np.ndarray], baseline: Any,
) -> np.ndarray:
    """``values`` with one row per new entity of ``row.axis``, as ``row.role`` says."""
    features = new[row.axis].astype(np.float32)
    if row.role == "features":
        added = features
    elif row.role == "scale":
        added = baseline.feature_term(row.axis, features)
    else:
        added = np.repeat(row.neutral_row(values)[None], len(features), axis=0)
    return np.concatenate([values, added.astype(values.dtype)], axis=0)


@dataclass(frozen=True)
class RuntimeRange:
    """The range of log runtime that training rows support, per entity of one axis.

    A network fed features it never saw can extrapolate far outside every runtime it was
    trained on (a cold workload predicted to take nanoseconds); the paper's MAPE,
    ``mean |t/t̂ - 1|``, punishes such under-predictions without limit. Clipping a cold row's
    log prediction to ``[low, high]`` of the training rows of the entity it shares with them
    (the platform, for a new workload; the workload, for a new platform) bounds that error by
    what the data has shown; an entity without training rows uses the global range.
    """

    low: np.ndarray
    high: np.ndarray

    @classmethod
    def fit(cls, log_runtime: np.ndarray, entity: np.ndarray, size: int) -> RuntimeRange:
        """Per-entity min and max of ``log_runtime`` over rows with ``entity`` in ``[0, size)``."""
        log_t = np.asarray(log_runtime, dtype=np.float64)
        low = np.full(size, log_t.min() if len(log_t) else -np.inf)
        high = np.full(size, log_t.max() if len(log_t) else np.inf)
        if len(log_t):
            seen = np.bincount(entity, minlength=size) > 0
            low[seen] = np.inf
            high[seen] = -np.inf
            np.minimum.at(low, entity, log_t)
            np.maximum.at(high, entity, log_t)
        return cls(low, high)

    def clip(self, log_pred: np.ndarray, entity: np.ndarray,
             rows: np.ndarray | None = None) -> np.ndarray:
        """``log_pred`` ``(n,)`` or ``(n, heads)`` with ``rows`` (a boolean mask; all when
        None) clipped to the range of their ``entity``."""
        out = np.array(log_pred, dtype=np.float64)
        mask = np.ones(len(out), bool) if rows is None else np.asarray(rows, bool)
        low, high = self.low[entity[mask]], self.high[entity[mask]]
        if out.ndim == 2:
            low, high = low[:, None], high[:, None]
        out[mask] = np.clip(out[mask], low, high)
        return out
