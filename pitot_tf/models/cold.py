"""Cold start: predict for platforms or workloads that have side features but no measurements.

Two things make such a row usable. Its free (learned) parameters, which training never
touched, are set to a neutral value: the mean over rows that were trained. Its baseline term
comes from the ridge regression on features stored in the baseline layer. :func:`extend_model`
applies both to rows that are not in the dataset at all (a new device or program).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from pitot_tf.errors import PredictionError
from pitot_tf.models.baseline import predict_from_features

# Which axis a row-indexed weight belongs to, by the name of its layer or the weight itself.
_AXIS_OF_WEIGHT = {
    "platform_scale": "platform", "workload_scale": "workload",
    "platform_features": "platform", "workload_features": "workload",
}
_FREE_WEIGHTS = ("learned", "table")


def _axis(path: str) -> str | None:
    """``"platform"``/``"workload"`` for a weight indexed by that axis' rows, else None."""
    name = path.split("/")[-1]
    if name in _AXIS_OF_WEIGHT:
        return _AXIS_OF_WEIGHT[name]
    if name in (*_FREE_WEIGHTS, "features"):
        for axis in ("platform", "workload"):
            if f"{axis}_tower" in path:
                return axis
    return None


def neutralize_unseen(model: keras.Model, seen: dict[str, np.ndarray]) -> None:
    """Set free per-row weights of rows not ``seen[axis]`` (a boolean mask) to the seen mean."""
    for weight in model.weights:
        axis = _axis(weight.path)
        if axis is None or weight.path.split("/")[-1] not in _FREE_WEIGHTS:
            continue
        mask = seen[axis]
        if mask.all() or not mask.any():
            continue
        values = np.array(weight.numpy())
        values[~mask] = values[mask].mean(axis=0)
        weight.assign(values)


def _resize_config(config: Any, added: dict[str, int]) -> Any:
    """A copy of a model config with every ``platforms``/``workloads``/tower ``rows`` count
    grown by ``added``."""
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
    baseline = model.get_layer("baseline")
    for axis, dim in zip(("platform", "workload"), baseline.feature_dims, strict=True):
        if len(new[axis]) and new[axis].shape[1] != dim:
            raise PredictionError(f"a new {axis} needs {dim} features, got {new[axis].shape[1]}")
    added = {axis: len(rows) for axis, rows in new.items()}
    grown = model.__class__.from_config(_resize_config(model.get_config(), added))
    regression = {"platform": baseline.platform_regression.numpy(),
                  "workload": baseline.workload_regression.numpy()}
    for old, target in zip(model.weights, grown.weights, strict=True):
        values = np.asarray(old.numpy())
        if tuple(target.shape) != values.shape:
            values = _append_rows(old.path, values, new, regression)
        target.assign(values)
    return grown


def _append_rows(
    path: str, values: np.ndarray, new: dict[str, np.ndarray], regression: dict[str, np.ndarray]
) -> np.ndarray:
    axis = _axis(path)
    name = path.split("/")[-1]
    if axis is None:
        raise ValueError(f"cannot extend weight {path} of shape {values.shape}")
    features = new[axis].astype(np.float32)
    if name.endswith("features"):
        rows = features
    elif name.endswith("scale"):
        rows = predict_from_features(regression[axis], features)
    else:
        rows = np.repeat(values.mean(axis=0, keepdims=True), len(features), axis=0)
    return np.concatenate([values, rows.astype(values.dtype)], axis=0)
