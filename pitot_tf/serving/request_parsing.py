"""A ``pyfunc-model`` request, checked and turned into index arrays, or one clear error.

Every check names the row, the field and the value at fault (quoting at most a short prefix of
it), with near matches for unknown names, in one line (:class:`BadRequest`). Every input is
measured against :class:`~pitot_tf.serving.limits.Limits` before anything is built for it:
rows, name and text lengths, co-runners per row, feature vectors, opcode counts. Numbers must
be finite numbers (not booleans) and names strings. A request is read by column
(:meth:`Names.parse_columns`, from a table or straight from the JSON body): names are looked
up with ``map(dict.get, column)``, each distinct co-runner list is parsed once and spread to
its rows with numpy, and a column of plain numbers is converted in one step; a row is visited
in Python only to explain what is wrong with it, so a 1,000-row request costs a fraction of a
millisecond.
"""

from __future__ import annotations

import difflib
import json
import math
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, INVALID_PARAMETER_VALUE

from pitot_tf.data.counts import CountEncoding, CountError
from pitot_tf.errors import PredictionError
from pitot_tf.serving.body_checks import too_deep
from pitot_tf.serving.frames import column_lists
from pitot_tf.serving.limits import Limits
from pitot_tf.serving.measured import MeasuredRuns, measured_runs

INPUT_COLUMNS = ("workload", "platform", "co_runners", "alpha", "workload_features",
                 "opcode_counts", "measured")
REQUIRED_COLUMNS = ("workload", "platform")
_SHOW = reprlib.Repr()
_SHOW.maxstring, _SHOW.maxother, _SHOW.maxlist = 60, 60, 6
#: Value types a column of numbers converts in one step (not ``bool``: True is not 1.0).
_PLAIN_NUMBERS = {float, int}


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
    measured: dict[int, MeasuredRuns] = field(default_factory=dict)  # row -> runs to fold in

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


def name_of(value: Any, field: str, row: int, limits: Limits) -> str:
    """A name as text (stripped); anything but a string of at most
    ``limits.max_name_chars`` characters is an error (a number is not a name)."""
    if not isinstance(value, str):
        raise BadRequest(f"row {row}: {field} must be a name (a string), got {show(value)}")
    if len(value) > limits.max_name_chars:
        raise BadRequest(f"row {row}: {field}: a name of {len(value)} characters is over the "
                         f"limit of {limits.max_name_chars}: {show(value)}")
    return value.strip()


def indices(values: Sequence[Any], index: dict[str, int], field: str, kind: str,
            limits: Limits, skip: set[int] | None = None) -> tuple[np.ndarray, list[str]]:
    """``(n,)`` int32 index of each row's name (rows in ``skip`` get -1), and the names
    as text (stripped). Known names are looked up at C speed; only the other rows (a name
    with spaces around it, a new workload, a wrong value) are looked at one by one."""
    try:
        found = list(map(index.get, values))
    except TypeError:  # an unhashable value (a list): every row is looked at below
        found = [index.get(v) if type(v) is str else None for v in values]
    names = list(values)
    if None not in found:
        return np.asarray(found, dtype=np.int32), names
    for row, hit in enumerate(found):
        if hit is None or type(values[row]) is not str:
            names[row] = name = name_of(values[row], field, row, limits)
            if skip and row in skip:
                found[row] = -1
                continue
            if name not in index:
                raise unknown_name(name, index, kind, f"row {row}: {field}")
            found[row] = index[name]
    return np.asarray(found, dtype=np.int32), names


def co_runner_names(value: Any, row: int = 0, limits: Limits = Limits(),
                    most: int | None = None) -> list[str]:
    """``"a;b"``, ``["a", "b"]`` or empty/None → ``["a", "b"]`` / ``[]``; at most ``most``
    names (default ``limits.max_co_runners``), counted before any is read."""
    most = limits.max_co_runners if most is None else most
    if is_missing(value):
        return []
    if isinstance(value, str):
        check_text(value, "co_runners", row, limits)
        items: list[Any] = value.split(";")
    elif isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        items = value if isinstance(value, list) else list(value)
    else:
        raise BadRequest(f"row {row}: co_runners must be a list of workload names or one "
                         f"';'-separated string, got {show(value)}")
    if len(items) > most and sum(not is_missing(item) for item in items) > most:
        raise BadRequest(f"row {row}: co_runners: {len(items)} co-runners, over the limit of "
                         f"{most} (PITOT_SERVE_MAX_CO_RUNNERS)")
    names = [name_of(item, "co_runners", row, limits) for item in items if not is_missing(item)]
    return [name for name in names if name]


