"""The ``pyfunc-model``: runtime and bound by name, equal to the Keras model plus the margins
calibrated on the run's validation split; also over REST (``mlflow models serve``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow_helpers import experiment, free_port, private_tracking, wait_for

from pitot_tf.data.synth import synthesize_dataset
from pitot_tf.errors import PredictionError
from pitot_tf.serving.bad_request import BadRequest
from pitot_tf.serving.pyfunc import OUTPUT_COLUMNS
from pitot_tf.serving.request_parsing import Names, co_runner_names
from pitot_tf.tracking.training import RunOptions, TrainingRun, run_training

FAST = {"training.steps": 100, "training.val_every": 50, "training.batch": 64,
        "training.progress": False, "training.jit_compile": False,
        "model.layers": [16], "model.mf_dim": 8}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainingRun]:
    root = tmp_path_factory.mktemp("pyfunc")
    with private_tracking(root, tmp_path_factory.getbasetemp()):
        experiment("pyfunc", root)
        data = synthesize_dataset(root / "data", platforms=30, workloads=50, density=0.7)
        yield run_training("pitot", FAST, RunOptions(data_dir=data, experiment="pyfunc"))


@pytest.fixture(scope="module")
def model(trained: TrainingRun):  # type: ignore[no-untyped-def]
    return mlflow.pyfunc.load_model(f"runs:/{trained.run_id}/pyfunc-model")


def request_for(trained: TrainingRun) -> pd.DataFrame:
    """One row alone, one with a co-runner, one with two (no if3 calibration: fallback)."""
    w = trained.experiment.dataset.workloads.names
    p = trained.experiment.dataset.platforms.names
    return pd.DataFrame({
        "workload": [w[0], w[1], w[2]], "platform": [p[3], p[4], p[5]],
        "co_runners": ["", f"{w[7]}", f"{w[8]};{w[9]}"], "alpha": [0.05, 0.1, 0.01],
    })


def expected_answer(trained: TrainingRun, request: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Runtime and bound in seconds computed from the Keras model and the fitted bounds."""
    dataset = trained.experiment.dataset
    names = {str(n): i for i, n in enumerate(dataset.workloads.names)}
    platforms = {str(n): i for i, n in enumerate(dataset.platforms.names)}
    interferers = np.full((len(request), 2), -1, np.int32)
    for i, co in enumerate(request["co_runners"]):
        for j, name in enumerate(filter(None, co.split(";"))):
            interferers[i, j] = names[name]
    inputs = {"platform": np.array([platforms[n] for n in request["platform"]], np.int32),
              "workload": np.array([names[n] for n in request["workload"]], np.int32),
              "interferers": interferers}
    log_pred = np.asarray(trained.result.model.predict(inputs, verbose=0), np.float64)
    objective = ["mf", "if2", "if2"]
    bounds = [trained.evaluation.bounds[o].upper_bound(log_pred[i:i + 1], a)[0]
              for i, (o, a) in enumerate(zip(objective, request["alpha"], strict=True))]
    return dataset.seconds_from_log(log_pred[:, 0]), dataset.seconds_from_log(np.asarray(bounds))


def assert_pyfunc_answers_like_keras(trained: TrainingRun) -> pd.DataFrame:
    """The run's logged pyfunc model answers :func:`request_for` with the Keras model's runtime
    plus the calibrated margin (:func:`expected_answer`); returns the answer."""
    model = mlflow.pyfunc.load_model(f"runs:/{trained.run_id}/pyfunc-model")
    request = request_for(trained)
    answer = model.predict(request)
    runtime, bound = expected_answer(trained, request)
    np.testing.assert_allclose(answer["predicted_runtime_s"], runtime, rtol=1e-5)
    np.testing.assert_allclose(answer["upper_bound_s"], bound, rtol=1e-5)
    return answer


def test_pyfunc_agrees_with_the_keras_model_plus_margins(trained: TrainingRun, model) -> None:  # type: ignore[no-untyped-def]
    request = request_for(trained)
    answer = model.predict(request)
    assert list(answer.columns) == list(OUTPUT_COLUMNS)
    runtime, bound = expected_answer(trained, request)
    np.testing.assert_allclose(answer["predicted_runtime_s"], runtime, rtol=1e-5)
    np.testing.assert_allclose(answer["upper_bound_s"], bound, rtol=1e-5)
    assert (answer["upper_bound_s"] > 0).all()
    assert answer["calibration"].tolist() == ["mf", "if2", "if2"]
    assert answer["note"].iloc[:2].tolist() == ["", ""]
    assert "no calibration for 3 workloads at once; used if2" in answer["note"].iloc[2]


