"""A sweep worker killed (SIGKILL) while training: its cell is trained again, by a live copy of
the same invocation or by the next invocation; the dead claim is marked KILLED and every cell
ends with exactly one FINISHED run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow_helpers import private_tracking

from pitot_tf.sweep.runner import run_sweep
from pitot_tf.sweep.tags import TAG_CELL, TAG_SWEEP_KEY
from pitot_tf.tracking.repair import TAG_REPAIRED

pytestmark = pytest.mark.slow
OVERRIDES = {"training.steps": 40, "training.val_every": 20, "training.batch": 64,
             "model.layers": [16], "model.mf_dim": 8, "training.jit_compile": False}
PITOT_TF = Path(sys.executable).with_name("pitot-tf")


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    from pitot_tf.data.synth import synthesize_dataset

    data = synthesize_dataset(tmp_path / "data", platforms=24, workloads=40, seed=3)
    with private_tracking(tmp_path, tmp_path.parent) as uri:
        yield data, uri


def cell_runs(client: MlflowClient) -> list[Run]:
    ids = [e.experiment_id for e in client.search_experiments()]
    return [r for r in client.search_runs(ids, "") if TAG_SWEEP_KEY in r.data.tags]


def wait_for_second_cell(client: MlflowClient, process: subprocess.Popen[bytes]) -> Run:
    """Poll until one cell run has FINISHED and the next one is RUNNING; return that one."""
    deadline = time.time() + 240
    while time.time() < deadline:
        assert process.poll() is None, "the sweep ended before it could be killed"
        runs = cell_runs(client) if Path("mlflow.db").exists() else []
        running = [r for r in runs if r.info.status == "RUNNING"]
        if running and any(r.info.status == "FINISHED" for r in runs):
            return running[0]
        time.sleep(0.2)
    raise AssertionError("the second cell never started")


def sweep_command(data: Path) -> list[str]:
    settings = [f"{k}={v}".replace(" ", "") for k, v in OVERRIDES.items()]
    return [str(PITOT_TF), "sweep", "--presets", "pitot", "--levels", "0.5",
            "--replicates", "0,1", "--set", " ".join(settings), "--data-dir", str(data),
            "--log-model", "false", "--no-progress"]


def test_a_killed_sweep_resumes_where_it_stopped(world: tuple[Path, str], tmp_path: Path
                                                 ) -> None:
    data, uri = world
    command = sweep_command(data)
    process = subprocess.Popen(command, cwd=tmp_path, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "MLFLOW_TRACKING_URI": uri})
    client = MlflowClient(uri)
    try:
        stale = wait_for_second_cell(client, process)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert client.get_run(stale.info.run_id).info.status == "RUNNING"

    result = run_sweep(["pitot"], [0.5], [0, 1], OVERRIDES, data_dir=data,
                       log_model=False, progress=False)
    assert (result.done, result.cells, result.trained, result.failed) == (2, 2, 1, {})
    killed = client.get_run(stale.info.run_id)
    assert killed.info.status == "KILLED"
    assert killed.data.tags[TAG_REPAIRED] == "true"
    finished = [r for r in cell_runs(client) if r.info.status == "FINISHED"]
    assert sorted(r.data.tags[TAG_CELL] for r in finished) == ["pitot|0.5|0", "pitot|0.5|1"]
    assert client.get_run(result.parent_run_id).info.status == "FINISHED"


def test_a_live_copy_trains_the_cell_of_a_killed_copy(world: tuple[Path, str],
                                                       tmp_path: Path) -> None:
    """``--workers 2``: one copy is killed mid-cell; the other, still walking the cells, finds
    the dead claim (its process is gone), ends it KILLED and trains the cell itself."""
    data, uri = world
    command = [*sweep_command(data), "--levels", "0.3", "--workers", "2"]
    process = subprocess.Popen(command, cwd=tmp_path, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "MLFLOW_TRACKING_URI": uri})
    client = MlflowClient(uri)
    deadline = time.time() + 240
    while not [r for r in cell_runs(client) if r.info.status == "RUNNING"]:
        assert time.time() < deadline and process.poll() is None, "no cell ever started"
        time.sleep(0.2)
    victim = next(r for r in cell_runs(client) if r.info.status == "RUNNING")
    os.kill(int(victim.data.tags["pitot.pid"]), signal.SIGKILL)
    assert process.wait(timeout=300) == 0
    killed = client.get_run(victim.info.run_id)
    assert killed.info.status == "KILLED" and "is gone" in killed.data.tags["error"]
    finished = [r for r in cell_runs(client) if r.info.status == "FINISHED"]
    assert sorted(r.data.tags[TAG_CELL] for r in finished) == sorted(
        f"pitot|{level}|{replicate}" for level in ("0.3", "0.5") for replicate in (0, 1))
