"""What a run does when the tracking server or the artifact store fails under it.

:func:`~pitot_tf.tracking.runs.tracked_run` marks a failed run FAILED, which needs the
tracking server. When the server cannot be reached (connection refused or timed out, after
MLflow's own retries: ``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, ``MLFLOW_HTTP_REQUEST_TIMEOUT``),
:func:`end_patiently` keeps trying for ``$PITOT_TRACKING_WAIT_S`` seconds (default 60), so
that a server that comes back soon shows the run FAILED with its ``error`` tag. After that it
gives up: the run leaves this process's active runs (so that a worker can start its next
one) and stays RUNNING until ``pitot-tf runs repair --older-than S`` marks it
KILLED. Either way the user sees one line (:class:`TrackingError`), not a traceback; so does a
file that cannot be written (the artifact folder gone, read-only or full).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator

from pitot_tf.errors import ConfigError, PitotError
from pitot_tf.redaction import redact

WAIT_ENV = "PITOT_TRACKING_WAIT_S"
DEFAULT_WAIT_S = 60.0
RETRY_S = 2.0
log = logging.getLogger(__name__)


class TrackingError(PitotError):
    """The tracking server or the artifact store failed during a run."""


def wait_seconds() -> float:
    """``$PITOT_TRACKING_WAIT_S``: how long to wait for the server to mark a run."""
    text = os.environ.get(WAIT_ENV, "").strip()
    if not text:
        return DEFAULT_WAIT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ConfigError(f"{WAIT_ENV} must be a number of seconds >= 0, got '{text}'")
    return value


def causes(error: BaseException, stop: BaseException | None = None) -> Iterator[BaseException]:
    """``error`` and the errors it was raised from or during, outermost first, up to (not
    including) ``stop``: the error being handled when the request was made, whose own causes
    have nothing to do with the request."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and current is not stop and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_unreachable(error: BaseException, stop: BaseException | None = None) -> bool:
    """Whether ``error`` (or an error it was raised from) is a failure to reach an HTTP
    server: connection refused or reset, a timeout, or a response cut short because the server
    died while sending it. MLflow wraps these in MlflowException."""
    import requests

    unreachable = (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                   requests.exceptions.ChunkedEncodingError)
    return any(isinstance(e, unreachable) for e in causes(error, stop))


def end_patiently(end: Callable[[], None], run_id: str, during: BaseException | None = None
                  ) -> BaseException | None:
    """Call ``end`` (while handling ``during``, if given); while it fails because the server
    is unreachable, try again every :data:`RETRY_S` seconds for :func:`wait_seconds`. Returns
    None once it succeeded, else the last failure (the caller then lets the run ``run_id``
    go: :func:`pitot_tf.tracking.runs.tracked_run`)."""
    deadline = time.monotonic() + wait_seconds()
    warned = False
    while True:
        try:
            end()
            return None
        except Exception as error:
            if not is_unreachable(error, during):
                raise
            if time.monotonic() >= deadline:
                return error
            if not warned:
                log.warning("tracking server unreachable; retrying for up to %g s to end "
                            "run %s (set %s to change)", wait_seconds(), run_id, WAIT_ENV)
                warned = True
        time.sleep(RETRY_S)


def tracking_error(error: BaseException | None, text: str, run_id: str,
                   unended: BaseException | None, status: str) -> TrackingError | None:
    """The one-line error for a run that could not be ended (``unended``: why) or that failed
    because of the tracking server or the file system (``error``, tagged as ``text``;
    ``status``: what the run was marked). None for any other error, which keeps its type."""
    if unended is not None:
        after = "" if error is None or is_unreachable(error) else f" after it failed ({text})"
        return TrackingError(f"tracking server {server_text()} unreachable during run {run_id} "
                             f"({reason(unended, error)}){after}; the run is left RUNNING: once "
                             "the server is back, `pitot-tf runs repair --older-than 600` marks "
                             "it KILLED")
    if error is None or isinstance(error, PitotError):
        return None
    if is_unreachable(error):
        return TrackingError(f"tracking server {server_text()} unreachable during run {run_id} "
                             f"({reason(error)}); the run is marked {status}")
    if isinstance(error, OSError):
        return TrackingError(f"run {run_id} {status}: {text}")
    return None


def server_text() -> str:
    """The tracking URI with any password hidden."""
    import mlflow

    return redact(mlflow.get_tracking_uri())


def reason(error: BaseException, stop: BaseException | None = None) -> str:
    """The innermost cause of ``error`` (see :func:`causes`): ``[Errno 111] Connection
    refused``, ``Remote end closed connection without response``, ..."""
    deepest = list(causes(error, stop))[-1] if error is not stop else error
    return (" ".join(str(deepest).split()) or type(deepest).__name__)[:200]
