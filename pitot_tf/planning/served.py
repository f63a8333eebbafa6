"""A :class:`~pitot_tf.planning.entity.PlanningModel` from a served ``pyfunc-model``: its
numpy tables, its runtime unit, and the conformal margins a row of the planned workload gets
(cold margins for a new workload where the run calibrated them, as the pyfunc answers)."""

from __future__ import annotations

import numpy as np

from pitot_tf.errors import PlanningError
from pitot_tf.models.numpy_predictor import NumpyPitot
from pitot_tf.planning.entity import PlanningModel
from pitot_tf.serving.pyfunc import PitotRuntimeModel


def planning_model(pyfunc: PitotRuntimeModel, alpha: float, features: np.ndarray | None = None
                   ) -> tuple[PlanningModel, int]:
    """The planning model and the planned workload's index: ``features`` (one new workload's
    feature vector) adds a row for it, cold start; else the index is the caller's."""
    tables = pyfunc.predictor
    if not isinstance(tables, NumpyPitot):
        raise PlanningError("planning needs a Pitot model served by its numpy tables; this "
                            "model is answered through Keras")
    index = -1
    margins = pyfunc.margins
    if features is not None:
        index = tables.workloads
        tables = tables.with_workloads(features[None, :])
        margins = pyfunc.cold_margins or pyfunc.margins

    def bound(log_pred: np.ndarray, degree: np.ndarray) -> np.ndarray:
        return margins.upper_bound(log_pred, degree, np.full(len(degree), alpha))

    return PlanningModel(tables, bound, float(pyfunc.seconds_per_unit)), index
