"""Hostile input against both servers of a logged model: refused in one line, fast, harmlessly.

Each case of :data:`CASES` is sent to ``pitot-tf serve`` and to ``mlflow models serve
--env-manager local`` (each started once per module on a small trained model) and must be
answered with its 4xx status and one short line naming what is wrong, within
:data:`ANSWER_S` seconds; a normal request must then still answer 200 (the worker is alive),
and the server's resident memory (all its processes) must stay within :data:`RSS_GROWTH_MB`
of what it was before the first case. docs/reliability.md lists every case with its answer.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from mlflow_helpers import experiment, free_port, private_tracking, wait_for

import pitot_tf
from pitot_tf.data.synth import synthesize_dataset
from pitot_tf.tracking.training import RunOptions, TrainingRun, run_training

pytestmark = pytest.mark.end_to_end

TINY = {"training.steps": 40, "training.val_every": 20, "training.batch": 64,
        "training.progress": False, "training.jit_compile": False,
        "model.layers": [16], "model.mf_dim": 8}
#: Longest a refusal may take (2 cores shared with other jobs; most take a few ms).
ANSWER_S = 3.0
#: Largest growth of the server's resident memory over all the cases, in MiB.
RSS_GROWTH_MB = 150
#: Longest refusal message: one line quoting at most a short prefix of a value.
MESSAGE_CHARS = 400


@dataclass(frozen=True)
class Names:
    """A workload and a platform the model knows."""

    workload: str
    platform: str

    def row(self, **extra: object) -> dict[str, object]:
        """A request row; alpha 0.2 unless given (the tiny model's calibration sets are
        small: 0.05 is below the smallest alpha they support)."""
        return {"workload": self.workload, "platform": self.platform, "alpha": 0.2, **extra}


def records(*rows: dict[str, object]) -> bytes:
    return json.dumps({"dataframe_records": list(rows)}).encode()


def co_runner_bomb(names: Names) -> bytes:
    """1 row with 10,000 co-runners among 10,000 rows (0.9 MB)."""
    bomb = names.row(co_runners=[names.workload] * 10_000)
    return records(bomb, *[names.row()] * 9_999)


def big_body(names: Names) -> bytes:
    """50 MB of valid rows (about 800,000 of them)."""
    row = json.dumps(names.row()).encode()
    count = 50 * 2**20 // (len(row) + 2) + 1
    return b'{"dataframe_records": [' + b", ".join([row] * count) + b"]}"


def huge_count(names: Names) -> bytes:
    """An opcode count of 10^400, written as an integer (Python's JSON reads it exactly)."""
    text = records(names.row(workload="new/program", opcode_counts={"x20": 7})).decode()
    return text.replace('"x20": 7', '"x20": 1' + "0" * 400).encode()


# (id, body given the names, content type, status, fragment of the message)
Case = tuple[str, Callable[[Names], bytes], str, int, str]
JSON = "application/json"
CASES: list[Case] = [
    ("co-runner-bomb", co_runner_bomb, JSON, 400,
     "row 0: co_runners: 10000 co-runners, over the limit of 16"),
    ("50-MB-body", big_body, JSON, 413, "over the limit of 8388608 bytes"),
    ("5000-deep-json", lambda n: b'{"dataframe_records": ' + b"[" * 5000 + b"]" * 5000 + b"}",
     JSON, 400, "JSON nests deeper than 32 levels"),
    ("opcode-count-10^400", huge_count, JSON, 400,
     "row 0: opcode_counts: count of 'x20' is above the limit of 1e+15"),
    ("features-3e38", lambda n: records(n.row(workload="new/program",
                                              workload_features=[3e38] * 4)),
     JSON, 400, "row 0: workload_features: a value of magnitude above 1e+06"),
    ("features-nan", lambda n: records(n.row(workload="new/program",
                                             workload_features="1;nan;2")),
     JSON, 400, "row 0: workload_features must be finite"),
    ("4-MB-workload-name", lambda n: records(n.row(workload="w" * 4 * 2**20)), JSON, 400,
     "row 0: workload: a name of 4194304 characters is over the limit of 256"),
    ("alpha-too-small", lambda n: records(n.row(alpha=1e-4)), JSON, 400,
     "alpha 0.0001: alpha=0.0001 is too small for a calibration set"),
    ("alpha-boolean", lambda n: records(n.row(), n.row(alpha=True)), JSON, 400, "alpha"),
    ("alpha-10^400", lambda n: records(n.row(alpha=1e400)), JSON, 400, "alpha"),
    ("workload-a-number", lambda n: records(n.row(workload=5)), JSON, 400, "workload"),
    ("empty-frame", lambda n: records(), JSON, 400,
     "Model is missing inputs ['workload', 'platform']"),
    ("empty-table", lambda n: json.dumps({"dataframe_split": {
        "columns": ["workload", "platform"], "data": []}}).encode(), JSON, 400,
     "the request has no rows"),
    ("not-json", lambda n: b'{"dataframe_records": [' + b"x" * 100_000, JSON, 400, ""),
    ("wrong-content-type", lambda n: records(n.row()), "text/plain", 415,
     "content type 'text/plain' is not accepted; send application/json"),
    ("csv", lambda n: b"workload,platform\n" + b"a,b\n" * 1000, "text/csv", 415,
     "content type 'text/csv' is not accepted"),
    ("parquet", lambda n: b"PAR1" + b"\0" * 100, "application/vnd.apache.parquet", 415,
     "is not accepted"),
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainingRun]:
    root = tmp_path_factory.mktemp("hostile")
    with private_tracking(root, tmp_path_factory.getbasetemp()):
        experiment("hostile", root)
        data = synthesize_dataset(root / "data", platforms=12, workloads=20, density=0.7)
        yield run_training("pitot", TINY, RunOptions(data_dir=data, experiment="hostile"))


@pytest.fixture(scope="module")
def names(trained: TrainingRun) -> Names:
    dataset = trained.experiment.dataset
    return Names(str(dataset.workloads.names[0]), str(dataset.platforms.names[1]))


def server_command(kind: str, model_uri: str, port: int) -> list[str]:
    if kind == "pitot-tf serve":
        return [sys.executable, "-c", "from pitot_tf.cli import main; main()", "serve",
                "--model-uri", model_uri, "--port", str(port)]
    return [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri,
            "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]


@pytest.fixture(scope="module", params=["pitot-tf serve", "mlflow models serve"])
def server(request: pytest.FixtureRequest, trained: TrainingRun,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, psutil.Process]]:
    """The server on loopback, started once per module: its port and process."""
    port = free_port()
    source = str(Path(pitot_tf.__file__).parents[1])
    env = {**os.environ, "UVICORN_ACCESS_LOG": "false",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))}
    log = tmp_path_factory.mktemp("server") / "server.log"
    process = subprocess.Popen(
        server_command(request.param, f"runs:/{trained.run_id}/pyfunc-model", port),
        cwd=log.parent, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/ping", process, timeout=300)
        yield port, psutil.Process(process.pid)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def post(port: int, body: bytes, content_type: str = JSON) -> tuple[int, bytes, float]:
    """POST to /invocations: status, answer and seconds taken. A server may answer (413)
    before reading the whole body and close: the answer is read all the same."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    try:
        connection.request("POST", "/invocations", body, {"Content-Type": content_type})
    except (BrokenPipeError, ConnectionResetError):
        pass
    response = connection.getresponse()
    answer = response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    return response.status, answer, elapsed


def tree_rss_mb(process: psutil.Process) -> float:
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


class PeakMemory:
    """The largest resident memory of a process tree, sampled every 20 ms in a thread."""

    def __init__(self, process: psutil.Process) -> None:
        self.process, self.peak = process, tree_rss_mb(process)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, tree_rss_mb(self.process))

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def baseline(server: tuple[int, psutil.Process], names: Names) -> float:
    """The server's resident memory after a few normal requests (MiB)."""
    for _ in range(5):
        assert post(server[0], records(names.row(), names.row(co_runners=[names.workload])))[0] \
            == 200
    return tree_rss_mb(server[1])


@pytest.mark.parametrize(("build", "content_type", "status", "fragment"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_hostile_input_is_refused_in_one_line_and_the_worker_lives(
    server: tuple[int, psutil.Process], names: Names, baseline: float,
    build: Callable[[Names], bytes], content_type: str, status: int, fragment: str,
) -> None:
    port, process = server
    body = build(names)
    with PeakMemory(process) as memory:
        got, answer, elapsed = post(port, body, content_type)
    text = answer.decode(errors="replace")
    # shown by `-rP`: the figures of docs/reliability.md's table
    print(f"{got} in {elapsed * 1000:.0f} ms, peak {memory.peak - baseline:+.0f} MiB over the "
          f"{baseline:.0f} MiB baseline")
    assert got == status, text[:500]
    message = json.loads(text)["message"]
    assert fragment in message, message[:500]
    assert "\n" not in message and len(message) <= MESSAGE_CHARS, message[:500]
    assert "stack_trace" not in json.loads(text) and "Traceback" not in text
    assert elapsed < ANSWER_S, f"answered in {elapsed:.2f} s"
    assert post(port, records(names.row()))[0] == 200, "the worker no longer answers"
    assert memory.peak - baseline < RSS_GROWTH_MB, (
        f"resident memory {memory.peak:.0f} MiB, {memory.peak - baseline:.0f} over the "
        f"{baseline:.0f} MiB baseline")
