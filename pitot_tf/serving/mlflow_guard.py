"""Request checks inside MLflow's scoring server, installed by the model when it loads there.

``mlflow models serve`` runs MLflow's own app, which reads the whole body and parses it before
the model sees a row, and answers an error raised while parsing with the body echoed back
(``Input: ...``), a stack trace, or an HTTP 500 (a ``RecursionError`` from deep nesting). The
earliest point a model can act is MLflow's ``scoring_server.invocations(data, content_type,
model, input_schema)``, which the app looks up on each request: when the pyfunc loads inside
the scoring app (``mlflow.pyfunc.scoring_server.app`` is being imported),
:func:`guard_scoring_server` wraps it so that, before MLflow parses anything,

* a body over the size limit is answered 413, a content type other than JSON 415, JSON
  nested deeper than the limit 400 (:mod:`~pitot_tf.serving.body_checks`);
* more than ``max_concurrent_requests`` requests at once in this worker are answered 503;
* a request in a form this project's model reads itself is answered by it
  (:mod:`~pitot_tf.serving.direct`: the same checks, errors and numbers as MLflow's handler
  with the pyfunc, without pandas or the per-request schema work), where orjson is installed;

and after it, any error MLflow raises is answered in one line of at most
:data:`MESSAGE_CHARS` characters, without the body or a stack trace. The body has already been
read into memory by then: only a server in front (``pitot-tf serve``, or a proxy with a body
limit, as MLflow's own container puts nginx in front) can refuse it before reading it all.

Under ``pitot-tf serve`` the ASGI layer (:mod:`~pitot_tf.serving.asgi_guard`) has already made
the first two checks; it marks the request (:data:`CHECKED`) so they are not made twice.
"""

from __future__ import annotations

import contextvars
import inspect
import json
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

from mlflow.exceptions import MlflowException

from pitot_tf.serving.bad_request import BadRequest, ModelFailure
from pitot_tf.serving.body_checks import Refusal, body_refusal
from pitot_tf.serving.limits import Limits

_logger = logging.getLogger(__name__)

SCORING_APP_MODULE = "mlflow.pyfunc.scoring_server.app"
#: Longest error message sent back.
MESSAGE_CHARS = 300
#: Set by the ASGI guard of ``pitot-tf serve`` on a request whose bytes it has checked.
CHECKED: contextvars.ContextVar[bool] = contextvars.ContextVar("pitot_checked", default=False)
_EXPECTED_PARAMETERS = ["data", "content_type", "model", "input_schema"]

Invocations = Callable[[Any, Any, Any, Any], Any]


def one_line(message: str) -> str:
    """The part of an MLflow error message worth sending: after its last ``Error:`` (MLflow
    prefixes ``Failed to predict data '<the whole table>'`` and ``Failed to enforce schema of
    data '<the table>' with schema '...'``), its first line, at most :data:`MESSAGE_CHARS`."""
    text = message
    if text.startswith("Failed to "):
        for marker in ("\nError: ", ". Error: "):
            text = text.rsplit(marker, 1)[-1]
    text = text.strip()
    first = text.splitlines()[0] if text else "the request could not be read"
    return first if len(first) <= MESSAGE_CHARS else first[: MESSAGE_CHARS - 3] + "..."


def refusal_response(refusal: Refusal, response_type: Any) -> Any:
    """MLflow's ``InvocationsResponse`` for ``refusal``, a one-line JSON error."""
    body = json.dumps({"error_code": "BAD_REQUEST", "message": refusal.message})
    return response_type(response=body, status=refusal.status, mimetype="application/json")


def direct_reply(model: Any, body: bytes, content_type: Any) -> Any:
    """This project's own answer to ``body`` (:mod:`~pitot_tf.serving.direct`), or None to
    leave it to MLflow's handler (another request form, another model, or no orjson where
    the model is served)."""
    scorers: dict[int, Any] = _SCORERS
    if id(model) not in scorers:
        try:
            from pitot_tf.serving.direct import DirectScorer
        except ImportError:  # orjson is not installed where the model is served
            scorers[id(model)] = None
        else:
            scorers[id(model)] = DirectScorer.of(model)
    scorer = scorers[id(model)]
    return None if scorer is None else scorer.reply(body, content_type)


#: The direct scorer of each loaded model MLflow has passed in (one per process, in practice).
_SCORERS: dict[int, Any] = {}


def guarded(original: Invocations, limits: Limits, response_type: Any,
            direct: bool = True) -> Invocations:
    """``original`` (MLflow's ``invocations``) behind the checks of the module docstring;
    with ``direct``, a request this project's model reads itself is answered without it."""
    slots = threading.BoundedSemaphore(limits.max_concurrent_requests)

    def invocations(data: Any, content_type: Any, model: Any, input_schema: Any) -> Any:
        checked = CHECKED.get()
        body = data if isinstance(data, bytes) else str(data).encode()
        if not checked:
            refusal = body_refusal(body, content_type, limits)
            if refusal is not None:
                return refusal_response(refusal, response_type)
            if not slots.acquire(blocking=False):
                return refusal_response(Refusal(503, (
                    f"this worker is already answering {limits.max_concurrent_requests} "
                    f"requests (PITOT_SERVE_MAX_CONCURRENT_REQUESTS); retry")), response_type)
        try:
            reply = direct_reply(model, body, content_type) if direct and not checked else None
            if reply is not None:
                return response_type(response=reply.body, status=reply.status,
                                     mimetype="application/json")
            return original(data, content_type, model, input_schema)
        except (BadRequest, ModelFailure):
            raise
        except MlflowException as error:
            if error.get_http_status_code() >= 500:
                raise ModelFailure(RuntimeError(one_line(error.message))) from None
            raise BadRequest(one_line(error.message)) from None
        except Exception as error:  # MLflow's parsing, before the model (which raises only
            # MlflowException): a RecursionError, a pandas error on a malformed table, ...
            _logger.warning("request refused while MLflow parsed it: %s: %.200s",
                            type(error).__name__, error)
            raise BadRequest(one_line(f"the request could not be read: "
                                      f"{type(error).__name__}: {error}")) from None
        finally:
            if not checked:
                slots.release()

    invocations.__wrapped__ = original  # type: ignore[attr-defined]
    return invocations


def guard_scoring_server(limits: Limits, serving: bool = False) -> bool:
    """Wrap MLflow's ``scoring_server.invocations`` when called while its app module loads the
    model, or with ``serving`` (``pitot-tf serve`` builds the app itself), once per process;
    True if it is wrapped now. Elsewhere (``load_model`` in a notebook, ``pitot-tf predict``)
    nothing changes."""
    if not serving and SCORING_APP_MODULE not in sys.modules:
        return False
    from mlflow.pyfunc import scoring_server

    current = scoring_server.invocations
    if hasattr(current, "__wrapped__"):
        return True
    if list(inspect.signature(current).parameters) != _EXPECTED_PARAMETERS:
        _logger.warning("MLflow's scoring_server.invocations has changed; request bytes are "
                        "not checked before MLflow parses them")
        return False
    scoring_server.invocations = guarded(current, limits, scoring_server.InvocationsResponse)
    return True
