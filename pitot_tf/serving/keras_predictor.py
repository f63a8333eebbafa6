"""The Keras side of serving: numpy tables checked against the model, or the model itself.

:func:`predictor_for` runs when a model is logged (and when a test serves a model in memory).
For a Pitot model it computes the numpy tables
(:func:`~pitot_tf.models.numpy_export.numpy_pitot`) and checks them against the Keras model on a
sample of rows (every platform, with 0, 1 and 2 co-runners) and on new workloads and platforms
(the tower outputs and baseline terms a cold-start row gets); tables that do not reproduce the
model, and every other model kind, are served through :class:`KerasPredictor` instead, with a
warning, rather than answering wrongly.
"""

from __future__ import annotations

import logging
from typing import Any

import keras
import numpy as np

from pitot_tf.errors import PredictionError
from pitot_tf.models.fold_in import Entity, Measurements
from pitot_tf.models.interference import NUMPY_OPS
from pitot_tf.models.numpy_export import numpy_pitot
from pitot_tf.models.numpy_predictor import NumpyPitot
from pitot_tf.models.parts import MissingPart, model_parts
from pitot_tf.serving.predictor import Predictor
from pitot_tf.training.predict import predict_inputs

_logger = logging.getLogger(__name__)

#: Largest |numpy - Keras| (log runtime, or tower output) accepted in the check; float32
#: rounding of values around 10..20 is ~1e-6, a structural mismatch is orders of magnitude more.
CHECK_TOLERANCE = 1e-4
_CHECK_ROWS = 512
_CHECK_NEW = 32


class KerasPredictor:
    """Any model kind, asked through Keras (new workloads and platforms via ``extend_model``)."""

    def __init__(self, model: keras.Model) -> None:
        self.model = model

    @property
    def workloads(self) -> int:
        return int(model_parts(self.model).baseline.workloads)

    @property
    def platforms(self) -> int:
        return int(model_parts(self.model).baseline.platforms)

    @property
    def feature_dim(self) -> int | None:
        return self._feature_dim(1)

    @property
    def platform_feature_dim(self) -> int | None:
        return self._feature_dim(0)

    def _feature_dim(self, axis: int) -> int | None:
        try:
            return int(model_parts(self.model).baseline.feature_dims[axis])
        except (MissingPart, AttributeError):
            return None

    def predict(self, platform: np.ndarray, workload: np.ndarray,
                interferers: np.ndarray) -> np.ndarray:
        inputs = {"platform": platform, "workload": workload, "interferers": interferers}
        return np.asarray(predict_inputs(self.model, inputs))

    def with_workloads(self, features: np.ndarray) -> KerasPredictor:
        from pitot_tf.models.cold import extend_model

        return KerasPredictor(extend_model(self.model, workload_features=features))

    def with_platforms(self, features: np.ndarray) -> KerasPredictor:
        from pitot_tf.models.cold import extend_model

        return KerasPredictor(extend_model(self.model, platform_features=features))

    def fold_in(self, entity: Entity, measurements: Measurements) -> KerasPredictor:
        raise PredictionError("measured runtimes can only be folded into a Pitot model "
                              "served from its numpy tables")


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


def new_rows_difference(model: keras.Model, tables: NumpyPitot, axis: str,
                        seed: int = 0) -> float:
    """max |numpy - Keras| over what new rows of ``axis`` get: each tower's rows
    (``Tower.embed_new`` through the layer's layout) and each baseline's feature term, for
    features around the scale of the model's own (log counts); 0 for tables without that
    side (platform towers of tables saved before they were stored)."""
    new = tables.new_workloads if axis == "workload" else tables.new_platforms
    if new is None:
        return 0.0
    features = _check_features(new.feature_dim, seed)
    parts = model_parts(model)
    worst = 0.0
    for layer, tower in zip(parts.interactions, new.towers, strict=True):
        expected_rows: tuple[Any, ...]
        found_rows: tuple[Any, ...]
        if axis == "workload":
            expected_rows = layer.tower_layout.workload(
                layer.workload_tower.embed_new(features), NUMPY_OPS)
            found_rows = tower.rows(features)
        else:
            expected_rows = layer.tower_layout.platform(
                layer.platform_tower.embed_new(features), NUMPY_OPS)
            found_rows = tower.platform_rows(features)
        for expected, found in zip(expected_rows, found_rows, strict=True):
            if expected is not None:
                worst = max(worst, _difference(found, expected))
    return max(worst, _baseline_difference(parts.baselines, new.baselines, axis, features))


def _check_features(dim: int, seed: int) -> np.ndarray:
    """Feature rows around the scale of a model's own (log counts) to check new rows on."""
    rng = np.random.default_rng(seed)
    return np.abs(rng.normal(2.0, 2.0, size=(_CHECK_NEW, dim))).astype(np.float32)


def _baseline_difference(layers: Any, baselines: Any, axis: str, features: np.ndarray) -> float:
    """max |numpy - Keras| of each baseline's feature term of ``axis``."""
    return max((_difference(numpy_base.term(features), base.feature_term(axis, features))
                for base, numpy_base in zip(layers, baselines, strict=True)), default=0.0)


def _difference(found: object, expected: object) -> float:
    if found is None:
        return float("inf")
    gap = np.abs(np.asarray(found, np.float64) - np.asarray(expected, np.float64))
    return float(np.max(gap)) if gap.size else 0.0


def predictor_for(model: keras.Model) -> Predictor:
    """Numpy tables when the model is Pitot and they reproduce it, else the Keras model."""
    tables = numpy_pitot(model)
    if tables is None:
        return KerasPredictor(model)
    difference = max(largest_difference(model, tables),
                     new_rows_difference(model, tables, "workload"),
                     new_rows_difference(model, tables, "platform"))
    if not difference <= CHECK_TOLERANCE:
        _logger.warning("numpy tables differ from the Keras model by %.3g (log runtime); "
                        "serving through Keras", difference)
        return KerasPredictor(model)
    return tables
