"""A new workload's side features in a request: ``workload_features`` or ``opcode_counts``;
and a new platform's, ``platform_features`` (read by the same :func:`features_by_row`).

A row that names a workload the model has not seen gives either its feature vector or its
opcode counts (encoded with the model's own :class:`~pitot_tf.data.counts.CountEncoding`),
never both. Each is bounded by :class:`~pitot_tf.serving.limits.Limits` (numbers per vector,
their magnitude, entries and counts per table, JSON depth) before it is read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from pitot_tf.data.counts import CountEncoding, CountError
from pitot_tf.serving.bad_request import BadRequest, check_text, is_missing, show
from pitot_tf.serving.body_checks import too_deep
from pitot_tf.serving.limits import Limits


def feature_vector(value: Any, row: int = 0, limits: Limits = Limits(),
                   field: str = "workload_features") -> np.ndarray | None:
    """``"0.5;1.2"``, ``[0.5, 1.2]`` → float32 array; empty/None → None (not cold start).
    At most ``limits.max_features`` numbers, each a finite number (not a boolean) of
    magnitude at most ``limits.max_feature_magnitude``; ``field`` names the request field
    (``workload_features`` or ``platform_features``) in errors."""
    if is_missing(value):
        return None
    if isinstance(value, str):
        check_text(value, field, row, limits)
        items: list[Any] = [s for s in value.replace(",", ";").split(";") if s.strip()]
    elif isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        items = value if isinstance(value, list) else list(value)
    else:
        raise BadRequest(f"row {row}: {field} must be a list of numbers or one "
                         f"';'-separated string, got {show(value)}")
    if len(items) > limits.max_features:
        raise BadRequest(f"row {row}: {field}: {len(items)} numbers, over the limit "
                         f"of {limits.max_features} (PITOT_SERVE_MAX_FEATURES)")
    try:
        if any(isinstance(item, (bool, np.bool_)) for item in items):
            raise TypeError
        numbers = np.asarray([float(item) for item in items], dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise BadRequest(f"row {row}: {field} must be numbers, got {show(value)}"
                         ) from None
    if not np.all(np.isfinite(numbers)):
        raise BadRequest(f"row {row}: {field} must be finite, got {show(value)}")
    if len(numbers) and np.max(np.abs(numbers)) > limits.max_feature_magnitude:
        raise BadRequest(f"row {row}: {field}: a value of magnitude above "
                         f"{limits.max_feature_magnitude:g} (PITOT_SERVE_MAX_FEATURE_MAGNITUDE)"
                         f", got {show(value)}")
    vector = numbers.astype(np.float32)
    return vector if len(vector) else None


def features_by_row(values: Sequence[Any] | None, dim: int | None, limits: Limits = Limits(),
                    field: str = "workload_features", axis: str = "workload",
                    ) -> dict[int, np.ndarray]:
    """Feature vectors of the rows that give one in ``field``, each ``dim`` long (when
    known) for a new row of ``axis``."""
    found: dict[int, np.ndarray] = {}
    for row, value in enumerate(values or ()):
        vector = None if value is None else feature_vector(value, row, limits, field)
        if vector is None:
            continue
        if dim is not None and len(vector) != dim:
            raise BadRequest(f"row {row}: {field}: a new {axis} needs {dim} "
                             f"features, got {len(vector)}")
        found[row] = vector
    return found


def count_table(value: Any, row: int, limits: Limits = Limits()) -> dict[Any, Any] | None:
    """``{"x20": 3, ...}`` or the same as one JSON string → a dict; empty/None → None. At most
    ``limits.max_opcode_entries`` entries, labels at most ``limits.max_name_chars`` long, each
    count a number (not a boolean) no larger than ``limits.max_opcode_count``."""
    if is_missing(value):
        return None
    if isinstance(value, str):
        check_text(value, "opcode_counts", row, limits)
        if too_deep(value, limits.max_json_depth):
            raise BadRequest(f"row {row}: opcode_counts: JSON nests deeper than "
                             f"{limits.max_json_depth} levels")
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise BadRequest(f"row {row}: opcode_counts must be a JSON object of opcode label "
                             f"-> count, got {show(value)}") from None
    if not isinstance(value, dict):
        raise BadRequest(f"row {row}: opcode_counts must be an object of opcode label -> count, "
                         f"got {show(value)}")
    if len(value) > limits.max_opcode_entries:
        raise BadRequest(f"row {row}: opcode_counts: {len(value)} entries, over the limit of "
                         f"{limits.max_opcode_entries} (PITOT_SERVE_MAX_OPCODE_ENTRIES)")
    for label, count in value.items():
        if isinstance(label, str) and len(label) > limits.max_name_chars:
            raise BadRequest(f"row {row}: opcode_counts: a label of {len(label)} characters "
                             f"is over the limit of {limits.max_name_chars}: {show(label)}")
        if isinstance(count, (bool, np.bool_)) or not isinstance(
                count, (int, float, np.integer, np.floating)):
            raise BadRequest(f"row {row}: opcode_counts: count of {show(label)} must be a "
                             f"number, got {show(count)}")
        if count > limits.max_opcode_count:  # before float(): 10**400 would overflow it
            raise BadRequest(f"row {row}: opcode_counts: count of {show(label)} is above the "
                             f"limit of {limits.max_opcode_count:g} "
                             f"(PITOT_SERVE_MAX_OPCODE_COUNT), got {show(count)}")
    return value


def counts_by_row(values: Sequence[Any] | None, encoding: CountEncoding | None,
                  limits: Limits = Limits()) -> dict[int, np.ndarray]:
    """Feature vectors, encoded with the model's ``encoding``, of the rows that give counts."""
    found: dict[int, np.ndarray] = {}
    for row, value in enumerate(values or ()):
        counts = None if value is None else count_table(value, row, limits)
        if counts is None:
            continue
        if encoding is None:
            raise BadRequest(f"row {row}: opcode_counts: this model's workload features are not "
                             f"opcode counts (or it was logged without their encoding); give "
                             f"workload_features instead")
        try:
            found[row] = encoding.encode(counts)
        except CountError as error:
            raise BadRequest(f"row {row}: opcode_counts: {error}") from None
    return found


def new_workload_features(features: Sequence[Any] | None, counts: Sequence[Any] | None,
                          dim: int | None,
                          encoding: CountEncoding | None,
                          limits: Limits = Limits()) -> dict[int, np.ndarray]:
    """Per cold-start row, its feature vector from ``workload_features`` or ``opcode_counts``
    (exactly one of them per row)."""
    given = features_by_row(features, dim, limits)
    encoded = counts_by_row(counts, encoding, limits)
    both = sorted(set(given) & set(encoded))
    if both:
        raise BadRequest(f"row {both[0]}: give a new workload's workload_features or its "
                         f"opcode_counts, not both")
    return given | encoded


def new_platform_features(values: Sequence[Any] | None, dim: int | None,
                          limits: Limits = Limits()) -> dict[int, np.ndarray]:
    """Per row that gives ``platform_features`` (a new platform), its feature vector, ``dim``
    long when known; bounded as ``workload_features``."""
    return features_by_row(values, dim, limits, "platform_features", "platform")
