"""The one-line error of a request the model cannot answer, and the checks every field shares.

A :class:`BadRequest` names the row, the field and the value at fault, quoting at most a short
prefix of it (:func:`show`), with near matches for an unknown name (:func:`unknown_name`); it
becomes HTTP 400 under both servers. :class:`ModelFailure` is the model's own failure on a
request it accepted (HTTP 500, one line, the traceback only in the server's log).
"""

from __future__ import annotations

import difflib
import json
import math
import reprlib
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, INVALID_PARAMETER_VALUE

from pitot_tf.errors import PredictionError
from pitot_tf.serving.limits import Limits

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


def check_text(value: str, field: str, row: int, limits: Limits) -> None:
    """BadRequest for a text cell longer than ``limits.max_cell_chars``."""
    if len(value) > limits.max_cell_chars:
        raise BadRequest(f"row {row}: {field}: {len(value)} characters, over the limit of "
                         f"{limits.max_cell_chars} (PITOT_SERVE_MAX_CELL_CHARS): {show(value)}")
