"""The ``pyfunc-model``'s answer, column by column, in each form it is sent.

:class:`Answer` holds one array or list per output column, as the model computes them. The
pyfunc's ``predict`` returns it as a table (:class:`AnswerTable`, a ``pandas.DataFrame``,
which MLflow's scoring server writes as records) or, asked for ``orient="columns"``, as one
list per column; ``pitot-tf serve`` writes it straight to JSON (:mod:`~pitot_tf.serving.direct`)
from :meth:`Answer.records` or :meth:`Answer.columns_as_lists`. Every form holds the same
Python values, so every server sends the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from pitot_tf.serving.bad_request import BadRequest, show
from pitot_tf.serving.frames import column_lists, table_of

OUTPUT_COLUMNS = ("workload", "platform", "co_runners", "alpha", "predicted_runtime_s",
                  "upper_bound_s", "calibration", "note")
#: Answer forms a request may ask for with ``params={"orient": ...}``.
ORIENTS = ("records", "columns")


@dataclass(frozen=True)
class Answer:
    """Per output column, its values for every row (a list, or a numpy array)."""

    workload: list[str]
    platform: np.ndarray  # object: names
    co_runners: list[str]
    alpha: np.ndarray  # float64
    predicted_runtime_s: np.ndarray  # float64
    upper_bound_s: np.ndarray  # float64
    calibration: np.ndarray  # object: objective names
    note: np.ndarray  # object: text, "" for none

    def __len__(self) -> int:
        return len(self.workload)

    def columns_as_lists(self) -> dict[str, list[Any]]:
        """``{column: [Python values]}`` in :data:`OUTPUT_COLUMNS` order (the
        ``orient="columns"`` answer)."""
        return {field.name: _as_list(getattr(self, field.name)) for field in fields(self)}

    def records(self) -> list[dict[str, Any]]:
        """One ``{column: value}`` per row (the ``orient="records"`` answer)."""
        columns = self.columns_as_lists()
        names = list(columns)
        return [dict(zip(names, row, strict=False))  # all as long: no checks
                for row in zip(*columns.values(), strict=False)]

    def table(self) -> AnswerTable:
        """The answer as a table: text as object columns of Python strings (which MLflow
        turns into JSON records about twice as fast as pandas' arrow-backed ``str``
        columns), numbers as float64."""
        arrays = [np.asarray(values, dtype=object) if name in _TEXT else values
                  for name, values in self.columns_as_arrays().items()]
        table = table_of(AnswerTable, arrays, OUTPUT_COLUMNS)
        assert isinstance(table, AnswerTable)
        return table

    def columns_as_arrays(self) -> dict[str, Any]:
        """``{column: values}`` as held (lists and arrays)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


#: Columns of text (the others are float64).
_TEXT = ("workload", "platform", "co_runners", "calibration", "note")


def _as_list(values: Any) -> list[Any]:
    return values.tolist() if isinstance(values, np.ndarray) else list(values)


class AnswerTable(pd.DataFrame):
    """The answer table; a ``DataFrame`` whose ``to_dict(orient="records")`` (what MLflow's
    scoring server calls before writing JSON) builds the same records from whole columns,
    several times faster than pandas' per-value conversion. Anything derived from it (a
    slice, a copy) is a plain ``DataFrame``."""

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame

    def columns_as_lists(self) -> dict[str, list[Any]]:
        """``{column: [Python values]}``, the ``orient="columns"`` answer."""
        return dict(zip(map(str, self.columns), column_lists(self), strict=True))

    def to_dict(self, orient: Any = "dict", *args: Any, **kwargs: Any) -> Any:
        if orient != "records" or args or kwargs:
            return super().to_dict(orient, *args, **kwargs)
        names = [str(name) for name in self.columns]
        return [dict(zip(names, row, strict=True))
                for row in zip(*column_lists(self), strict=True)]


def check_finite(runtime: np.ndarray, bound: np.ndarray) -> None:
    """BadRequest naming the first row whose runtime or bound is not a finite positive
    number of seconds (inputs far outside what the model was trained on can overflow
    ``exp``); an answer never carries ``inf`` or ``NaN``."""
    good = np.isfinite(runtime) & np.isfinite(bound) & (runtime > 0) & (bound > 0)
    if not good.all():
        row = int(np.flatnonzero(~good)[0])
        raise BadRequest(f"row {row}: the predicted runtime ({float(runtime[row])!r} s) or "
                         f"bound ({float(bound[row])!r} s) is not a finite positive number; the "
                         f"inputs are far outside what the model was trained on")


def answer_orient(params: dict[str, Any] | None) -> str:
    """The answer form a request's ``params`` ask for (:data:`ORIENTS`; records if none)."""
    orient = (params or {}).get("orient") or "records"
    if orient not in ORIENTS:
        raise BadRequest(f"params: orient must be one of {', '.join(ORIENTS)}, "
                         f"got {show(orient)}")
    return str(orient)