def test_answers_are_seconds_in_the_dataset_unit(trained: TrainingRun, model) -> None:  # type: ignore[no-untyped-def]
    """The synthetic data is in ns, so seconds are exp(log prediction) * 1e-9; a model logged
    before units were recorded (no ``runtime_unit``) is read as microseconds, the published
    data's unit."""
    from pitot_tf.tracking.models import pyfunc_state

    dataset = trained.experiment.dataset
    assert dataset.unit == "ns"
    state = pyfunc_state(dataset, trained.evaluation)
    assert state["runtime_unit"] == "ns"
    request = request_for(trained).iloc[:1]
    inputs = {"platform": np.array([3], np.int32), "workload": np.array([0], np.int32),
              "interferers": np.full((1, 2), -1, np.int32)}
    log_pred = float(trained.result.model.predict(inputs, verbose=0)[0, 0])
    answer = model.predict(request)
    assert answer["predicted_runtime_s"].iloc[0] == pytest.approx(np.exp(log_pred) * 1e-9,
                                                                  rel=1e-5)
    python_model = model.unwrap_python_model()
    python_model.load_state({k: v for k, v in state.items() if k != "runtime_unit"})
    legacy = python_model.predict(None, request)
    python_model.load_state(state)
    assert legacy["predicted_runtime_s"].iloc[0] == pytest.approx(
        answer["predicted_runtime_s"].iloc[0] * 1e3, rel=1e-6)
    assert legacy["upper_bound_s"].iloc[0] == pytest.approx(
        answer["upper_bound_s"].iloc[0] * 1e3, rel=1e-6)


def test_co_runners_may_be_lists_or_strings_and_alpha_defaults(trained: TrainingRun, model) -> None:  # type: ignore[no-untyped-def]
    w = trained.experiment.dataset.workloads.names
    p = trained.experiment.dataset.platforms.names
    as_string = model.predict(pd.DataFrame(
        {"workload": [w[1]], "platform": [p[2]], "co_runners": [f"{w[3]}; {w[4]}"]}))
    as_list = model.predict(pd.DataFrame(
        {"workload": [w[1]], "platform": [p[2]], "co_runners": [[w[3], w[4]]]}))
    bare = model.predict(pd.DataFrame({"workload": [w[1]], "platform": [p[2]]}))
    assert as_string["upper_bound_s"].iloc[0] == pytest.approx(as_list["upper_bound_s"].iloc[0])
    assert as_string["alpha"].iloc[0] == 0.05 and bare["co_runners"].iloc[0] == ""
    assert bare["calibration"].iloc[0] == "mf"


def test_a_smaller_alpha_gives_a_higher_bound(trained: TrainingRun, model) -> None:  # type: ignore[no-untyped-def]
    w = trained.experiment.dataset.workloads.names[5]
    p = trained.experiment.dataset.platforms.names[6]
    answer = model.predict(pd.DataFrame({"workload": [w] * 3, "platform": [p] * 3,
                                         "alpha": [0.1, 0.05, 0.01]}))
    assert answer["upper_bound_s"].is_monotonic_increasing
    assert answer["predicted_runtime_s"].nunique() == 1


def test_unknown_names_list_near_matches(trained: TrainingRun, model) -> None:  # type: ignore[no-untyped-def]
    w = str(trained.experiment.dataset.workloads.names[0])
    p = str(trained.experiment.dataset.platforms.names[0])
    with pytest.raises(PredictionError,
                       match=rf"row 0: workload: unknown workload '{w[:-1]}'; did you mean .*{w}"):
        model.predict(pd.DataFrame({"workload": [w[:-1]], "platform": [p]}))
    with pytest.raises(BadRequest, match="row 1: platform: unknown platform 'nowhere'"):
        model.predict(pd.DataFrame({"workload": [w, w], "platform": [p, "nowhere"]}))
    with pytest.raises(MlflowException, match=r"missing inputs \['platform'\]"):
        model.predict(pd.DataFrame({"workload": [w]}))  # the signature catches it


def test_co_runner_names_parse_every_form() -> None:
    assert co_runner_names(None) == [] and co_runner_names(float("nan")) == []
    assert co_runner_names(" a ; b;") == ["a", "b"] and co_runner_names(["a", "b"]) == ["a", "b"]
    assert co_runner_names(np.array(["a"])) == ["a"] and co_runner_names("") == []


