"""A ``pyfunc-model`` request, checked and turned into index arrays, or one clear error.

Every check names the row, the field and the value at fault in one line
(:class:`~pitot_tf.serving.bad_request.BadRequest`); a new workload's or platform's features are
read by :mod:`pitot_tf.serving.new_workload_fields`. Every input is
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

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pitot_tf.data.counts import CountEncoding
from pitot_tf.errors import PredictionError
from pitot_tf.serving.bad_request import (
    BadRequest,
    check_text,
    is_missing,
    show,
    unknown_name,
)
from pitot_tf.serving.frames import column_lists
from pitot_tf.serving.limits import Limits
from pitot_tf.serving.measured import MeasuredRuns, measured_runs
from pitot_tf.serving.new_workload_fields import new_platform_features, new_workload_features

INPUT_COLUMNS = ("workload", "platform", "co_runners", "alpha", "workload_features",
                 "opcode_counts", "measured", "platform_features")
REQUIRED_COLUMNS = ("workload", "platform")
#: Value types a column of numbers converts in one step (not ``bool``: True is not 1.0).
_PLAIN_NUMBERS = {float, int}


@dataclass(frozen=True)
class Request:
    """A checked request: per row its names, indices, co-runners, alpha and (cold start) its
    new workload's features (given, or encoded from its opcode counts) or its new platform's.
    ``workload_index`` (``platform``) is -1 for rows that give workload (platform) features
    under a name the model does not know; every such row gets a new row when predicted,
    whatever its name (:func:`~pitot_tf.serving.cold_rows.with_new_rows`)."""

    workload: list[str]
    platform: np.ndarray  # (n,) int32
    workload_index: np.ndarray  # (n,) int32
    interferers: np.ndarray  # (n, J) int32, -1 = empty slot
    co_runners: list[str]  # per row, the co-runner names joined with ";"
    alpha: np.ndarray  # (n,) float64
    features: dict[int, np.ndarray]  # row -> its workload's feature vector (cold start)
    measured: dict[int, MeasuredRuns] = field(default_factory=dict)  # row -> runs to fold in
    platform_features: dict[int, np.ndarray] = field(default_factory=dict)  # row -> new platform
    platform_name: list[str] = field(default_factory=list)  # per row, as given (stripped)

    def __len__(self) -> int:
        return len(self.workload)

    @property
    def degree(self) -> np.ndarray:
        """Workloads running at once per row: 1 + its number of co-runners."""
        return 1 + np.count_nonzero(self.interferers >= 0, axis=1)


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
    counts are encoded into one, the length of a platform feature vector, and the bounds of
    every input."""

    workloads: dict[str, int]
    platforms: dict[str, int]
    width: int
    default_alpha: float
    feature_dim: int | None = None
    counts: CountEncoding | None = None
    limits: Limits = Limits()
    platform_feature_dim: int | None = None

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
        new_platforms = new_platform_features(columns.get("platform_features"),
                                              self.platform_feature_dim, self.limits)
        platform_index, platform_names = indices(columns["platform"], self.platforms, "platform",
                                                 "platform", self.limits,
                                                 skip=set(new_platforms))
        interferers, co_runners = co_runner_rows(columns.get("co_runners"), self.workloads,
                                                 self.width, self.limits, rows=n)
        return Request(
            workload=workloads, platform=platform_index,
            workload_index=workload_index, interferers=interferers, co_runners=co_runners,
            alpha=alphas(columns.get("alpha"), self.default_alpha, rows=n), features=features,
            measured=measured_by_row(columns.get("measured")),
            platform_features=new_platforms, platform_name=platform_names)


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
