"""Which failures count as "the tracking server went away" (tracking/outage.py)."""

from __future__ import annotations

import requests
from mlflow.exceptions import MlflowException

from pitot_tf.tracking.outage import is_unreachable, reason


def _wrapped(cause: BaseException) -> MlflowException:
    """``cause`` as MLflow's REST client raises it: an MlflowException raised while handling it."""
    try:
        try:
            raise cause
        except Exception as inner:
            raise MlflowException(f"API request failed with exception {inner}") from inner
    except MlflowException as outer:
        return outer


def test_refused_timed_out_and_cut_short_responses_are_unreachable() -> None:
    cut = requests.exceptions.ChunkedEncodingError(
        "Connection broken: IncompleteRead(0 bytes read, 2 more expected)")
    for cause in (requests.exceptions.ConnectionError("[Errno 111] Connection refused"),
                  requests.exceptions.ReadTimeout("read timed out"), cut):
        assert is_unreachable(_wrapped(cause)), type(cause).__name__
    assert reason(_wrapped(cut)).startswith("Connection broken: IncompleteRead")


def test_an_error_answer_from_a_live_server_is_not_unreachable() -> None:
    assert not is_unreachable(MlflowException("RESOURCE_DOES_NOT_EXIST: run abc not found"))
    assert not is_unreachable(_wrapped(requests.exceptions.InvalidURL("no host")))


def test_causes_before_the_handled_error_do_not_count() -> None:
    during = requests.exceptions.ConnectionError("an earlier outage, already handled")
    try:
        try:
            raise during
        except Exception:
            raise MlflowException("RESOURCE_DOES_NOT_EXIST") from None
    except MlflowException as error:
        assert not is_unreachable(error, stop=during)
