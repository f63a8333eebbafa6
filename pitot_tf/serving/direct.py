"""``pitot-tf serve``'s own ``/invocations``: the JSON body read straight into columns, the
answer written straight to JSON.

MLflow's handler turns a body into a ``DataFrame``, enforces the signature's schema on it,
asks the model, turns the answer table into records and writes them with the pure-Python JSON
encoder: about 2.5 ms of a worker's time for one row and 20 ms per 1,000 rows, several times
the model's own work. :class:`DirectScorer` reads the request forms MLflow reads for this
model,

* ``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}``,
* ``{"dataframe_records": [{...}, ...]}``,
* ``{"inputs": {"workload": [...], "platform": [...], ...}}`` (one list per column),

each with an optional ``"params": {"orient": "records" | "columns"}``, into
``{column: values}`` with orjson, asks the model's own
:meth:`~pitot_tf.serving.pyfunc.PitotRuntimeModel.respond` (the same checks, errors and
numbers as its ``predict``), and writes ``{"predictions": ...}`` with orjson. A request it
does not recognise exactly (another shape, an ``index``, no rows, extra top-level keys, JSON
that orjson refuses but Python's reader might take: ``NaN``, lone surrogates, numbers past
float64) is handed to MLflow's handler, which answers it as it always did. Bad input gets the
pyfunc's 400 (``{"error_code": "INVALID_PARAMETER_VALUE", "message": ...}``); the byte checks
and limits of :mod:`~pitot_tf.serving.asgi_guard` have run before.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Protocol, runtime_checkable

import orjson

from pitot_tf.serving.answer import Answer, answer_orient
from pitot_tf.serving.bad_request import BadRequest, ModelFailure
from pitot_tf.serving.request_parsing import INPUT_COLUMNS, REQUIRED_COLUMNS

_logger = logging.getLogger(__name__)

Columns = dict[str, Sequence[Any]]


@runtime_checkable
class Responder(Protocol):
    """What answers a request by column: the pyfunc's
    :meth:`~pitot_tf.serving.pyfunc.PitotRuntimeModel.respond`."""

    def respond(self, request: Mapping[str, Sequence[Any]]) -> Answer: ...

#: A record's missing key, as pandas fills it.
_MISSING = float("nan")


@dataclass(frozen=True)
class Reply:
    """An HTTP status and its JSON body."""

    status: int
    body: bytes


def split_columns(split: Any) -> Columns | None:
    """``{"columns": [...], "data": [[...], ...]}`` by column, or None if it is not exactly
    that (MLflow's reader then explains, or accepts an ``index``)."""
    if not isinstance(split, dict) or split.keys() != {"columns", "data"}:
        return None
    names, data = split["columns"], split["data"]
    if not isinstance(names, list) or not isinstance(data, list) or not data:
        return None
    if not all(type(name) is str for name in names) or len(set(names)) != len(names):
        return None
    width = len(names)
    if not all(type(row) is list and len(row) == width for row in data):
        return None
    return dict(zip(names, map(list, zip(*data, strict=True)), strict=True))


def records_columns(records: Any) -> Columns | None:
    """``[{...}, ...]`` by column (a key missing from a row is NaN there, as pandas makes
    it), or None if it is not a non-empty list of objects."""
    if not isinstance(records, list) or not records:
        return None
    if set(map(type, records)) != {dict}:
        return None
    names = dict.fromkeys(chain.from_iterable(records))
    return {name: [record.get(name, _MISSING) for record in records] for name in names}


def inputs_columns(inputs: Any) -> Columns | None:
    """``{"workload": [...], ...}`` (lists of strings and numbers, all as long) by column, or
    None for any other ``inputs`` (MLflow's reader then makes arrays of it)."""
    if not isinstance(inputs, dict) or not inputs:
        return None
    columns = list(inputs.values())
    if not all(type(column) is list for column in columns):
        return None
    rows = len(columns[0])
    if rows == 0 or any(len(column) != rows for column in columns):
        return None
    scalars = {str, float, int, type(None)}
    if not all(set(map(type, column)) <= scalars for column in columns):
        return None
    names = [inputs.get(name) or () for name in REQUIRED_COLUMNS]
    if not all(set(map(type, column)) == {str} for column in names):
        return None  # MLflow makes numbers names here (5 -> "5")
    return dict(inputs)


_READERS = {"dataframe_split": split_columns, "dataframe_records": records_columns,
            "inputs": inputs_columns}


def read_request(body: bytes) -> tuple[Columns, dict[str, Any] | None] | None:
    """The request's columns and params, or None to leave it to MLflow's handler."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(payload, dict):
        return None
    forms = [key for key in payload if key != "params"]
    if len(forms) != 1 or forms[0] not in _READERS:
        return None
    params = payload.get("params")
    if params is not None and not (isinstance(params, dict) and type(
            params.get("orient", "")) in (str, type(None))):
        return None
    columns = _READERS[forms[0]](payload[forms[0]])
    if columns is None or not all(name in columns for name in REQUIRED_COLUMNS):
        return None  # MLflow's schema check names what is missing
    if str in set(map(type, columns.get("alpha", ()))):
        return None  # MLflow converts "0.1" to 0.1 and refuses "" itself
    # MLflow's schema check drops columns the signature does not name
    return {name: columns[name] for name in INPUT_COLUMNS if name in columns}, params


def plain_json(content_type: str | None) -> bool:
    """``application/json``, with at most ``charset=utf-8``: the content types MLflow's
    handler reads as JSON (it answers 415 for another charset or parameter)."""
    parts = [part.strip() for part in (content_type or "").split(";")]
    parameters = {key: value for key, _, value in (part.partition("=") for part in parts[1:])}
    return parts[0] == "application/json" and set(parameters) <= {"charset"} and (
        parameters.get("charset", "utf-8").lower() == "utf-8")


def answer_json(answer: Answer, orient: str) -> bytes:
    """``{"predictions": ...}``: one object per row, or one list per column."""
    predictions = answer.columns_as_lists() if orient == "columns" else answer.records()
    return orjson.dumps({"predictions": predictions})


class DirectScorer:
    """Answers ``/invocations`` bodies with this project's pyfunc model, or leaves them to
    MLflow's handler (:meth:`reply` returns None)."""

    def __init__(self, model: Responder) -> None:
        self.model = model

    @classmethod
    def of(cls, pyfunc_model: Any) -> DirectScorer | None:
        """A scorer for MLflow's loaded ``PyFuncModel`` if it wraps this project's model."""
        try:
            python_model = pyfunc_model.unwrap_python_model()
        except Exception:  # not a Python model (MLflow raises for other flavors)
            return None
        return cls(python_model) if isinstance(python_model, Responder) else None

    def reply(self, body: bytes, content_type: str | None = "application/json"
              ) -> Reply | None:
        """The answer to ``body``, or None if MLflow's handler should read it."""
        if not plain_json(content_type):
            return None
        try:
            request = read_request(body)
        except Exception:  # a shape no reader foresaw: MLflow's handler explains it
            _logger.warning("request left to MLflow's handler", exc_info=True)
            return None
        if request is None:
            return None
        columns, params = request
        try:
            orient = answer_orient(params)
            return Reply(200, answer_json(self.model.respond(columns), orient))
        except (BadRequest, ModelFailure) as error:
            return Reply(error.get_http_status_code(), error.serialize_as_json().encode())