@pytest.fixture(scope="module")
def service(trained: TrainingRun, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``mlflow models serve`` of the run's pyfunc-model on loopback: its URL and process."""
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m",
               f"runs:/{trained.run_id}/pyfunc-model", "--env-manager", "local",
               "-h", "127.0.0.1", "-p", str(port)]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    server = subprocess.Popen(command, cwd=tmp_path_factory.mktemp("serve"), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/ping", server)
        yield f"http://127.0.0.1:{port}", server
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the CLI and the uvicorn it started
        server.wait(timeout=30)


def ask(url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """POST ``body`` to /invocations: the status and the JSON answer."""
    post = urllib.request.Request(f"{url}/invocations", data=body,
                                  headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(post, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def records(frame: pd.DataFrame) -> bytes:
    return json.dumps({"dataframe_records": frame.to_dict(orient="records")}).encode()


@pytest.mark.end_to_end
def test_the_rest_service_answers_with_the_same_numbers(
    trained: TrainingRun, model, service: tuple[str, Any]  # type: ignore[no-untyped-def]
) -> None:
    request = request_for(trained)
    status, answer = ask(service[0], records(request))
    served = pd.DataFrame(answer["predictions"])
    local = model.predict(request)
    assert status == 200
    np.testing.assert_allclose(served["upper_bound_s"], local["upper_bound_s"], rtol=1e-12)
    np.testing.assert_allclose(served["predicted_runtime_s"], local["predicted_runtime_s"],
                               rtol=1e-12)
    assert served["calibration"].tolist() == local["calibration"].tolist()


def bad_bodies(w: str, p: str) -> list[tuple[bytes, str]]:
    """Bad requests and a fragment of the one-line message each must get ('' for MLflow's)."""
    good = {"workload": w, "platform": p}
    return [(b'{"dataframe_records": [', ""),
            (json.dumps({"dataframe_records": [{**good, "alpha": "often"}]}).encode(), "alpha"),
            (records(pd.DataFrame([{**good, "workload": w + "x"}])),
             f"row 0: workload: unknown workload '{w}x'; did you mean {w}"),
            (records(pd.DataFrame([{**good, "platform": "nowhere"}])),
             "row 0: platform: unknown platform 'nowhere'"),
            (records(pd.DataFrame([{**good, "alpha": -0.1}])),
             "row 0: miscoverage alpha must be in (0, 1), got -0.1"),
            (records(pd.DataFrame([{**good, "alpha": 1.0}])),
             "row 0: miscoverage alpha must be in (0, 1), got 1.0"),
            (records(pd.DataFrame([{**good, "co_runners": 4}])), "row 0: co_runners must be")]


@pytest.mark.end_to_end
def test_bad_requests_get_400_and_the_service_keeps_answering(
    trained: TrainingRun, model, service: tuple[str, subprocess.Popen[bytes]]  # type: ignore[no-untyped-def]
) -> None:
    import psutil

    url, server = service
    w = trained.experiment.dataset.workloads.names
    p = trained.experiment.dataset.platforms.names
    rng = np.random.default_rng(0)
    bad = bad_bodies(str(w[0]), str(p[0]))
    uvicorn = psutil.Process(server.pid).children(recursive=True)
    rss = []
    for i in range(600):
        if i % 100 == 0:
            rss.append(sum(proc.memory_info().rss for proc in uvicorn) / 2**20)
        if i % 3 == 0:
            body, message = bad[i // 3 % len(bad)]
            status, answer = ask(url, body)
            assert status == 400 and "stack_trace" not in answer, answer
            assert message in answer["message"], answer
            assert not message or "\n" not in answer["message"]
            continue
        row = pd.DataFrame([{"workload": str(w[rng.integers(len(w))]),
                             "platform": str(p[rng.integers(len(p))]),
                             "co_runners": str(w[rng.integers(len(w))]) if i % 2 else ""}])
        status, answer = ask(url, records(row))
        assert status == 200
        local = model.predict(row)
        assert answer["predictions"][0]["upper_bound_s"] == pytest.approx(
            local["upper_bound_s"].iloc[0], rel=1e-12)
    assert rss[-1] - rss[1] < 20, f"server memory grew: {rss} MB"


def test_parse_rejects_unknown_or_missing_columns() -> None:
    names = Names({"a": 0}, {"p": 0}, width=1, default_alpha=0.05)
    with pytest.raises(BadRequest, match=r"missing column\(s\) \['platform'\]"):
        names.parse(pd.DataFrame({"workload": ["a"]}))
    with pytest.raises(BadRequest, match=r"unknown input column\(s\) \['runtime'\]"):
        names.parse(pd.DataFrame({"workload": ["a"], "platform": ["p"], "runtime": [1]}))
    parsed = names.parse(pd.DataFrame({"workload": [" a "], "platform": ["p"], "alpha": [None]}))
    assert parsed.workload == ["a"] and parsed.platform.tolist() == [0]
    assert parsed.alpha.tolist() == [0.05] and parsed.interferers.tolist() == [[-1]]
    assert parsed.co_runners == [""] and parsed.features == {}
