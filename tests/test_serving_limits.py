"""The bounds of a served request, without a model: limits, byte checks, the ASGI guard, the
guard inside MLflow's scoring server, per-count batching and request parsing. The servers
themselves meet the same inputs in test_serving_hostile.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import BAD_REQUEST
from mlflow.pyfunc.scoring_server import InvocationsResponse

from pitot_tf.errors import PredictionError
from pitot_tf.serving import batching
from pitot_tf.serving.asgi_guard import RequestGuard
from pitot_tf.serving.bad_request import BadRequest
from pitot_tf.serving.batching import predict_grouped
from pitot_tf.serving.body_checks import body_refusal, json_depth, too_deep
from pitot_tf.serving.limits import Limits
from pitot_tf.serving.mlflow_guard import CHECKED, guarded, one_line
from pitot_tf.serving.request_parsing import Names

SMALL = Limits(max_body_bytes=1_000, max_rows=5, max_co_runners=3, max_name_chars=8,
               max_cell_chars=40, max_opcode_entries=2, max_features=4,
               max_feature_magnitude=100.0, max_json_depth=6, max_concurrent_requests=1)
NAMES = Names({"a": 0, "b": 1, "c": 2}, {"p": 0}, width=2, default_alpha=0.1, feature_dim=2,
              limits=SMALL)


def test_limits_come_from_the_environment_and_must_be_positive() -> None:
    limits = Limits.from_environment({"PITOT_SERVE_MAX_ROWS": "20", "PITOT_SERVE_MAX_OPCODE_"
                                      "COUNT": "1e9", "PITOT_SERVE_MAX_NAME_CHARS": " "})
    assert (limits.max_rows, limits.max_opcode_count, limits.max_name_chars) == (20, 1e9, 256)
    with pytest.raises(PredictionError,
                       match="PITOT_SERVE_MAX_ROWS must be a whole number, got 'ten'"):
        Limits.from_environment({"PITOT_SERVE_MAX_ROWS": "ten"})
    with pytest.raises(PredictionError, match="max_json_depth must be > 0, got 0"):
        Limits.from_environment({"PITOT_SERVE_MAX_JSON_DEPTH": "0"})
    assert Limits().co_runners_for(2) == 16 and Limits().co_runners_for(40) == 40


def test_json_depth_ignores_brackets_in_strings() -> None:
    assert json_depth(b'{"a": [1, "[[[\\"[[", {"b": []}]}') == 4
    assert json_depth(b'["\\\\", [[]]]') == 3  # an escaped backslash ends before the quote
    assert json_depth('"[[[["') == 0 and json_depth(b"") == 0
    assert too_deep(b"[" * 5000 + b"]" * 5000, 32) and not too_deep(b"[[1, 2], [3]]", 2)


def test_body_refusals_name_the_limit() -> None:
    assert body_refusal(b"{}", "application/json; charset=utf-8", SMALL) is None
    csv = body_refusal(b"a,b\n", "text/csv", SMALL)  # MLflow cannot read it for this model
    assert csv is not None and csv.status == 415
    refusal = body_refusal(b"x" * 1_001, "application/json", SMALL)
    assert refusal is not None and refusal.status == 413 and "1001 bytes" in refusal.message
    deep = body_refusal(b"[" * 7 + b"]" * 7, "application/json", SMALL)
    assert deep is not None and (deep.status, deep.message) == (
        400, "JSON nests deeper than 6 levels (PITOT_SERVE_MAX_JSON_DEPTH)")
    kind = body_refusal(b"{}", "text/plain" + "x" * 1000, SMALL)
    assert kind is not None and kind.status == 415 and len(kind.message) < 150


def parse(**columns: list[Any]) -> Any:
    return NAMES.parse(pd.DataFrame(columns))


@pytest.mark.parametrize(("columns", "message"), [
    ({"workload": ["a"] * 6, "platform": ["p"] * 6}, "the request has 6 rows, over the limit of 5"),
    ({"workload": [], "platform": []}, "the request has no rows"),
    ({"workload": ["a" * 9], "platform": ["p"]},
     "row 0: workload: a name of 9 characters is over the limit of 8"),
    ({"workload": [5], "platform": ["p"]}, "row 0: workload must be a name (a string), got 5"),
    ({"workload": ["a"], "platform": [True]},
     "row 0: platform must be a name (a string), got True"),
    ({"workload": ["a"], "platform": ["p"], "co_runners": [["a", "b", "c", "a"]]},
     "row 0: co_runners: 4 co-runners, over the limit of 3"),
    ({"workload": ["a"], "platform": ["p"], "co_runners": ["a;" * 30]},
     "row 0: co_runners: 60 characters, over the limit of 40"),
    ({"workload": ["a"], "platform": ["p"], "co_runners": [[1]]},
     "row 0: co_runners must be a name (a string), got 1"),
    ({"workload": ["a", "a"], "platform": ["p", "p"], "alpha": [0.1, True]},
     "row 1: alpha must be a number, got True"),
    ({"workload": ["a"], "platform": ["p"], "alpha": [10**400]},
     "row 0: alpha must be a number, got 1000"),
    ({"workload": ["a"], "platform": ["p"], "alpha": [float("inf")]},
     "row 0: miscoverage alpha must be in (0, 1), got inf"),
    ({"workload": ["n"], "platform": ["p"], "workload_features": [[1.0, True]]},
     "row 0: workload_features must be numbers"),
    ({"workload": ["n"], "platform": ["p"], "workload_features": [[1.0, 10**400]]},
     "row 0: workload_features must be numbers"),
    ({"workload": ["n"], "platform": ["p"], "workload_features": [[1.0, 3e38]]},
     "row 0: workload_features: a value of magnitude above 100"),
    ({"workload": ["n"], "platform": ["p"], "workload_features": [[0.0] * 5]},
     "row 0: workload_features: 5 numbers, over the limit of 4"),
    ({"workload": ["n"], "platform": ["p"], "opcode_counts": [{"x1": 1, "x2": 2, "x3": 3}]},
     "row 0: opcode_counts: 3 entries, over the limit of 2"),
    ({"workload": ["n"], "platform": ["p"], "opcode_counts": [{"x1": 10**400}]},
     "row 0: opcode_counts: count of 'x1' is above the limit of 1e+15"),
    ({"workload": ["n"], "platform": ["p"], "opcode_counts": [{"x1": True}]},
     "row 0: opcode_counts: count of 'x1' must be a number, got True"),
    ({"workload": ["n"], "platform": ["p"], "opcode_counts": ["[" * 7 + "]" * 7]},
     "row 0: opcode_counts: JSON nests deeper than 6 levels"),
    ({"workload": ["n"], "platform": ["p"], "opcode_counts": ["[" * 2000 + "]" * 2000]},
     "row 0: opcode_counts: 4000 characters, over the limit of 40"),
])
def test_every_input_is_bounded_and_typed(columns: dict[str, list[Any]], message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse(**columns)
    assert str(caught.value).startswith(message), str(caught.value)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 250


def test_a_row_may_name_as_many_co_runners_as_the_limit() -> None:
    request = parse(workload=["a", "b"], platform=["p", "p"], co_runners=[["a", "b", "c"], ""])
    assert request.interferers.tolist() == [[0, 1, 2], [-1, -1, -1]]
    assert request.degree.tolist() == [4, 1]


def test_rows_are_predicted_by_co_runner_count_in_bounded_chunks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batching, "CHUNK_ROWS", 3)
    widths: list[tuple[int, int]] = []

    def predict(platform: np.ndarray, workload: np.ndarray, interferers: np.ndarray
                ) -> np.ndarray:
        widths.append(interferers.shape)
        co = np.where(interferers >= 0, interferers, 0).sum(axis=1)
        return np.stack([platform * 100 + workload * 10 + co, -co], axis=1).astype(np.float32)

    interferers = np.full((8, 5), -1, np.int32)
    interferers[0, :5] = [1, 2, 3, 4, 5]
    interferers[3, :1] = 7
    platform, workload = np.arange(8), np.arange(8) % 3
    answer = predict_grouped(predict, platform, workload, interferers, width=2)
    full = np.where(interferers >= 0, interferers, 0).sum(axis=1)
    np.testing.assert_array_equal(answer[:, 0], platform * 100 + workload * 10 + full)
    np.testing.assert_array_equal(answer[:, 1], -full)
    assert widths == [(3, 2), (3, 2), (1, 2), (1, 5)]  # 7 rows of 2 slots in 3s, 1 row of 5
    widths.clear()
    predict_grouped(predict, platform[:2], workload[:2], interferers[1:3], width=2)
    assert widths == [(2, 2)]  # one group, one call


def test_mlflow_errors_are_cut_to_their_one_line_reason() -> None:
    table = "  workload platform\n0  " + "x" * 5000
    message = f"Failed to predict data '{table}'. \nError: Model is missing inputs ['a']."
    assert one_line(message) == "Model is missing inputs ['a']."
    assert one_line("Invalid input. Ensure valid JSON. Error: 'x'\nInput: \n" + table) == (
        "Invalid input. Ensure valid JSON. Error: 'x'")
    assert len(one_line("y" * 10_000)) == 300


def invoke(function: Any, body: bytes, content_type: str = "application/json") -> Any:
    try:
        return function(body, content_type, None, None)
    except MlflowException as error:
        return error.get_http_status_code(), json.loads(error.serialize_as_json())


def test_the_guard_inside_mlflow_refuses_before_parsing_and_answers_in_one_line() -> None:
    calls: list[bytes] = []

    def original(data: Any, content_type: Any, model: Any, schema: Any) -> Any:
        calls.append(data)
        if data.startswith(b"deep"):
            raise RecursionError("maximum recursion depth exceeded")
        if data.startswith(b"bad"):
            raise MlflowException("Invalid input.\nInput: \n" + "x" * 10_000,
                                  error_code=BAD_REQUEST)
        return InvocationsResponse("{}", 200, "application/json")

    invocations = guarded(original, SMALL, InvocationsResponse)
    too_big = invocations(b"x" * 2_000, "application/json", None, None)
    assert too_big.status == 413 and "2000 bytes" in json.loads(too_big.response)["message"]
    assert invocations(b"{}", "text/html", None, None).status == 415
    assert invocations(b"[" * 7 + b"]" * 7, "application/json", None, None).status == 400
    assert calls == []
    assert invoke(invocations, b"deep") == (400, {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "the request could not be read: RecursionError: maximum recursion depth "
                   "exceeded"})
    status, answer = invoke(invocations, b"bad")
    assert (status, answer["message"]) == (400, "Invalid input.")
    assert invocations(b"{}", "application/json", None, None).status == 200
    token = CHECKED.set(True)  # checked by pitot-tf serve's ASGI layer: not again
    try:
        assert invocations(b"x" * 2_000, "application/json", None, None).status == 200
    finally:
        CHECKED.reset(token)


class App:
    """An ASGI app that records what it received and answers 200 after ``release``."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.checked: list[bool] = []
        self.release = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        self.bodies.append(message["body"])
        self.checked.append(CHECKED.get())
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def scope(content_type: str = "application/json", length: int | None = None) -> dict[str, Any]:
    headers = [(b"content-type", content_type.encode())]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {"type": "http", "method": "POST", "path": "/invocations", "headers": headers}


