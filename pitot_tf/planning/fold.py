"""The measured runtimes of the planned entity folded into the model before planning, so
the plan starts from what they taught (a thin adapter over
:meth:`~pitot_tf.models.numpy_predictor.NumpyPitot.fold_in`).

The fold-in learns from runs alone only (:mod:`pitot_tf.models.fold_in`); measured rows with
co-runners are still never proposed again, and count as information in the D-optimal
strategies, but do not move the predictions.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from pitot_tf.models.fold_in import Entity, Measurements
from pitot_tf.planning.entity import PlanningModel
from pitot_tf.planning.measured import Measured


def fold_measured(model: PlanningModel, entity: Entity, measured: Measured) -> PlanningModel:
    """``model`` with ``entity``'s row refitted to the ``measured`` runs alone (unchanged
    when there are none)."""
    alone = np.flatnonzero(measured.rows.degree() == 1)
    if not len(alone):
        return model
    log_runtime = np.log(measured.runtime_s[alone] / model.seconds_per_unit)
    size = model.tables.platforms if entity.axis == "workload" else model.tables.workloads
    runs = Measurements.of(measured.rows.other[alone], log_runtime, size)
    return replace(model, tables=model.tables.fold_in(entity, runs))
