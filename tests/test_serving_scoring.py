"""``pitot-tf serve``: MLflow's scoring app under uvicorn's worker supervisor, with a listening
socket that makes asyncio set TCP_NODELAY on every accepted connection (no ~40 ms Nagle and
delayed-ACK wait per answer with several workers)."""

from __future__ import annotations

import asyncio
import http.client
import io
import json
import os
import pickle
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow.pyfunc.scoring_server import _SERVER_MODEL_PATH, invocations
from mlflow_helpers import experiment, free_port, private_tracking

import pitot_tf
from pitot_tf.data.synth import synthesize_dataset
from pitot_tf.serving.scoring import (
    ServingError,
    local_model,
    scoring_environment,
    tcp_socket,
    uvicorn_config,
)
from pitot_tf.tracking.training import RunOptions, TrainingRun, run_training

TINY = {"training.steps": 40, "training.val_every": 20, "training.batch": 64,
        "training.progress": False, "training.jit_compile": False,
        "model.layers": [16], "model.mf_dim": 8}
#: Nagle's algorithm plus the client's delayed ACK hold an answer at least this long.
NAGLE_DELAY_S = 0.040


def accepted_nodelay(listener: socket.socket) -> int:
    """TCP_NODELAY of a connection that an asyncio server on ``listener`` accepts."""
    found: list[int] = []

    async def run() -> None:
        def made(transport: Any) -> None:
            accepted = transport.get_extra_info("socket")
            found.append(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

        protocol = type("Probe", (asyncio.Protocol,), {"connection_made": lambda _, t: made(t)})
        server = await asyncio.get_running_loop().create_server(protocol, sock=listener)
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        while not found:
            await asyncio.sleep(0.01)
        writer.close()
        server.close()

    asyncio.run(run())
    return found[0]


def test_the_listener_is_tcp_so_each_accepted_connection_gets_nodelay() -> None:
    plain = socket.socket(socket.AF_INET)  # as uvicorn's Config.bind_socket makes it
    plain.bind(("127.0.0.1", 0))
    port = plain.getsockname()[1]
    assert plain.proto == 0
    listener = tcp_socket(plain)
    assert listener.proto == socket.IPPROTO_TCP and listener.getsockname()[1] == port
    assert listener.get_inheritable()
    shipped = io.BytesIO()  # how uvicorn's supervisor hands it to a spawned worker
    ForkingPickler(shipped).dump(listener)
    in_worker = pickle.loads(shipped.getvalue())
    assert in_worker.proto == socket.IPPROTO_TCP
    assert accepted_nodelay(in_worker) != 0
    listener.close()


def test_uvicorn_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UVICORN_ACCESS_LOG", raising=False)
    assert uvicorn_config("127.0.0.1", 5001, 2).access_log is False  # off unless asked for
    monkeypatch.setenv("UVICORN_ACCESS_LOG", "true")
    assert uvicorn_config("127.0.0.1", 5001, 2).access_log is True
    monkeypatch.setenv("UVICORN_ACCESS_LOG", "false")
    monkeypatch.setenv("UVICORN_TIMEOUT_KEEP_ALIVE", "30")
    config = uvicorn_config("127.0.0.1", 5001, 2)
    assert (config.app, config.host, config.port, config.workers) == (
        "pitot_tf.serving.guarded_app:app", "127.0.0.1", 5001, 2)
    assert config.access_log is False and config.timeout_keep_alive == 30
    monkeypatch.setenv("UVICORN_RELOAD", "true")
    with pytest.raises(ServingError, match="UVICORN_RELOAD is not supported"):
        uvicorn_config("127.0.0.1", 5001, 2)


def test_the_app_reads_the_model_path_and_timeout_mlflow_sets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT", "7")
    environment = scoring_environment(str(tmp_path))
    assert environment[_SERVER_MODEL_PATH] == tmp_path.as_uri()
    assert "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT" not in environment  # already 7
    assert scoring_environment(str(tmp_path), 3)["MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT"] == "3"
    assert local_model(str(tmp_path)) == str(tmp_path)
    with pytest.raises(ServingError, match="runs:/nope/pyfunc-model: cannot fetch the model"):
        with private_tracking(tmp_path, tmp_path):
            local_model("runs:/nope/pyfunc-model")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainingRun]:
    root = tmp_path_factory.mktemp("scoring")
    with private_tracking(root, tmp_path_factory.getbasetemp()):
        experiment("scoring", root)
        data = synthesize_dataset(root / "data", platforms=12, workloads=20, density=0.7)
        yield run_training("pitot", TINY, RunOptions(data_dir=data, experiment="scoring"))