async def call(guard: RequestGuard, request: dict[str, Any], chunks: list[bytes]
               ) -> tuple[int, bytes, int]:
    """Status, body and how many chunks the guard read."""
    pending = list(chunks)
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if not pending:
            await asyncio.sleep(3600)
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await guard(request, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body, len(chunks) - len(pending)


def test_the_asgi_guard_bounds_body_type_and_concurrency() -> None:
    async def run() -> None:
        app = App()
        guard = RequestGuard(app, SMALL)
        status, body, read = await call(guard, scope(length=5_000), [b"x" * 5_000])
        assert (status, read) == (413, 0)  # refused from Content-Length, body never read
        assert json.loads(body)["message"].startswith("request body of 5000 bytes")
        status, _, read = await call(guard, scope(), [b"x" * 400] * 10)  # chunked, no length
        assert (status, read) == (413, 3)  # stops reading once past 1,000 bytes
        assert (await call(guard, scope("text/plain"), [b"{}"]))[0] == 415
        assert (await call(guard, scope(), [b"[" * 7, b"]" * 7]))[0] == 400
        assert app.bodies == []
        first = asyncio.create_task(call(guard, scope(), [b'{"a":', b" 1}"]))
        await asyncio.sleep(0.01)
        status, body, _ = await call(guard, scope(), [b"{}"])  # one at a time (SMALL)
        assert status == 503 and b"already answering 1 requests" in body
        app.release.set()
        assert (await first)[:2] == (200, b"ok")
        assert app.bodies == [b'{"a": 1}'] and app.checked == [True]
        assert guard.active == 0

    asyncio.run(run())