def check_text(value: str, field: str, row: int, limits: Limits) -> None:
    """BadRequest for a text cell longer than ``limits.max_cell_chars``."""
    if len(value) > limits.max_cell_chars:
        raise BadRequest(f"row {row}: {field}: {len(value)} characters, over the limit of "
                         f"{limits.max_cell_chars} (PITOT_SERVE_MAX_CELL_CHARS): {show(value)}")


def distinct_values(values: Sequence[Any]) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Each distinct value of ``values`` (in order of first appearance, lists compared by
    their items), the row it first appears in, and each row's position among them."""
    keys: Sequence[Any] = values
    try:
        order = dict.fromkeys(keys)
    except TypeError:  # lists: compared as tuples
        try:
            keys = [tuple(v) if isinstance(v, list) else v for v in values]
            order = dict.fromkeys(keys)
        except TypeError:  # unhashable items: every row is its own value
            rows = np.arange(len(values), dtype=np.intp)
            return list(values), rows, rows
    position = {key: i for i, key in enumerate(order)}
    codes = np.fromiter(map(position.__getitem__, keys), dtype=np.intp, count=len(values))
    _, first = np.unique(codes, return_index=True)
    return [values[row] for row in first.tolist()], first, codes


def co_runner_rows(values: Sequence[Any] | None, index: dict[str, int], width: int,
                   limits: Limits = Limits(), rows: int = 0) -> tuple[np.ndarray, list[str]]:
    """``(n, J)`` co-runner indices (-1 = empty slot, ``J >= width``) and each row's names
    joined with ``;`` (``values`` None: ``rows`` rows without co-runners). Each distinct value
    is parsed once per request and spread to its rows with numpy; a row may name at most
    ``limits.co_runners_for(width)``, so ``J`` is bounded too."""
    if values is None:
        return np.full((rows, width), -1, dtype=np.int32), [""] * rows
    most = limits.co_runners_for(width)
    if float in set(map(type, values)):  # pandas' NaN for "not given": one key for all
        values = [None if type(v) is float and v != v else v for v in values]
    distinct, first, codes = distinct_values(values)
    slots: list[list[int]] = []
    texts: list[str] = []
    # one known name: nothing to split or check
    hits = [index.get(value) if type(value) is str else None for value in distinct]
    for value, row, hit in zip(distinct, first.tolist(), hits, strict=True):
        if hit is not None:
            slots.append([hit])
            texts.append(str(value))
            continue
        names = co_runner_names(value, row, limits, most)
        for name in names:
            if name not in index:
                raise unknown_name(name, index, "workload", f"row {row}: co_runners")
        slots.append([index[name] for name in names])
        texts.append(";".join(names))
    lengths = np.fromiter(map(len, slots), dtype=np.intp, count=len(slots))
    table = np.full((len(slots), max(width, int(lengths.max(initial=0)))), -1, dtype=np.int32)
    table[lengths > 0, 0] = [found[0] for found in slots if found]
    for i in np.flatnonzero(lengths > 1).tolist():
        table[i, : lengths[i]] = slots[i]
    return table[codes], np.asarray(texts, dtype=object)[codes].tolist()


def alphas(values: Sequence[Any] | None, default: float, rows: int = 0) -> np.ndarray:
    """``(n,)`` miscoverage per row, ``default`` where not given (``values`` None: ``rows``
    rows of it); each must be a number (not a boolean) in (0, 1). A column of plain numbers
    is converted in one step, anything else value by value."""
    if values is None:
        return np.full(rows, default, dtype=np.float64)
    alpha = None
    if set(map(type, values)) <= _PLAIN_NUMBERS:
        try:
            alpha = np.asarray(values, dtype=np.float64).reshape(len(values))
        except OverflowError:  # an integer beyond float64: explained below
            alpha = None
    if alpha is None:
        alpha = np.asarray([_number(v, "alpha", row) for row, v in enumerate(values)],
                           dtype=np.float64).reshape(len(values))
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
    except (TypeError, ValueError, OverflowError):
        raise BadRequest(f"row {row}: {field} must be a number, got {show(value)}") from None


