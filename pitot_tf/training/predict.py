"""Predictions of a trained model for rows of a dataset."""

from __future__ import annotations

import keras
import numpy as np

from pitot_tf.data.dataset import Dataset
from pitot_tf.training.batches import Rows, max_interferers, rows_of


def predict_rows(model: keras.Model, rows: Rows, batch: int = 65_536) -> np.ndarray:
    """``(n, heads)`` predicted log runtime (natural log of nanoseconds)."""
    if len(rows) == 0:
        return np.zeros((0, int(model.output_shape[-1])), np.float32)
    return np.asarray(model.predict(rows.inputs(), batch_size=batch, verbose=0))


def objective_rows(dataset: Dataset, objective: str, rows: np.ndarray | None = None) -> Rows:
    """Model inputs and targets for ``rows`` of one objective (all rows if None)."""
    return rows_of(dataset.objectives[objective], rows, max_interferers(dataset))


def predict_objective(
    model: keras.Model, dataset: Dataset, objective: str, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(log_true (n,), log_pred (n, heads))`` for ``rows`` of ``objective``."""
    batch = objective_rows(dataset, objective, rows)
    return batch.log_runtime, predict_rows(model, batch)
