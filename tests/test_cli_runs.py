"""``pitot-tf runs repair``: runs left RUNNING by dead processes (or silent too long) are
marked KILLED, with the reason; live and finished runs are left alone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.entities import LoggedModelStatus
from mlflow_helpers import private_tracking
from typer.testing import CliRunner

from pitot_tf.cli.app import app, register_commands
from pitot_tf.errors import ConfigError
from pitot_tf.tracking.liveness import TAG_HOST, TAG_PID
from pitot_tf.tracking.names import TAG_ERROR
from pitot_tf.tracking.repair import TAG_REPAIRED, repair_runs

HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("runs")
    with private_tracking(root, root.parent) as uri:
        yield uri


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def make_runs(client: MlflowClient, experiment: str) -> dict[str, str]:
    """One run of each kind; returns ``{kind: run id}``."""
    experiment_id = client.create_experiment(experiment)
    host, old = socket.gethostname(), int(time.time() * 1000) - HOUR_MS

    def run(start: int | None = None, host: str | None = None, pid: int = 0) -> str:
        tags = {TAG_HOST: host, TAG_PID: str(pid)} if host else {}
        return client.create_run(experiment_id, start_time=start, tags=tags).info.run_id

    ids = {"dead": run(None, host, dead_pid()),
           "alive": run(old, host, os.getpid()),
           "old_silent": run(old),
           "old_busy": run(old),
           "remote_old": run(old, "elsewhere", 1),
           "finished": run(old, host, dead_pid())}
    client.log_metric(ids["old_busy"], "val_loss", 1.0)
    client.set_terminated(ids["finished"], "FINISHED")
    client.create_logged_model(experiment_id, "model", source_run_id=ids["dead"])
    return ids


def status(client: MlflowClient, run_id: str) -> str:
    return str(client.get_run(run_id).info.status)


def test_dead_processes_runs_are_killed_with_the_reason(store: str) -> None:
    client = MlflowClient()
    ids = make_runs(client, "repair-dead")
    register_commands()
    result = CliRunner().invoke(app, ["runs", "repair", "--experiment", "repair-dead"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "1 run(s) marked KILLED" in result.output
    assert status(client, ids["dead"]) == "KILLED"
    tags = client.get_run(ids["dead"]).data.tags
    assert "is gone" in tags[TAG_ERROR] and tags[TAG_REPAIRED] == "true"
    [model] = client.search_logged_models([client.get_run(ids["dead"]).info.experiment_id])
    assert model.status == LoggedModelStatus.FAILED
    for kind in ("alive", "old_silent", "old_busy", "remote_old"):
        assert status(client, ids[kind]) == "RUNNING", kind
    assert status(client, ids["finished"]) == "FINISHED"


def test_older_than_also_kills_long_silent_runs(store: str) -> None:
    client = MlflowClient()
    ids = make_runs(client, "repair-old")
    dry = repair_runs(["repair-old"], older_than=60, dry_run=True)
    assert {r.run_id for r in dry} == {ids["dead"], ids["old_silent"], ids["remote_old"]}
    assert status(client, ids["old_silent"]) == "RUNNING"  # a dry run changes nothing
    repaired = repair_runs(["repair-old"], older_than=60)
    assert {r.run_id for r in repaired} == {r.run_id for r in dry}
    assert "no metric logged for" in client.get_run(ids["old_silent"]).data.tags[TAG_ERROR]
    for kind in ("alive", "old_busy"):  # alive process; metric logged a moment ago
        assert status(client, ids[kind]) == "RUNNING", kind
    assert repair_runs(["repair-old"], older_than=60) == []


def test_a_requeued_trial_ends_its_dead_workers_run(store: str, tmp_path: Path) -> None:
    """When the heartbeat re-queues a stale search trial, the process that re-queued it marks
    the run of the dead worker FAILED."""
    import optuna

    from pitot_tf.search.objective import fail_dead_trial_runs

    client = MlflowClient()
    experiment_id = client.create_experiment("requeued")
    stale = client.create_run(experiment_id).info.run_id
    study = optuna.create_study()
    study.enqueue_trial({"x": 0}, user_attrs={"mlflow_run_id": stale})
    fail_dead_trial_runs(study.ask())  # type: ignore[arg-type]  # as the search's on_stale
    assert status(client, stale) == "FAILED"
    assert "stale heartbeat" in client.get_run(stale).data.tags[TAG_ERROR]


def test_bad_arguments_are_one_line_errors(store: str) -> None:
    with pytest.raises(ConfigError, match="--older-than must be >= 0"):
        repair_runs(older_than=-1)
    done = subprocess.run([str(Path(sys.executable).with_name("pitot-tf")), "runs", "repair",
                           "--experiment", "no-such-experiment"], capture_output=True,
                          text=True, env={**os.environ, "MLFLOW_TRACKING_URI": store})
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(
        "error: experiment 'no-such-experiment' not found")
