"""Measured runtimes of the workload (or platform) asked about, to fold into the model.

A request may carry, besides the workload and platform it asks about, a list of runs it has
measured: ``[{"platform": "...", "runtime_s": 0.12}, ...]`` (runs of its workload, alone, on
those platforms) or ``[{"workload": "...", "runtime_s": 0.12}, ...]`` (runs of those workloads
alone on its platform). They are folded into that workload's (platform's) row before it is
predicted (:mod:`pitot_tf.models.fold_in`). Every bad entry is a one-line
:class:`~pitot_tf.errors.PredictionError` naming where it is, the entry and the field: a
name the model does not know, a runtime that is not a positive finite number of seconds,
both or neither key, or more entries than :data:`~pitot_tf.models.fold_in.MAX_MEASUREMENTS`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pitot_tf.errors import PredictionError
from pitot_tf.models.fold_in import MAX_MEASUREMENTS, Measurements

#: The key naming the other axis' entity in an entry, by the axis folded in.
KEYS = {"workload": "platform", "platform": "workload"}


@dataclass(frozen=True)
class MeasuredRuns:
    """Checked entries: the axis of the entity folded in, the names of the other axis' rows
    the runs were on, and their runtimes in seconds."""

    axis: str
    names: tuple[str, ...]
    seconds: np.ndarray

    def measurements(self, index: dict[str, int], seconds_per_unit: float,
                     where: str) -> Measurements:
        """Indices and log runtimes in the model's unit; PredictionError for an unknown name."""
        rows = []
        for entry, name in enumerate(self.names):
            if name not in index:
                raise PredictionError(f"{where}: entry {entry}: {KEYS[self.axis]}: unknown "
                                      f"{KEYS[self.axis]} {name!r}")
            rows.append(index[name])
        log_t = np.log(self.seconds / seconds_per_unit)
        return Measurements.of(np.asarray(rows), log_t, len(index))


def measured_runs(value: Any, where: str, item: str = "entry", start: int = 0,
                  ) -> MeasuredRuns | None:
    """The entries of ``value`` (a list of objects, or its JSON text; None, NaN or an empty
    text or list: no measurements), checked; ``where`` prefixes every error (a request row, a
    file), which names the entry as ``item`` numbered from ``start``."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise PredictionError(f"{where}: not JSON: {error}") from None
    if not isinstance(value, list):
        raise PredictionError(f"{where}: must be a list of objects, got "
                              f"{type(value).__name__}")
    if len(value) > MAX_MEASUREMENTS:
        raise PredictionError(f"{where}: {len(value)} entries, over the limit of "
                              f"{MAX_MEASUREMENTS}")
    if not value:
        return None
    entries = [_entry(entry, f"{where}: {item} {i}") for i, entry in enumerate(value, start)]
    axes = {axis for axis, _, _ in entries}
    if len(axes) > 1:
        raise PredictionError(f"{where}: give every entry a platform (runs of the "
                              "workload) or every entry a workload (runs on the platform), "
                              "not both")
    return MeasuredRuns(axes.pop(), tuple(name for _, name, _ in entries),
                        np.array([seconds for _, _, seconds in entries]))


def _entry(item: Any, at: str) -> tuple[str, str, float]:
    """``(axis folded in, name, seconds)`` of one entry; ``at`` prefixes its errors."""
    if not isinstance(item, dict):
        raise PredictionError(f"{at}: must be an object with platform (or workload) and "
                              f"runtime_s, got {type(item).__name__}")
    named = [key for key in ("platform", "workload") if key in item]
    if len(named) != 1:
        raise PredictionError(f"{at}: needs exactly one of platform and workload")
    name = item[named[0]]
    if not isinstance(name, str) or not name:
        raise PredictionError(f"{at}: {named[0]} must be a name, got {name!r}")
    seconds = item.get("runtime_s")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float, str)):
        raise PredictionError(f"{at}: runtime_s must be a number of seconds, got {seconds!r}")
    try:
        value = float(seconds)
    except ValueError:
        raise PredictionError(f"{at}: runtime_s must be a number of seconds, got "
                              f"{seconds!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise PredictionError(f"{at}: runtime_s must be positive and finite, got {seconds!r}")
    unknown = set(item) - {named[0], "runtime_s"}
    if unknown:
        raise PredictionError(f"{at}: unknown field {sorted(unknown)[0]!r}")
    return ("workload" if named[0] == "platform" else "platform"), name, value
