"""Predictions of a trained model for rows of a dataset."""

from __future__ import annotations

import keras
import numpy as np

from pitot_tf.data.dataset import Dataset
from pitot_tf.errors import PredictionError
from pitot_tf.models.parts import MissingPart, model_parts
from pitot_tf.training.batches import Rows, max_interferers, rows_of

#: Rows per model call. Larger chunks gain no speed on these small models but hold more memory:
#: scoring 49,480 rows in one chunk of up to 65,536 raised a run's peak by 60 MiB, in chunks of
#: 8,192 by 22 MiB (``benchmarks/memory.py``, docs/benchmarks.md "Memory").
CHUNK_ROWS = 8_192


def predict_inputs(model: keras.Model, inputs: dict[str, np.ndarray],
                   batch: int = CHUNK_ROWS) -> np.ndarray:
    """``(n, heads)`` model outputs for a dict of input arrays, in chunks of ``batch`` rows.

    Calls the model directly rather than ``model.predict``: ``predict`` traces a new graph for
    every new input shape (validation, test, each objective, each request), which costs more
    than it saves on these small models and fills the logs with retracing warnings."""
    n = len(next(iter(inputs.values())))
    if n == 0:
        return np.zeros((0, int(model.output_shape[-1])), np.float32)
    chunks = [keras.ops.convert_to_numpy(
        model({k: v[i : i + batch] for k, v in inputs.items()}, training=False))
        for i in range(0, n, batch)]
    return np.concatenate(chunks)


def predict_rows(model: keras.Model, rows: Rows, batch: int = CHUNK_ROWS) -> np.ndarray:
    """``(n, heads)`` predicted log runtime (natural log of the dataset's runtime unit)."""
    return predict_inputs(model, rows.inputs(), batch)


def objective_rows(dataset: Dataset, objective: str, rows: np.ndarray | None = None) -> Rows:
    """Model inputs and targets for ``rows`` of one objective (all rows if None)."""
    return rows_of(dataset.objectives[objective], rows, max_interferers(dataset))


def check_model_fits(model: keras.Model, dataset: Dataset) -> None:
    """PredictionError unless ``model`` was built for ``dataset``'s axes: as many platforms and
    workloads, with as many features each (its ``baseline`` layer records them). Without this
    a model from another dataset fails deep inside TensorFlow, or silently mixes up rows."""
    try:
        baseline = model_parts(model).baseline
    except MissingPart:
        return
    built = (baseline.platforms, baseline.feature_dims[0], baseline.workloads,
             baseline.feature_dims[1])
    axes = (dataset.platforms, dataset.workloads)
    found = tuple(n for axis in axes for n in (len(axis), int(axis.features.shape[1])))
    if tuple(int(n) for n in built) != found:
        raise PredictionError(
            f"model '{model.name}' was built for {_shape_text(built)} but the data in "
            f"{dataset.source} has {_shape_text(found)}: it comes from another dataset")


def _shape_text(sizes: tuple[int, ...]) -> str:
    return (f"{sizes[0]} platforms ({sizes[1]} features) x {sizes[2]} workloads "
            f"({sizes[3]} features)")


def predict_objective(
    model: keras.Model, dataset: Dataset, objective: str, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(log_true (n,), log_pred (n, heads))`` for ``rows`` of ``objective``; PredictionError
    for a model built for another dataset (see :func:`check_model_fits`)."""
    check_model_fits(model, dataset)
    batch = objective_rows(dataset, objective, rows)
    return batch.log_runtime, predict_rows(model, batch)
