"""Start a run from a trained model's weights (``training.init_from``).

After a few runs of new workloads are appended to the dataset, training on from the model
that was trained without them reaches about what a training from scratch reaches, in a
quarter of the steps (``benchmarks/few_shot.py --refit-seeds``; docs/few_shot.md). The two
models must be of the same preset on the same dataset, less the appended entities: every
weight is copied to the same place, whole where the shapes agree; a per-entity table whose first
axis grew (workloads or platforms appended at the end; a weight its layer declares per row,
:func:`pitot_tf.models.rows.model_row_weights`) gets the trained rows first and keeps its fresh
rows beyond. Any other weight of another shape (a feature count that changed) is an error. The
optimizer starts afresh.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import mlflow
import numpy as np

from pitot_tf.errors import ConfigError
from pitot_tf.models.rows import model_row_weights


def load_keras_model(ref: str | os.PathLike[str]) -> keras.Model:
    """A Keras model from a ``.keras`` file or an MLflow model URI of the Keras flavour."""
    import pitot_tf.models.build  # noqa: F401  (registers the custom layers)

    text = str(ref)
    if "://" in text or text.startswith(("runs:/", "models:/")):
        return mlflow.keras.load_model(text)
    path = Path(text)
    if not path.is_file():
        raise ConfigError(f"model '{text}' not found (a .keras file or runs:/<id>/model)")
    return keras.saving.load_model(path, compile=False)


def copy_weights(source: keras.Model, target: keras.Model, where: str) -> None:
    """Every weight of ``target`` from ``source``'s weight in the same place (the models'
    weights in build order; layer names may differ by Keras' counters), see the module
    docstring; ConfigError naming ``where`` and the first weight that does not fit."""
    if len(source.weights) != len(target.weights):
        raise ConfigError(f"training.init_from {where}: it has {len(source.weights)} weights, "
                          f"this run's model {len(target.weights)} (a model of another preset "
                          "or kind?)")
    rows = model_row_weights(target)
    values = [_fitted(np.asarray(old.numpy()), np.asarray(new.numpy()), new.path, where,
                      id(new) in rows)
              for old, new in zip(source.weights, target.weights, strict=True)]
    for weight, value in zip(target.weights, values, strict=True):
        weight.assign(value)


def _fitted(old: np.ndarray, new: np.ndarray, path: str, where: str, per_row: bool
            ) -> np.ndarray:
    """``old`` where it fits ``new``'s shape: whole, or (a ``per_row`` table) as the first
    rows of a grown table."""
    if old.shape == new.shape:
        return old
    grown = (per_row and old.ndim == new.ndim >= 1 and old.shape[1:] == new.shape[1:]
             and old.shape[0] < new.shape[0])
    if not grown:
        raise ConfigError(f"training.init_from {where}: weight {path} has shape {old.shape}, "
                          f"this run's {new.shape} (another dataset or model size?)")
    out = new.copy()
    out[: old.shape[0]] = old
    return out
