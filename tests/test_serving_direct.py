"""``pitot-tf serve``'s own ``/invocations`` (:mod:`pitot_tf.serving.direct`): for every request
it takes, the same status and the same JSON numbers as MLflow's handler with the pyfunc; every
other request left to MLflow's handler; the byte checks, limits and timeout of the ASGI layer
kept in front of it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.pyfunc.scoring_server import InvocationsResponse, invocations
from mlflow_helpers import experiment, private_tracking
from test_serving_limits import SMALL, App, call, scope

from pitot_tf.data.synth import synthesize_dataset
from pitot_tf.serving import direct
from pitot_tf.serving.asgi_guard import OFF_LOOP_BYTES, RequestGuard
from pitot_tf.serving.direct import DirectScorer, Reply, read_request
from pitot_tf.serving.limits import Limits
from pitot_tf.serving.mlflow_guard import guarded
from pitot_tf.tracking.training import RunOptions, TrainingRun, run_training

TINY = {"training.steps": 40, "training.val_every": 20, "training.batch": 64,
        "training.progress": False, "training.jit_compile": False,
        "model.layers": [16], "model.mf_dim": 8}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainingRun]:
    root = tmp_path_factory.mktemp("direct")
    with private_tracking(root, tmp_path_factory.getbasetemp()):
        experiment("direct", root)
        data = synthesize_dataset(root / "data", platforms=12, workloads=20, density=0.7)
        yield run_training("pitot", TINY, RunOptions(data_dir=data, experiment="direct"))


@pytest.fixture(scope="module")
def model(trained: TrainingRun) -> Any:
    return mlflow.pyfunc.load_model(f"runs:/{trained.run_id}/pyfunc-model")


@pytest.fixture(scope="module")
def names(trained: TrainingRun) -> tuple[list[str], list[str]]:
    dataset = trained.experiment.dataset
    return [str(n) for n in dataset.workloads.names], [str(n) for n in dataset.platforms.names]


def mlflow_answer(model: Any, body: bytes) -> tuple[int, Any]:
    """What MLflow's handler answers with the pyfunc (behind the model's guard, without the
    direct path)."""
    handler = guarded(invocations, Limits(), InvocationsResponse, direct=False)
    try:
        response = handler(body, "application/json", model, model.metadata.get_input_schema())
        return response.status, json.loads(response.response)
    except MlflowException as error:
        return error.get_http_status_code(), json.loads(error.serialize_as_json())


def direct_answer(model: Any, body: bytes) -> tuple[int, Any] | None:
    scorer = DirectScorer.of(model)
    assert scorer is not None
    reply = scorer.reply(body)
    return None if reply is None else (reply.status, json.loads(reply.body))


def bodies(workloads: list[str], platforms: list[str]) -> dict[str, dict[str, Any]]:
    """Requests of every form the direct path reads, good and bad (alpha 0.2 by default:
    the tiny model's calibration sets are too small for 0.05)."""
    w, p = workloads, platforms

    def row(**extra: Any) -> dict[str, Any]:
        return {"workload": w[0], "platform": p[1], "alpha": 0.2, **extra}

    rows = [row(), row(workload=w[3], co_runners=[w[4], w[5]]), row(co_runners=f"{w[6]};{w[7]}"),
            row(co_runners=""), {"workload": w[8], "platform": p[2]}, row(alpha=None),
            row(workload=f" {w[9]} ", co_runners=[w[1], None], alpha=0.3)]
    many = [row(workload=w[i % len(w)], platform=p[i % len(p)], alpha=(0.2, 0.3)[i % 2],
                **({"co_runners": w[(3 * i) % len(w)]} if i % 3 else {})) for i in range(300)]
    columns = ["workload", "platform", "co_runners", "alpha"]
    split = {"columns": columns, "data": [[r.get(c) for c in columns] for r in rows]}
    return {
        "records": {"dataframe_records": rows},
        "300 records": {"dataframe_records": many},
        "split": {"dataframe_split": split},
        "split by column": {"dataframe_split": split, "params": {"orient": "columns"}},
        "records, orient records": {"dataframe_records": rows, "params": {"orient": "records"}},
        "inputs": {"inputs": {"workload": [w[0], w[2]], "platform": [p[3], p[4]],
                              "co_runners": [w[5], None], "alpha": [0.2, None]}},
        "a column MLflow drops": {"dataframe_records": [row(comment="x")]},
        "a param MLflow ignores": {"dataframe_records": [row()], "params": {"x": 1}},
        "a new workload's features": {"dataframe_records": [
            row(workload="new/program", workload_features=[0.5] * 4), row()]},
        "a new platform's features": {"dataframe_records": [
            row(platform="new/device", platform_features=[0.5] * 11), row()]},
        "a new workload on a new platform": {"dataframe_records": [
            row(workload="new/program", workload_features=[0.5] * 16, platform="new/device",
                platform_features=";".join(["0.5"] * 11))]},
        "platform_features too short": {"dataframe_records": [
            row(platform="new/device", platform_features=[0.5])]},
        "platform_features not numbers": {"dataframe_records": [
            row(), row(platform_features="a;b")]},
        "unknown workload": {"dataframe_records": [row(), row(workload=w[0] + "x")]},
        "unknown platform": {"dataframe_records": [row(platform="no-such-platform")]},
        "unknown co-runner": {"dataframe_records": [row(co_runners=f"{w[1]};nope")]},
        "alpha out of range": {"dataframe_records": [row(alpha=1.5)]},
        "alpha negative": {"dataframe_records": [row(alpha=-0.2)]},
        "alpha boolean": {"dataframe_records": [row(), row(alpha=True)]},
        "alpha too small": {"dataframe_records": [row(alpha=1e-4)]},
        "workload a number": {"dataframe_records": [row(workload=5)]},
        "workload a list": {"dataframe_records": [row(workload=[w[0]])]},
        "workload missing in a row": {"dataframe_records": [row(), {"platform": p[0]}]},
        "co_runners a number": {"dataframe_records": [row(co_runners=3)]},
        "17 co-runners": {"dataframe_records": [row(co_runners=[w[1]] * 17)]},
        "a long name": {"dataframe_records": [row(workload="w" * 300)]},
        "orient unknown": {"dataframe_records": [row()], "params": {"orient": "split"}},
    }


def test_every_request_it_takes_is_answered_as_mlflows_handler_answers_it(
        model: Any, names: tuple[list[str], list[str]]) -> None:
    for name, payload in bodies(*names).items():
        body = json.dumps(payload).encode()
        direct = direct_answer(model, body)
        assert direct is not None, f"{name}: left to MLflow"
        expected = mlflow_answer(model, body)
        assert direct[0] == expected[0], (name, direct, expected)
        if name.startswith("a new platform") or name.startswith("a new workload on"):
            assert expected[0] == 200, (name, expected)
        if expected[0] == 200:
            assert direct[1] == expected[1], name  # every name and number, exactly
            assert "predictions" in direct[1]
        else:
            message = direct[1]["message"]
            assert direct[1]["error_code"] == "INVALID_PARAMETER_VALUE", name
            assert "\n" not in message and len(message) < 400, (name, message)


def test_the_answer_names_the_row_and_field_at_fault(
        model: Any, names: tuple[list[str], list[str]]) -> None:
    cases = bodies(*names)
    expected = {
        "unknown workload": f"row 1: workload: unknown workload '{names[0][0]}x'",
        "alpha boolean": "row 1: alpha must be a number, got True",
        "17 co-runners": "row 0: co_runners: 17 co-runners, over the limit of 16",
        "a long name": "row 0: workload: a name of 300 characters is over the limit of 256",
        "workload missing in a row": "row 1: workload must be a name (a string), got nan",
        "platform_features too short": ("row 0: platform_features: a new platform needs 11 "
                                        "features, got 1"),
        "platform_features not numbers": "row 1: platform_features must be numbers, got 'a;b'",
        "unknown platform": "row 0: platform: unknown platform 'no-such-platform'",
    }
    for name, start in expected.items():
        answer = direct_answer(model, json.dumps(cases[name]).encode())
        assert answer is not None and answer[0] == 400
        assert answer[1]["message"].startswith(start), answer


@pytest.mark.parametrize("body", [
    b'{"instances": [{"workload": "a", "platform": "b"}]}',
    b'{"dataframe_split": {"index": [3], "columns": ["workload", "platform"], '
    b'"data": [["a", "b"]]}}',
    b'{"dataframe_records": [{"workload": "a", "platform": "b", "alpha": "0.2"}]}',
    b'{"dataframe_records": []}',
    b'{"dataframe_records": [{"workload": "a"}]}',
    b'{"dataframe_records": [["a", "b"]]}',
    b'{"dataframe_records": [{"workload": "a", "platform": "b"}], "extra": 1}',
    b'{"dataframe_records": [{"workload": "a", "platform": "b"}], "params": [1]}',
    b'{"inputs": {"workload": [5], "platform": ["b"]}}',
    b'{"dataframe_records": [{"workload": "a", "platform": "b", "alpha": NaN}]}',
    b'{"dataframe_records": [',
    b'[1, 2]',
], ids=["instances", "split with index", "alpha as text", "no rows", "a column missing",
        "records not objects", "another top-level key", "params not an object",
        "inputs name a number", "NaN literal", "not JSON", "not an object"])
def test_other_requests_are_left_to_mlflows_handler(body: bytes) -> None:
    assert read_request(body) is None


def test_columns_are_read_as_mlflow_reads_them() -> None:
    columns, params = read_request(json.dumps({"dataframe_records": [
        {"workload": "a", "platform": "p", "extra": 1}, {"platform": "q", "workload": "b",
                                                          "alpha": 0.1}],
        "params": {"orient": "columns"}}).encode()) or ({}, None)
    assert list(columns) == ["workload", "platform", "alpha"]  # "extra" dropped
    assert columns["workload"] == ["a", "b"] and columns["alpha"][1] == 0.1
    assert columns["alpha"][0] != columns["alpha"][0]  # NaN where a record lacks the key
    assert params == {"orient": "columns"}
    split, _ = read_request(json.dumps({"dataframe_split": {
        "columns": ["platform", "workload"], "data": [["p", "a"], ["q", "b"]]}}).encode()) \
        or ({}, None)
    assert split == {"workload": ["a", "b"], "platform": ["p", "q"]}


class SlowScorer:
    """A direct scorer that takes ``seconds`` per request, or leaves it to the app."""

    def __init__(self, seconds: float, takes: bool = True) -> None:
        self.seconds, self.takes = seconds, takes

    def reply(self, body: bytes, content_type: str | None) -> Reply | None:
        time.sleep(self.seconds)
        return Reply(200, b'{"predictions": []}') if self.takes else None


def test_the_asgi_guard_answers_through_the_direct_scorer_within_its_limits() -> None:
    async def run() -> None:
        app = App()
        guard = RequestGuard(app, SMALL, SlowScorer(0.0), timeout_s=5)  # type: ignore[arg-type]
        assert await call(guard, scope(), [b"{}"]) == (200, b'{"predictions": []}', 1)
        assert (await call(guard, scope(length=5_000), [b"x" * 5_000]))[0] == 413
        assert (await call(guard, scope(), [b"[" * 7 + b"]" * 7]))[0] == 400
        assert (await call(guard, scope("text/csv"), [b"a,b"]))[0] == 415
        assert app.bodies == [] and guard.active == 0
        app.release.set()
        handed_on = RequestGuard(app, SMALL, SlowScorer(0.0, takes=False))  # type: ignore[arg-type]
        assert (await call(handed_on, scope(), [b"{}"]))[:2] == (200, b"ok")
        assert app.bodies == [b"{}"]
        large = Limits(max_body_bytes=4 * OFF_LOOP_BYTES)
        slow = RequestGuard(app, large, SlowScorer(1.0), timeout_s=0.2)  # type: ignore[arg-type]
        status, body, _ = await call(slow, scope(), [b" " * (OFF_LOOP_BYTES + 1) + b"{}"])
        assert status == 504 and b"MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT" in body

    asyncio.run(run())


def test_a_request_stops_counting_against_the_limit_once_answered() -> None:
    async def run() -> None:
        finishing = asyncio.Event()

        async def lingering(scope_: Any, receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            await finishing.wait()  # as Starlette's middleware tasks wind down after

        guard = RequestGuard(lingering, SMALL)  # one request at a time
        first = asyncio.create_task(call(guard, scope(), [b"{}"]))
        await asyncio.sleep(0.01)
        assert guard.active == 0  # answered, though the app has not returned
        second = asyncio.create_task(call(guard, scope(), [b"{}"]))
        await asyncio.sleep(0.01)
        finishing.set()
        assert (await first)[:2] == (200, b"ok") and (await second)[:2] == (200, b"ok")
        assert guard.active == 0

    asyncio.run(run())


def test_mlflow_models_serve_answers_through_the_direct_path_where_it_can(
        model: Any, names: tuple[list[str], list[str]]) -> None:
    handler = guarded(invocations, Limits(), InvocationsResponse)  # as the model installs it
    schema = model.metadata.get_input_schema()
    for payload in bodies(*names).values():
        body = json.dumps(payload).encode()
        direct = direct_answer(model, body)
        try:
            response = handler(body, "application/json", model, schema)
            answer = (response.status, json.loads(response.response))
        except MlflowException as error:
            answer = (error.get_http_status_code(), json.loads(error.serialize_as_json()))
        assert answer == direct
    left = json.dumps({"instances": [{"workload": names[0][0], "platform": names[1][0],
                                      "alpha": 0.2}]}).encode()
    assert direct_answer(model, left) is None
    response = handler(left, "application/json", model, schema)  # MLflow's own handler
    assert response.status == 200 and isinstance(response.response, str)
    other_charset = handler(left.replace(b"instances", b"dataframe_records"),
                            "application/json; charset=latin-1", model, schema)
    assert other_charset.status == 415  # as MLflow answers it


def test_a_reader_that_fails_leaves_the_request_to_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    class Nothing:
        def respond(self, request: Any) -> Any:
            raise AssertionError("not asked")

    def broken(body: bytes) -> None:
        raise TypeError("a shape no reader foresaw")

    scorer = DirectScorer(Nothing())
    monkeypatch.setattr(direct, "read_request", broken)
    assert scorer.reply(b'{"dataframe_records": [{"workload": "a", "platform": "b"}]}') is None
    assert scorer.reply(b"{}", "application/json; charset=latin-1") is None