def body_for(trained: TrainingRun, rows: int = 3) -> bytes:
    workloads = trained.experiment.dataset.workloads.names
    platforms = trained.experiment.dataset.platforms.names
    records = [{"workload": str(workloads[i]), "platform": str(platforms[i + 1]),
                "co_runners": str(workloads[i + 2]) if i % 2 else "", "alpha": 0.1}
               for i in range(rows)]
    return json.dumps({"dataframe_records": records}).encode()


def post(connection: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    connection.request("POST", "/invocations", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, response.read(), time.perf_counter() - started


def wait_until_serving(server: subprocess.Popen[bytes], log: Path, workers: int) -> None:
    """Until every worker has loaded the model (none is still starting); fail with the log
    if the server exits or takes more than five minutes."""
    deadline = time.monotonic() + 300
    while log.read_text().count("Application startup complete") < workers:
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"server not up (exit code {server.poll()}): {log.read_text()[-3000:]}")
        time.sleep(0.5)


@pytest.mark.slow
def test_two_workers_answer_as_mlflow_does_without_a_nagle_wait(
    trained: TrainingRun, tmp_path: Path
) -> None:
    import psutil

    port, log = free_port(), tmp_path / "serve.log"
    command = [sys.executable, "-c", "from pitot_tf.cli import main; main()", "serve",
               "--model-uri", f"runs:/{trained.run_id}/pyfunc-model", "--port", str(port),
               "--workers", "2"]
    source = str(Path(pitot_tf.__file__).parents[1])  # this checkout, from any folder
    path = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
    server = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONPATH": path, "UVICORN_ACCESS_LOG": "false"})
    try:
        wait_until_serving(server, log, workers=2)
        workers = psutil.Process(server.pid).children(recursive=True)
        model = mlflow.pyfunc.load_model(f"runs:/{trained.run_id}/pyfunc-model")
        body = body_for(trained)
        expected = invocations(body, "application/json", model,
                               model.metadata.get_input_schema()).response

        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        answers = [post(connection, body) for _ in range(21)][1:]  # one keep-alive connection
        # the same names and numbers as MLflow's handler (written by orjson, not json.dump)
        assert all(status == 200 and json.loads(text) == json.loads(expected)
                   for status, text, _ in answers)
        median = statistics.median(elapsed for _, _, elapsed in answers)
        assert median < NAGLE_DELAY_S, f"median {median * 1e3:.1f} ms per keep-alive request"

        bad = json.dumps({"dataframe_records": [{"workload": "nope", "platform": "x"}]})
        status, text, _ = post(connection, bad.encode())
        assert status == 400 and "row 0: workload: unknown workload 'nope'" in text.decode()
        assert "stack_trace" not in json.loads(text)
        status, text, _ = post(connection, body)
        assert status == 200 and json.loads(text) == json.loads(expected)
    finally:
        server.send_signal(signal.SIGTERM)
        returncode = server.wait(timeout=60)
    assert returncode == 0, log.read_text()
    _, left = psutil.wait_procs(workers, timeout=15)  # workers (and multiprocessing's helper)
    assert not left, left
    assert "Stopping parent process" in log.read_text()
