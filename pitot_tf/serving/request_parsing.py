"""A ``pyfunc-model`` request, checked and turned into index arrays, or one clear error.

Every check names the row, the field and the value at fault, with near matches for unknown
names, in one line (:class:`BadRequest`). Rows are looked up with plain dict lookups and
numpy, not per-row pandas operations, so a 1,000-row request costs well under a millisecond.
"""

from __future__ import annotations

import difflib
import json
import math
import reprlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, INVALID_PARAMETER_VALUE

from pitot_tf.data.counts import CountEncoding, CountError
from pitot_tf.errors import PredictionError

INPUT_COLUMNS = ("workload", "platform", "co_runners", "alpha", "workload_features",
                 "opcode_counts")
REQUIRED_COLUMNS = ("workload", "platform")
_SHOW = reprlib.Repr()
_SHOW.maxstring, _SHOW.maxother, _SHOW.maxlist = 60, 60, 6


class BadRequest(PredictionError, MlflowException):  # type: ignore[misc]
    """A request the model cannot answer: one line naming the row, field and value.

    As an :class:`MlflowException` with ``INVALID_PARAMETER_VALUE`` it becomes HTTP 400 under
    ``mlflow models serve``. The scoring server prefixes the message of an exception raised
    in ``predict`` with the whole input table (``Failed to predict data '...'``); the response
    body (:meth:`serialize_as_json`) keeps only this line, and no stack trace.
    """

    def __init__(self, reason: str) -> None:
        MlflowException.__init__(self, reason, error_code=INVALID_PARAMETER_VALUE)
        self.reason = reason

    def serialize_as_json(self) -> str:
        return json.dumps({"error_code": self.error_code, "message": self.reason})


class ModelFailure(MlflowException):  # type: ignore[misc]
    """The model failed on a request it accepted (a bug): HTTP 500 with one line naming the
    error; the traceback goes to the server's log, not to the client."""

    def __init__(self, error: BaseException) -> None:
        text = f"the model failed on this request: {type(error).__name__}: {error}"
        self.reason = text.splitlines()[0]
        super().__init__(self.reason, error_code=INTERNAL_ERROR)

    def serialize_as_json(self) -> str:
        return json.dumps({"error_code": self.error_code, "message": self.reason})


@dataclass(frozen=True)
class Request:
    """A checked request: per row its names, indices, co-runners, alpha and (cold start) its
    new workload's features (given, or encoded from its opcode counts). ``workload_index`` is
    -1 for rows that give features or counts."""

    workload: list[str]
    platform: np.ndarray  # (n,) int32
    workload_index: np.ndarray  # (n,) int32
    interferers: np.ndarray  # (n, J) int32, -1 = empty slot
    co_runners: list[str]  # per row, the co-runner names joined with ";"
    alpha: np.ndarray  # (n,) float64
    features: dict[int, np.ndarray]  # row -> its workload's feature vector (cold start)

    def __len__(self) -> int:
        return len(self.workload)

    @property
    def degree(self) -> np.ndarray:
        """Workloads running at once per row: 1 + its number of co-runners."""
        return 1 + np.count_nonzero(self.interferers >= 0, axis=1)


def show(value: Any) -> str:
    """``value`` as a short one-line repr, for error messages."""
    return _SHOW.repr(value)


