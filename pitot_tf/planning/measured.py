"""A file of runtimes already measured for the entity being planned, read and checked.

JSON (a list of objects ``{"platform": ..., "co_runners": [...] or "a;b", "runtime_s": ...}``
for a workload's plan, ``{"workload": ..., ...}`` for a platform's; ``co_runners`` may be
left out for a run alone) or CSV with a header naming the same columns (``co_runners``
``;``-separated). Every row is checked against the model's names: an unknown platform,
workload or co-runner, a runtime that is not a finite positive number of seconds, or a file
that is neither, is one line naming the file, the row and the field.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pitot_tf.errors import PitotError, PlanningError
from pitot_tf.planning.rows import Rows
from pitot_tf.serving.request_parsing import Names, co_runner_rows, indices

#: The most rows a measured file may hold (more is not "a few measurements").
MAX_MEASURED = 10_000


@dataclass(frozen=True)
class Measured:
    """The measured rows and their runtimes in seconds."""

    rows: Rows
    runtime_s: np.ndarray


def read_records(path: Path, key: str = "platform") -> list[dict[str, Any]]:
    """The file's rows as dicts (JSON list of objects, or CSV with a header naming ``key``,
    the column of the other axis)."""
    if not path.is_file():
        raise PlanningError(f"{path}: measured file not found")
    text = path.read_text()
    if path.suffix.lower() == ".json" or text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except ValueError as error:
            raise PlanningError(f"{path}: not JSON: {error}") from None
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise PlanningError(f"{path}: expected a JSON list of objects with {key}, "
                                f"co_runners and runtime_s")
        return records
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or key not in reader.fieldnames:
        raise PlanningError(f"{path}: expected a CSV header with {key}, co_runners and "
                            f"runtime_s, got {reader.fieldnames}")
    return list(reader)


def runtime_of(value: Any, path: Path, row: int) -> float:
    """A finite positive runtime in seconds, or one line naming the row."""
    try:
        seconds = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise PlanningError(f"{path}: row {row}: runtime_s must be a finite positive number "
                            f"of seconds, got {value!r}")
    return seconds


def read_measured(path: Path, names: Names, axis: str = "workload") -> Measured:
    """The checked rows of ``path`` (see the module docstring) for an entity on ``axis``."""
    key = "platform" if axis == "workload" else "workload"
    records = read_records(path, key)
    if len(records) > MAX_MEASURED:
        raise PlanningError(f"{path}: {len(records)} rows, over the limit of {MAX_MEASURED}")
    for row, record in enumerate(records):
        unknown = sorted(set(record) - {key, "co_runners", "runtime_s"})
        if unknown:
            raise PlanningError(f"{path}: row {row}: unknown field(s) {', '.join(unknown)}")
        if record.get(key) is None:
            raise PlanningError(f"{path}: row {row}: {key} is missing")
    runtime = np.asarray([runtime_of(r.get("runtime_s"), path, i)
                          for i, r in enumerate(records)], dtype=np.float64)
    known = names.platforms if key == "platform" else names.workloads
    try:
        other, _ = indices([r.get(key) for r in records], known, key, key, names.limits)
        interferers, _ = co_runner_rows([r.get("co_runners") for r in records], names.workloads,
                                        names.width, names.limits)
    except PitotError as error:
        raise PlanningError(f"{path}: {getattr(error, 'reason', error)}") from None
    return Measured(Rows(other, interferers), runtime)
