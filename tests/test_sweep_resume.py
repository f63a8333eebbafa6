"""A sweep killed (SIGKILL) while training resumes: the stale run is marked KILLED, its cell
trained again, every cell ends with exactly one FINISHED run."""

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
from optuna.trial import TrialState

from pitot_tf.sweep import queue
from pitot_tf.sweep.runner import run_sweep
from pitot_tf.sweep.tags import TAG_CELL, TAG_REPAIRED, TAG_SWEEP_KEY

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


def test_a_killed_sweep_resumes_where_it_stopped(world: tuple[Path, str], tmp_path: Path
                                                 ) -> None:
    data, uri = world
    journal = tmp_path / "sweeps.journal"
    settings = [f"{k}={v}".replace(" ", "") for k, v in OVERRIDES.items()]
    command = [str(PITOT_TF), "sweep", "--presets", "pitot", "--levels", "0.5",
               "--replicates", "0,1", "--set", " ".join(settings), "--data-dir", str(data),
               "--storage", str(journal), "--log-model", "false", "--no-progress"]
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

    result = run_sweep(["pitot"], ["0.5"], ["0", "1"], OVERRIDES, data_dir=data,
                       storage=str(journal), log_model=False, progress=False)
    assert (result.done, result.cells, result.trained, result.failed) == (2, 2, 1, {})
    killed = client.get_run(stale.info.run_id)
    assert killed.info.status == "KILLED"
    assert killed.data.tags[TAG_REPAIRED] == "true"
    finished = [r for r in cell_runs(client) if r.info.status == "FINISHED"]
    assert sorted(r.data.tags[TAG_CELL] for r in finished) == ["pitot|0.5|0", "pitot|0.5|1"]
    study = queue.open_queue(str(journal), result.sweep_id, create=False)
    stale_cell = stale.data.tags[TAG_CELL]
    states = [t.state for t in study.get_trials() if queue.trial_cell(t) == stale_cell]
    assert states == [TrialState.FAIL, TrialState.COMPLETE]
    assert client.get_run(result.parent_run_id).info.status == "FINISHED"