def feature_vector(value: Any, row: int = 0, limits: Limits = Limits()) -> np.ndarray | None:
    """``"0.5;1.2"``, ``[0.5, 1.2]`` → float32 array; empty/None → None (not cold start).
    At most ``limits.max_features`` numbers, each a finite number (not a boolean) of
    magnitude at most ``limits.max_feature_magnitude``."""
    if is_missing(value):
        return None
    if isinstance(value, str):
        check_text(value, "workload_features", row, limits)
        items: list[Any] = [s for s in value.replace(",", ";").split(";") if s.strip()]
    elif isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        items = value if isinstance(value, list) else list(value)
    else:
        raise BadRequest(f"row {row}: workload_features must be a list of numbers or one "
                         f"';'-separated string, got {show(value)}")
    if len(items) > limits.max_features:
        raise BadRequest(f"row {row}: workload_features: {len(items)} numbers, over the limit "
                         f"of {limits.max_features} (PITOT_SERVE_MAX_FEATURES)")
    try:
        if any(isinstance(item, (bool, np.bool_)) for item in items):
            raise TypeError
        numbers = np.asarray([float(item) for item in items], dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise BadRequest(f"row {row}: workload_features must be numbers, got {show(value)}"
                         ) from None
    if not np.all(np.isfinite(numbers)):
        raise BadRequest(f"row {row}: workload_features must be finite, got {show(value)}")
    if len(numbers) and np.max(np.abs(numbers)) > limits.max_feature_magnitude:
        raise BadRequest(f"row {row}: workload_features: a value of magnitude above "
                         f"{limits.max_feature_magnitude:g} (PITOT_SERVE_MAX_FEATURE_MAGNITUDE)"
                         f", got {show(value)}")
    vector = numbers.astype(np.float32)
    return vector if len(vector) else None


def features_by_row(values: Sequence[Any] | None, dim: int | None,
                    limits: Limits = Limits()) -> dict[int, np.ndarray]:
    """Feature vectors of the rows that give one, each ``dim`` long (when known)."""
    found: dict[int, np.ndarray] = {}
    for row, value in enumerate(values or ()):
        vector = None if value is None else feature_vector(value, row, limits)
        if vector is None:
            continue
        if dim is not None and len(vector) != dim:
            raise BadRequest(f"row {row}: workload_features: a new workload needs {dim} "
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


def check_columns(columns: Iterable[Any]) -> None:
    """BadRequest for a missing required or an unknown column."""
    given = list(columns)
    missing = [c for c in REQUIRED_COLUMNS if c not in given]
    if missing:
        raise BadRequest(f"input is missing column(s) {missing}; "
                         f"expected {', '.join(INPUT_COLUMNS)}")
    unknown = [str(c) for c in given if c not in INPUT_COLUMNS]
    if unknown:
        raise BadRequest(f"unknown input column(s) {unknown}; expected {', '.join(INPUT_COLUMNS)}")


@dataclass(frozen=True)
class Names:
    """What a request is checked against: the names on each axis, the model's co-runner width,
    the default alpha, (when known) the length of a workload feature vector and how opcode
    counts are encoded into one, and the bounds of every input."""

    workloads: dict[str, int]
    platforms: dict[str, int]
    width: int
    default_alpha: float
    feature_dim: int | None = None
    counts: CountEncoding | None = None
    limits: Limits = Limits()

    def parse(self, frame: pd.DataFrame) -> Request:
        """The checked :class:`Request` for a table of ``INPUT_COLUMNS``; BadRequest if not."""
        check_columns(frame.columns)
        return self.parse_columns(dict(zip(frame.columns, column_lists(frame), strict=True)))

    def parse_columns(self, columns: Mapping[str, Sequence[Any]]) -> Request:
        """The checked :class:`Request` for ``{column: values}`` (every column as long, each
        of ``INPUT_COLUMNS``; a value None or NaN is not given); BadRequest if not."""
        check_columns(columns)
        n = len(columns["workload"])
        if n == 0:
            raise BadRequest("the request has no rows")
        if n > self.limits.max_rows:
            raise BadRequest(f"the request has {n} rows, over the limit of "
                             f"{self.limits.max_rows} (PITOT_SERVE_MAX_ROWS)")
        features = new_workload_features(
            columns.get("workload_features"), columns.get("opcode_counts"), self.feature_dim,
            self.counts, self.limits)
        workload_index, workloads = indices(columns["workload"], self.workloads, "workload",
                                            "workload", self.limits, skip=set(features))
        platform_index, _ = indices(columns["platform"], self.platforms, "platform", "platform",
                                    self.limits)
        interferers, co_runners = co_runner_rows(columns.get("co_runners"), self.workloads,
                                                 self.width, self.limits, rows=n)
        return Request(
            workload=workloads, platform=platform_index,
            workload_index=workload_index, interferers=interferers, co_runners=co_runners,
            alpha=alphas(columns.get("alpha"), self.default_alpha, rows=n), features=features,
            measured=measured_by_row(columns.get("measured")))


def measured_by_row(values: Sequence[Any] | None) -> dict[int, MeasuredRuns]:
    """Per row that gives ``measured`` runs, the checked runs; BadRequest naming the row,
    the entry and the field of a bad one."""
    runs = {}
    for row, value in enumerate(values or []):
        try:
            checked = measured_runs(value, f"row {row}: measured")
        except PredictionError as error:
            raise BadRequest(str(error)) from None
        if checked is not None:
            runs[row] = checked
    return runs
