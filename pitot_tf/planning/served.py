"""A :class:`~pitot_tf.planning.entity.PlanningModel` from a served ``pyfunc-model``: its
numpy tables, its runtime unit, and the conformal margins a row of the planned entity gets,
as the pyfunc answers: after k measured runs folded in, the margins calibrated with as many
(where the run calibrated them: a cold-workload split for a workload, a cold-platform split
for a platform); else cold margins for a new entity where the run calibrated them; else the
row's kind's."""

from __future__ import annotations

import numpy as np

from pitot_tf.conformal.groups import COLD_PLATFORM
from pitot_tf.errors import PlanningError
from pitot_tf.models.numpy_predictor import NumpyPitot
from pitot_tf.planning.entity import PlanningModel
from pitot_tf.serving.pyfunc import PitotRuntimeModel


def planning_model(pyfunc: PitotRuntimeModel, alpha: float, features: np.ndarray | None = None,
                   measured_runs: int = 0, axis: str = "workload") -> tuple[PlanningModel, int]:
    """The planning model and the index of the planned entity on ``axis``: ``features`` (one
    new workload's or platform's feature vector) adds a row for it, cold start, bounded by
    the margins of held-out entities of its axis where the run calibrated them; else the
    index is the caller's. ``measured_runs``: how many runs of a workload alone will be
    folded in (the bounds' group of k; a platform's runs keep the margins of its kind)."""
    tables = pyfunc.predictor
    if not isinstance(tables, NumpyPitot):
        raise PlanningError("planning needs a Pitot model served by its numpy tables; this "
                            "model is answered through Keras")
    index = -1
    margins = pyfunc.margins
    if features is not None and axis == "workload":
        index = tables.workloads
        tables = tables.with_workloads(features[None, :])
        margins = pyfunc.cold_margins or pyfunc.margins
    elif features is not None:
        index = tables.platforms
        tables = tables.with_platforms(features[None, :])
        margins = pyfunc.kind_margins.get(COLD_PLATFORM) or pyfunc.margins

    def bound(log_pred: np.ndarray, degree: np.ndarray) -> np.ndarray:
        return margins.upper_bound(log_pred, degree, np.full(len(degree), alpha))

    after_runs = pyfunc.fold_in_margins if axis == "workload" else pyfunc.platform_fold_in_margins
    if measured_runs and after_runs is not None:
        after = after_runs

        def bound_after_runs(log_pred: np.ndarray, degree: np.ndarray) -> np.ndarray:
            return after.upper_bound(log_pred, degree, alpha, measured_runs)

        return PlanningModel(tables, bound_after_runs, float(pyfunc.seconds_per_unit)), index
    return PlanningModel(tables, bound, float(pyfunc.seconds_per_unit)), index
