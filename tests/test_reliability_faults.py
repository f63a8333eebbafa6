"""Faults a long job meets: a training process killed with SIGKILL, a search worker killed on
PostgreSQL, a loss that diverges, the tracking server or the artifact folder going away.

Every wait is bounded (subprocess timeouts, polling deadlines) and every signal is sent by
the test. Covered elsewhere and not repeated here: a whole sweep killed mid-cell and resumed
(test_sweep_resume.py), a search trial that diverges while the study goes on
(test_search_runner.py::test_diverging_trial_fails_and_the_study_goes_on). See
docs/reliability.md for what was tried and what held.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import optuna
import pytest
import yaml
from mlflow import MlflowClient
from mlflow.entities import LoggedModelStatus, Run
from mlflow_helpers import empty_store, experiment, free_port, private_tracking, wait_for
from optuna.trial import TrialState
from reliability_cli import PITOT_TF, error_lines, pitot

from pitot_tf.data.synth import synthesize_dataset

EXPERIMENT = "faults"
#: Training that outlasts any test: it is killed (or its server is) long before the end.
#: Without XLA, whose compiling would delay the first validation by seconds.
ENDLESS = ["--steps", "1000000", "--set", "training.val_every=20", "--set", "training.batch=64",
           "--set", "training.progress=false", "--set", "model.layers=[16]",
           "--set", "model.mf_dim=8", "--set", "training.jit_compile=false"]
DEADLINE_S = 240.0


@dataclass(frozen=True)
class World:
    root: Path
    data: Path
    uri: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("faults")
    with private_tracking(root, tmp_path_factory.getbasetemp()) as uri:
        experiment(EXPERIMENT, root)
        data = synthesize_dataset(root / "data", platforms=16, workloads=24, seed=1)
        yield World(root, data, uri)


def poll(what: str, found: Callable[[], Any], process: subprocess.Popen[str] | None = None,
         timeout: float = DEADLINE_S) -> Any:
    """Call ``found`` every 0.5 s until it returns something truthy; fail after ``timeout``
    seconds or when ``process`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process exited ({process.returncode}) before {what}: "
                                 f"{process.stderr.read() if process.stderr else ''}")
        value = found()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def start(args: list[str], cwd: Path, env: dict[str, str] | None = None
          ) -> subprocess.Popen[str]:
    """``pitot-tf ARGS`` in its own process group (so that a signal reaches every child)."""
    return subprocess.Popen([str(PITOT_TF), *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, env={**os.environ, **(env or {})})


def kill(process: subprocess.Popen[Any]) -> None:
    """SIGKILL ``process`` and its children; reap it."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)


def logging_run(client: MlflowClient, experiment_name: str) -> Run | None:
    """A RUNNING run of ``experiment_name`` that has logged a validation loss."""
    found = client.get_experiment_by_name(experiment_name)
    if found is None:
        return None
    runs = client.search_runs([found.experiment_id], "attributes.status = 'RUNNING'")
    return next((r for r in runs if "val_loss" in r.data.metrics), None)


@pytest.mark.slow
def test_a_killed_training_run_is_repaired_and_registers_nothing(world: World) -> None:
    client = MlflowClient(world.uri)
    process = start(["train", "--data-dir", str(world.data), "--experiment", EXPERIMENT,
                     "--register", "killed-model", *ENDLESS], world.root)
    try:
        run = poll("a validation loss", lambda: logging_run(client, EXPERIMENT), process)
    finally:
        kill(process)
    assert process.returncode == -signal.SIGKILL
    assert client.get_run(run.info.run_id).info.status == "RUNNING", "nothing could mark it"

    time.sleep(1.5)  # silent for longer than --older-than
    repaired = pitot("runs", "repair", "--experiment", EXPERIMENT, "--older-than", "1")
    assert repaired.code == 0, repaired
    assert f"marked run {run.info.run_id}" in repaired.out
    killed = client.get_run(run.info.run_id)
    assert killed.info.status == "KILLED"
    assert "no metric logged" in killed.data.tags["error"]
    assert not client.search_registered_models(filter_string="name = 'killed-model'")
    models = client.search_logged_models([run.info.experiment_id],
                                         filter_string=f"source_run_id = '{run.info.run_id}'")
    assert all(m.status != LoggedModelStatus.READY for m in models)


def test_a_diverging_loss_fails_the_run_at_the_first_check(world: World) -> None:
    outcome = pitot("train", "--data-dir", str(world.data), "--experiment", EXPERIMENT,
                    "--preset", "components/nobaseline", *ENDLESS,
                    "--set", "model.loss=percent", "--set", "training.learning_rate=1e6")
    assert outcome.code == 1
    assert error_lines(outcome.err) == [
        "error: training loss became nan by step 20; lower training.learning_rate or check "
        "the data"]
    assert "Traceback" not in outcome.err
    [run] = mlflow.search_runs(experiment_names=[EXPERIMENT], output_format="list",
                               max_results=1, order_by=["attributes.start_time DESC"])
    assert run.info.status == "FAILED" and run.data.tags["error"] == outcome.message
    assert "val_loss" not in run.data.metrics, "stopped before its first validation"


def test_an_artifact_folder_gone_fails_the_run_with_one_line(world: World) -> None:
    folder = world.root / "vanishing-artifacts"
    mlflow.create_experiment("vanishing", artifact_location=folder.as_uri())
    folder.write_text("a file where the artifact folder was")  # unwritable, even for root
    outcome = pitot("train", "--data-dir", str(world.data), "--experiment", "vanishing",
                    *ENDLESS, "--steps", "40", "--log-model", "false")
    assert outcome.code == 1
    [line] = error_lines(outcome.err)
    [run] = mlflow.search_runs(experiment_names=["vanishing"], output_format="list")
    assert line.startswith(f"error: run {run.info.run_id} FAILED: NotADirectoryError")
    assert str(folder) in line and "Traceback" not in outcome.err
    assert run.info.status == "FAILED"
    assert run.data.tags["error"].startswith("NotADirectoryError")


def test_a_run_that_cannot_be_ended_is_let_go_so_a_worker_can_go_on(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the server never answers within ``$PITOT_TRACKING_WAIT_S``, the run is dropped
    from this process's active runs (a sweep or search worker then starts its next run)."""
    import requests
    from mlflow.exceptions import MlflowException

    from pitot_tf.tracking import outage
    from pitot_tf.tracking.runs import tracked_run

    def refused(*args: Any, **kwargs: Any) -> None:
        try:
            raise requests.exceptions.ConnectionError("[Errno 111] Connection refused")
        except requests.exceptions.ConnectionError as error:
            raise MlflowException("API request to http://tracking/ failed") from error

    monkeypatch.setenv(outage.WAIT_ENV, "0.2")
    monkeypatch.setattr(outage, "RETRY_S", 0.1)
    with pytest.raises(outage.TrackingError) as caught:
        with tracked_run("train", experiment=EXPERIMENT) as run:
            monkeypatch.setattr(MlflowClient, "set_tag", refused)
            raise RuntimeError("the body failed")
    assert str(caught.value).endswith(
        f"unreachable during run {run.info.run_id} ([Errno 111] Connection refused) after it "
        "failed (RuntimeError: the body failed); the run is left RUNNING: once the server is "
        "back, `pitot-tf runs repair --older-than 600` marks it KILLED")
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert mlflow.active_run() is None
    monkeypatch.undo()
    assert MlflowClient().get_run(run.info.run_id).info.status == "RUNNING"
    with tracked_run("train", experiment=EXPERIMENT) as later:
        pass
    assert MlflowClient().get_run(later.info.run_id).info.status == "FINISHED"


def test_a_run_whose_end_is_refused_is_let_go_with_its_children(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server takes the tags but never the end: the run, and a run started inside it and
    left active, leave this thread's active runs and stay RUNNING, with the error tagged."""
    import requests
    from mlflow.exceptions import MlflowException

    from pitot_tf.tracking import outage
    from pitot_tf.tracking.runs import tracked_run

    def refused(*args: Any, **kwargs: Any) -> None:
        try:
            raise requests.exceptions.ConnectionError("[Errno 111] Connection refused")
        except requests.exceptions.ConnectionError as error:
            raise MlflowException("API request to http://tracking/ failed") from error

    monkeypatch.setenv(outage.WAIT_ENV, "0.3")
    monkeypatch.setattr(outage, "RETRY_S", 0.1)
    with pytest.raises(outage.TrackingError, match="the run is left RUNNING"):
        with tracked_run("train", experiment=EXPERIMENT) as run:
            child = mlflow.start_run(nested=True)
            monkeypatch.setattr(MlflowClient, "set_terminated", refused)
            raise RuntimeError("the body failed")
    assert mlflow.active_run() is None
    monkeypatch.undo()
    client = MlflowClient()
    assert [client.get_run(r.info.run_id).info.status for r in (run, child)] == ["RUNNING"] * 2
    assert client.get_run(run.info.run_id).data.tags["error"] == "RuntimeError: the body failed"


def test_a_bad_wait_setting_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from pitot_tf.errors import ConfigError
    from pitot_tf.tracking.outage import WAIT_ENV, wait_seconds

    monkeypatch.setenv(WAIT_ENV, "soon")
    with pytest.raises(ConfigError, match="PITOT_TRACKING_WAIT_S must be a number of seconds"):
        wait_seconds()
    monkeypatch.setenv(WAIT_ENV, "7.5")
    assert wait_seconds() == 7.5


class Server:
    """``mlflow server`` on 127.0.0.1 over a SQLite store, which can be killed and restarted."""

    def __init__(self, root: Path, backend: str) -> None:
        self.root, self.backend, self.port = root, backend, free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port",
                   str(self.port), "--backend-store-uri", self.backend,
                   "--artifacts-destination", str(self.root / "served"), "--workers", "1"]
        self.process = subprocess.Popen(command, cwd=self.root, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(f"{self.uri}/health", self.process, timeout=DEADLINE_S)

    def kill(self) -> None:
        if self.process is not None:
            kill(self.process)  # the whole group: uvicorn and the job runners too
            self.process = None


@pytest.fixture()
def server(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    served = Server(tmp_path, empty_store(tmp_path, tmp_path_factory.getbasetemp()))
    served.start()
    yield served
    served.kill()


@pytest.mark.slow
def test_a_tracking_server_going_away_fails_the_run_not_hangs(
    world: World, server: Server, tmp_path: Path
) -> None:
    """Two runs lose their server at once. One waits up to 3 s for it: it exits soon, naming
    the run it had to leave RUNNING (``runs repair`` ends it later). The other waits up to
    180 s: the server comes back and the run is FAILED with its error."""
    MlflowClient(server.uri).create_experiment("served")
    env = {"MLFLOW_TRACKING_URI": server.uri, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
           "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
    arguments = ["train", "--data-dir", str(world.data), "--experiment", "served", *ENDLESS]
    brief = start(arguments, tmp_path, {**env, "PITOT_TRACKING_WAIT_S": "3"})
    patient = start(arguments, tmp_path, {**env, "PITOT_TRACKING_WAIT_S": "180"})
    client = MlflowClient(server.backend)
    try:
        poll("two runs logging", lambda: len([
            r for r in client.search_runs([e.experiment_id for e in client.search_experiments()],
                                          "attributes.status = 'RUNNING'")
            if "val_loss" in r.data.metrics]) == 2, patient)
        server.kill()
        lost = time.monotonic()
        _, brief_err = brief.communicate(timeout=120)
        assert time.monotonic() - lost < 60, "gave up within its wait plus one request"
        server.start()
        _, patient_err = patient.communicate(timeout=DEADLINE_S)
    finally:
        kill(brief)
        kill(patient)
    assert brief.returncode == 1 and patient.returncode == 1
    assert "Traceback" not in brief_err + patient_err
    [left] = error_lines(brief_err)
    [failed] = error_lines(patient_err)
    assert f"tracking server {server.uri} unreachable during run" in left
    assert "the run is left RUNNING" in left and "pitot-tf runs repair" in left
    assert failed.endswith("the run is marked FAILED")

    served = client.get_experiment_by_name("served")
    assert served is not None
    runs = {r.info.run_id: r for r in client.search_runs([served.experiment_id], "")}
    left_id, failed_id = (line.split(" during run ")[1].split()[0] for line in (left, failed))
    assert runs[failed_id].info.status == "FAILED"
    assert "API request to" in runs[failed_id].data.tags["error"]
    assert runs[left_id].info.status == "RUNNING"
    from pitot_tf.tracking.repair import repair_runs

    repaired = repair_runs(older_than=1, client=MlflowClient(server.uri),
                           ids=[runs[left_id].info.experiment_id])
    assert [r.run_id for r in repaired] == [left_id]
    assert MlflowClient(server.uri).get_run(left_id).info.status == "KILLED"


@pytest.fixture(params=["journal", "postgresql"])
def killable_study(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A tiny study with a unique name, on a journal file or on the test PostgreSQL server
    (dropped afterwards)."""
    from search_support import write_study

    from pitot_tf.search.storage import open_storage

    path = write_study(tmp_path, f"killed-{uuid.uuid4().hex[:10]}")
    if request.param == "journal":
        yield path, str(tmp_path / "killed.journal")
        return
    from postgres import postgres_url

    url = postgres_url()
    yield path, url
    try:
        optuna.delete_study(study_name=path.stem, storage=open_storage(url))
    except KeyError:
        pass


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_a_killed_search_worker_is_failed_by_heartbeat_and_retried(
    world: World, killable_study: tuple[Path, str], tmp_path: Path
) -> None:
    """Journal storage too: the re-run used to wait forever for the dead RUNNING trial."""
    from pitot_tf.search.runner import run_search
    from pitot_tf.search.storage import open_storage

    path, url = killable_study
    command = ["search", "--study", str(path), "--n-trials", "3", "--storage", url,
               "--data-dir", str(world.data), "--set", "training.steps=1000000"]
    process = start(command, world.root)
    storage = open_storage(url)

    def reported_trial() -> optuna.trial.FrozenTrial | None:
        try:
            study = optuna.load_study(study_name=path.stem, storage=storage)
        except KeyError:
            return None
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        return next((t for t in running if t.intermediate_values), None)

    try:
        dead = poll("a trial reporting", reported_trial, process)
    finally:
        kill(process)
    if not url.endswith(".journal"):
        # Optuna's own RDB heartbeat fails a trial once it has been silent for the grace
        # period (docs/reliability.md); a re-run started sooner could finish before that.
        time.sleep(yaml.safe_load(path.read_text())["heartbeat"]["grace_period"] + 1)
    started = time.monotonic()
    result = run_search(path, 3, storage=url, data_dir=world.data)
    assert time.monotonic() - started < 300
    trials = optuna.load_study(study_name=path.stem, storage=storage).get_trials()
    assert result.finished == 3
    assert [t.state for t in trials].count(TrialState.COMPLETE) == 3
    assert trials[dead.number].state == TrialState.FAIL
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == dead.number]
    assert len(retries) == 1 and retries[0].params == dead.params
    assert retries[0].state == TrialState.COMPLETE
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]

    # The process that re-queued the trial ended its MLflow run FAILED; the dead invocation's
    # parent run records no process, so `runs repair --older-than` ends it once silent.
    dead_run = MlflowClient().get_run(dead.user_attrs["mlflow_run_id"])
    assert dead_run.info.status == "FAILED"
    assert "its worker died" in dead_run.data.tags["error"]
    time.sleep(1.5)
    assert pitot("runs", "repair", "--older-than", "1").code == 0
    dead_run = MlflowClient().get_run(dead.user_attrs["mlflow_run_id"])
    assert dead_run.info.status in ("FAILED", "KILLED")