def unknown_name(value: str, index: dict[str, int], kind: str, where: str) -> BadRequest:
    """The error for a name not in ``index``, with up to five near matches."""
    close = difflib.get_close_matches(value, list(index), n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f" ({len(index)} {kind}s known)"
    return BadRequest(f"{where}: unknown {kind} {value!r}{hint}")


def is_missing(value: Any) -> bool:
    """None, NaN or a blank string: the field was not given for this row."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def name_of(value: Any, field: str, row: int) -> str:
    """A name as text: strings stripped, numbers as written; anything else is an error."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(value)
    raise BadRequest(f"row {row}: {field} must be a name (a string), got {show(value)}")


def indices(values: Sequence[Any], index: dict[str, int], field: str, kind: str,
            skip: set[int] | None = None) -> tuple[np.ndarray, list[str]]:
    """``(n,)`` int32 index of each row's name (rows in ``skip`` get -1), and the names
    as text (stripped)."""
    found = [index.get(v) if type(v) is str else None for v in values]
    names = list(values)
    for row, hit in enumerate(found):
        if hit is None:
            names[row] = name = name_of(values[row], field, row)
            if skip and row in skip:
                continue
            if name not in index:
                raise unknown_name(name, index, kind, f"row {row}: {field}")
            found[row] = index[name]
    return np.asarray([-1 if i is None else i for i in found], dtype=np.int32), names


def co_runner_names(value: Any, row: int = 0) -> list[str]:
    """``"a;b"``, ``["a", "b"]`` or empty/None → ``["a", "b"]`` / ``[]``."""
    if is_missing(value):
        return []
    if isinstance(value, str):
        items: list[Any] = value.split(";")
    elif isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        items = list(value)
    else:
        raise BadRequest(f"row {row}: co_runners must be a list of workload names or one "
                         f"';'-separated string, got {show(value)}")
    names = [name_of(item, "co_runners", row) for item in items if not is_missing(item)]
    return [name for name in names if name]


def co_runner_rows(values: Sequence[Any], index: dict[str, int],
                   width: int) -> tuple[np.ndarray, list[str]]:
    """``(n, J)`` co-runner indices (-1 = empty slot, ``J >= width``) and each row's names
    joined with ``;``. Each distinct string (or missing value) is parsed once per request."""
    parsed: dict[str | None, tuple[list[int], str]] = {}
    rows: list[list[int]] = []
    texts: list[str] = []
    for row, value in enumerate(values):
        kind = type(value)
        cached = kind is str or value is None or (kind is float and value != value)  # NaN
        key = value if kind is str else None
        entry = parsed.get(key) if cached else None
        if entry is None:
            names = co_runner_names(value, row)
            for name in names:
                if name not in index:
                    raise unknown_name(name, index, "workload", f"row {row}: co_runners")
            entry = ([index[name] for name in names], ";".join(names))
            if cached:
                parsed[key] = entry
        rows.append(entry[0])
        texts.append(entry[1])
    width = max([width, *map(len, rows)])
    padding = [-1] * width
    interferers = np.array([slots + padding[len(slots):] for slots in rows], dtype=np.int32)
    return interferers.reshape(len(rows), width), texts


def alphas(values: Sequence[Any], default: float) -> np.ndarray:
    """``(n,)`` miscoverage per row, ``default`` where not given; each must be in (0, 1)."""
    try:
        alpha = np.asarray(values, dtype=np.float64).reshape(len(values))
    except (TypeError, ValueError):
        alpha = np.asarray([_number(v, "alpha", row) for row, v in enumerate(values)])
    alpha = np.where(np.isnan(alpha), default, alpha)
    bad = np.flatnonzero(~((alpha > 0.0) & (alpha < 1.0)))
    if len(bad):
        row = int(bad[0])
        raise BadRequest(f"row {row}: miscoverage alpha must be in (0, 1), "
                         f"got {show(values[row])}")
    return alpha


def _number(value: Any, field: str, row: int) -> float:
    if is_missing(value):
        return math.nan
    try:
        if isinstance(value, (bool, np.bool_)):
            raise TypeError
        return float(value)
    except (TypeError, ValueError):
        raise BadRequest(f"row {row}: {field} must be a number, got {show(value)}") from None


def feature_vector(value: Any, row: int = 0) -> np.ndarray | None:
    """``"0.5;1.2"``, ``[0.5, 1.2]`` → float32 array; empty/None → None (not cold start)."""
    if is_missing(value):
        return None
    if isinstance(value, str):
        items: list[Any] = [s for s in value.replace(",", ";").split(";") if s.strip()]
    elif isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        items = list(value)
    else:
        raise BadRequest(f"row {row}: workload_features must be a list of numbers or one "
                         f"';'-separated string, got {show(value)}")
    try:
        vector = np.asarray([float(item) for item in items], dtype=np.float32)
    except (TypeError, ValueError):
        raise BadRequest(f"row {row}: workload_features must be numbers, got {show(value)}"
                         ) from None
    if not np.all(np.isfinite(vector)):
        raise BadRequest(f"row {row}: workload_features must be finite, got {show(value)}")
    return vector if len(vector) else None


def features_by_row(values: Sequence[Any], dim: int | None) -> dict[int, np.ndarray]:
    """Feature vectors of the rows that give one, each ``dim`` long (when known)."""
    found = {}
    for row, value in enumerate(values):
        vector = None if value is None else feature_vector(value, row)
        if vector is None:
            continue
        if dim is not None and len(vector) != dim:
            raise BadRequest(f"row {row}: workload_features: a new workload needs {dim} "
                             f"features, got {len(vector)}")
        found[row] = vector
    return found


def count_table(value: Any, row: int) -> dict[Any, Any] | None:
    """``{"x20": 3, ...}`` or the same as one JSON string → a dict; empty/None → None."""
    if is_missing(value):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise BadRequest(f"row {row}: opcode_counts must be a JSON object of opcode label "
                             f"-> count, got {show(value)}") from None
    if not isinstance(value, dict):
        raise BadRequest(f"row {row}: opcode_counts must be an object of opcode label -> count, "
                         f"got {show(value)}")
    return value


def counts_by_row(values: Sequence[Any], encoding: CountEncoding | None) -> dict[int, np.ndarray]:
    """Feature vectors, encoded with the model's ``encoding``, of the rows that give counts."""
    found = {}
    for row, value in enumerate(values):
        counts = None if value is None else count_table(value, row)
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


def new_workload_features(features: Sequence[Any], counts: Sequence[Any], dim: int | None,
                          encoding: CountEncoding | None) -> dict[int, np.ndarray]:
    """Per cold-start row, its feature vector from ``workload_features`` or ``opcode_counts``
    (exactly one of them per row)."""
    given = features_by_row(features, dim)
    encoded = counts_by_row(counts, encoding)
    both = sorted(set(given) & set(encoded))
    if both:
        raise BadRequest(f"row {both[0]}: give a new workload's workload_features or its "
                         f"opcode_counts, not both")
    return given | encoded


def check_columns(frame: pd.DataFrame) -> None:
    """BadRequest for a missing required or an unknown column."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise BadRequest(f"input is missing column(s) {missing}; "
                         f"expected {', '.join(INPUT_COLUMNS)}")
    unknown = [str(c) for c in frame.columns if c not in INPUT_COLUMNS]
    if unknown:
        raise BadRequest(f"unknown input column(s) {unknown}; expected {', '.join(INPUT_COLUMNS)}")


@dataclass(frozen=True)
class Names:
    """What a request is checked against: the names on each axis, the model's co-runner width,
    the default alpha, (when known) the length of a workload feature vector and how opcode
    counts are encoded into one."""

    workloads: dict[str, int]
    platforms: dict[str, int]
    width: int
    default_alpha: float
    feature_dim: int | None = None
    counts: CountEncoding | None = None

    def parse(self, frame: pd.DataFrame) -> Request:
        """The checked :class:`Request` for a table of ``INPUT_COLUMNS``; BadRequest if not."""
        check_columns(frame)
        n = len(frame)
        absent = [None] * n
        column = {c: frame[c].tolist() if c in frame.columns else absent for c in INPUT_COLUMNS}
        features = new_workload_features(column["workload_features"], column["opcode_counts"],
                                         self.feature_dim, self.counts)
        workload_index, workloads = indices(column["workload"], self.workloads, "workload",
                                            "workload", skip=set(features))
        platform_index, _ = indices(column["platform"], self.platforms, "platform", "platform")
        interferers, co_runners = co_runner_rows(column["co_runners"], self.workloads,
                                                 self.width)
        return Request(
            workload=workloads, platform=platform_index,
            workload_index=workload_index, interferers=interferers, co_runners=co_runners,
            alpha=alphas(column["alpha"], self.default_alpha), features=features)
