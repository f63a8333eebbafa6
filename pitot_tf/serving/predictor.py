"""What the ``pyfunc-model`` asks for log runtimes, and how a served model gets one.

A Pitot model is served from numpy tables (:class:`~pitot_tf.models.numpy_predictor.NumpyPitot`,
a row in microseconds), computed and checked against the Keras model when the model is logged
(:func:`~pitot_tf.serving.keras_predictor.predictor_for`) and stored as a numpy artifact
(:mod:`pitot_tf.models.numpy_store`): loading them needs neither Keras nor TensorFlow. Other
model kinds (the monolith and attention baselines) are asked through Keras
(:class:`~pitot_tf.serving.keras_predictor.KerasPredictor`). This module imports numpy only.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from pitot_tf.models.fold_in import Entity, Measurements


class Predictor(Protocol):
    """Log runtime ``(n, heads)`` for index arrays, a copy with new workload or platform
    rows, and a copy with one row refitted to measured runtimes (few-shot fold-in)."""

    @property
    def workloads(self) -> int: ...

    @property
    def platforms(self) -> int: ...

    @property
    def feature_dim(self) -> int | None:
        """How many features a new workload needs (None: unknown)."""

    @property
    def platform_feature_dim(self) -> int | None:
        """How many features a new platform needs (None: unknown, or none can be added)."""

    def predict(self, platform: np.ndarray, workload: np.ndarray,
                interferers: np.ndarray) -> np.ndarray: ...

    def with_workloads(self, features: np.ndarray) -> Predictor: ...

    def with_platforms(self, features: np.ndarray) -> Predictor: ...

    def fold_in(self, entity: Entity, measurements: Measurements) -> Predictor: ...
