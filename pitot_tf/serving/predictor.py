"""What the ``pyfunc-model`` asks for log runtimes: numpy tables for Pitot, else the Keras model.

:class:`~pitot_tf.models.numpy_predictor.NumpyPitot` answers a row in microseconds; other model
kinds (the monolith and attention baselines) are asked through Keras. Before the numpy tables
are used they are checked against the Keras model on a sample of rows (every platform, with 0,
1 and 2 co-runners); a model whose structure they do not capture falls back to Keras, with a
warning, instead of answering wrongly.
"""

from __future__ import annotations

import logging
from typing import Protocol

import keras
import numpy as np

from pitot_tf.models.numpy_predictor import NumpyPitot
from pitot_tf.models.parts import model_parts
from pitot_tf.training.predict import predict_inputs

_logger = logging.getLogger(__name__)

#: Largest |numpy - Keras| (log runtime) accepted in the load-time check; float32 rounding of
#: values around 10..20 is ~1e-6, a structural mismatch is orders of magnitude more.
CHECK_TOLERANCE = 1e-4
_CHECK_ROWS = 512


class Predictor(Protocol):
    """Log runtime ``(n, heads)`` for index arrays, and a copy with new workload rows."""

    @property
    def workloads(self) -> int: ...

    def predict(self, platform: np.ndarray, workload: np.ndarray,
                interferers: np.ndarray) -> np.ndarray: ...

    def with_workloads(self, features: np.ndarray) -> Predictor: ...


class KerasPredictor:
    """Any model kind, asked through Keras (new workloads via ``extend_model``)."""

    def __init__(self, model: keras.Model) -> None:
        self.model = model

    @property
    def workloads(self) -> int:
        return int(model_parts(self.model).baseline.workloads)

    def predict(self, platform: np.ndarray, workload: np.ndarray,
                interferers: np.ndarray) -> np.ndarray:
        inputs = {"platform": platform, "workload": workload, "interferers": interferers}
        return np.asarray(predict_inputs(self.model, inputs))

    def with_workloads(self, features: np.ndarray) -> KerasPredictor:
        from pitot_tf.models.cold import extend_model

        return KerasPredictor(extend_model(self.model, workload_features=features))


def sample_rows(platforms: int, workloads: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Model inputs covering every platform, with 0, 1 and 2 co-runners."""
    rng = np.random.default_rng(seed)
    n = max(_CHECK_ROWS, 3 * platforms)
    interferers = rng.integers(0, workloads, size=(n, 2)).astype(np.int32)
    interferers[0::3] = -1
    interferers[1::3, 1] = -1
    return {"platform": (np.arange(n) % platforms).astype(np.int32),
            "workload": rng.integers(0, workloads, size=n).astype(np.int32),
            "interferers": interferers}


def largest_difference(model: keras.Model, tables: NumpyPitot) -> float:
    """max |numpy - Keras| log runtime over :func:`sample_rows`."""
    rows = sample_rows(tables.platforms, tables.workloads)
    expected = predict_inputs(model, rows)
    found = tables.predict(rows["platform"], rows["workload"], rows["interferers"])
    return float(np.max(np.abs(found.astype(np.float64) - expected)))


def predictor_for(model: keras.Model) -> Predictor:
    """Numpy tables when the model is Pitot and they reproduce it, else the Keras model."""
    tables = NumpyPitot.from_model(model)
    if tables is None:
        return KerasPredictor(model)
    difference = largest_difference(model, tables)
    if not difference <= CHECK_TOLERANCE:
        _logger.warning("numpy tables differ from the Keras model by %.3g (log runtime); "
                        "serving through Keras", difference)
        return KerasPredictor(model)
    return tables
