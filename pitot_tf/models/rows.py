"""Row-indexed weights: weights with one row per platform or per workload, and their role.

Cold start (:mod:`pitot_tf.models.cold`) must know, for every such weight, which axis indexes
it and what a row of it means, to give a platform or workload that training never saw (or
that is added later) sensible values. Layers say so themselves through ``row_weights()``
instead of cold start guessing from weight names:

* ``features``: the axis' side features (non-trainable; a new row gets its own features);
* ``free``: learned per-row parameters (a row never trained gets the mean trained row, or
  zeros when the layer was trained with cold dropout, which is what it saw for dropped rows:
  ``neutral``);
* ``scale``: the linear-scaling baseline's term (a new row gets what its features predict:
  :meth:`pitot_tf.models.baseline.LinearScaling.feature_term`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras

AXES = ("platform", "workload")
ROLES = ("features", "free", "scale")
NEUTRALS = ("mean", "zero")


@dataclass(frozen=True)
class RowWeight:
    """A weight whose first dimension runs over the rows of ``axis``, with its ``role``."""

    weight: Any
    axis: str
    role: str
    neutral: str = "mean"

    def __post_init__(self) -> None:
        if self.axis not in AXES or self.role not in ROLES or self.neutral not in NEUTRALS:
            raise ValueError(f"row weight {self.weight.path}: axis {self.axis!r} must be one of "
                             f"{AXES}, role {self.role!r} one of {ROLES} and neutral "
                             f"{self.neutral!r} one of {NEUTRALS}")

    def neutral_row(self, trained: Any) -> Any:
        """The value (one row) a ``free`` row that was never trained gets, from the
        ``trained`` rows' values: their mean, or zeros (see the module docstring)."""
        mean = trained.mean(axis=0)
        return mean * 0 if self.neutral == "zero" else mean


def model_row_weights(model: keras.Model) -> dict[int, RowWeight]:
    """Every row-indexed weight that ``model``'s layers declare (``row_weights()``), by the
    weight's ``id``: paths are not unique (an ensemble's members have towers of the same
    names, :mod:`pitot_tf.models.ensemble`).

    Layers without the method (inputs, the output sum) have none.
    """
    found: dict[int, RowWeight] = {}
    for layer in model.layers:
        for row in getattr(layer, "row_weights", list)():
            found[id(row.weight)] = row
    return found
