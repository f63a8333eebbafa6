"""Two machines, simulated: two worker groups with their own working folders, data copies and
environments share only a PostgreSQL storage and an MLflow tracking server that proxies the
artifacts (``mlflow server --artifacts-destination``) on loopback. Both run the same sweep of
6 cells and the same 6-trial search at once (the recipe in docs/sweeps.md); every cell runs
once, the study finishes 6 trials (7 when both workers finish one last trial at once), and
every cell's model downloads through the server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import mlflow
import optuna
import pytest
from mlflow import MlflowClient
from mlflow_helpers import empty_store, free_port, wait_for
from optuna.trial import TrialState
from postgres import postgres_url
from search_support import tiny_study

from pitot_tf.search.storage import open_storage
from pitot_tf.sweep.tags import TAG_CELL
from pitot_tf.tracking.names import MODEL_NAME, PYFUNC_NAME

pytestmark = pytest.mark.slow
PITOT_TF = Path(sys.executable).with_name("pitot-tf")
OVERRIDES = {"training.steps": 40, "training.val_every": 20, "training.batch": 64,
             "model.layers": [16], "model.mf_dim": 8, "training.jit_compile": False}
CELLS = sorted(f"pitot|{level}|{replicate}" for level in ("0.3", "0.5", "0.7")
               for replicate in (0, 1))
TIMEOUT_S = 900


@pytest.fixture()
def tracking_server(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mlflow server`` on 127.0.0.1 with proxied artifacts in its own folder."""
    root = tmp_path / "server"
    root.mkdir()
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port",
               str(port), "--backend-store-uri",
               empty_store(root, tmp_path_factory.getbasetemp()),
               "--artifacts-destination", str(root / "artifacts"), "--workers", "1"]
    server = subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/health", server, timeout=240)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, 9)
        server.wait()


def machine(root: Path, name: str, uri: str, study_name: str) -> tuple[Path, dict[str, str]]:
    """A working folder with its own data copy, study file, temp and home, and its env."""
    from pitot_tf.data.synth import synthesize_dataset

    folder = root / name
    for sub in ("tmp", "home"):
        (folder / sub).mkdir(parents=True)
    synthesize_dataset(folder / "data", platforms=24, workloads=40, seed=3)
    (folder / f"{study_name}.yaml").write_text(json.dumps(tiny_study()))
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    env.update(MLFLOW_TRACKING_URI=uri, TMPDIR=str(folder / "tmp"), HOME=str(folder / "home"),
               PITOT_THREADS="1")
    return folder, env


def run_both(commands: list[tuple[list[str], Path, dict[str, str]]]) -> None:
    """Start each ``pitot-tf`` command in its folder at once; all must exit 0."""
    processes = [subprocess.Popen([str(PITOT_TF), *args], cwd=cwd, env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                 for args, cwd, env in commands]
    outputs = [p.communicate(timeout=TIMEOUT_S)[0] for p in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]


def test_two_worker_groups_share_only_the_database_and_the_server(
    tracking_server: str, tmp_path: Path
) -> None:
    url = postgres_url()
    name = f"machines-{uuid.uuid4().hex[:8]}"
    groups = [machine(tmp_path, group, tracking_server, name) for group in ("a", "b")]
    settings = [f"{k}={json.dumps(v).replace(' ', '')}" for k, v in OVERRIDES.items()]
    storage = open_storage(url)
    before = set(optuna.get_all_study_names(storage))
    try:
        run_both([(["sweep", "--presets", "pitot", "--levels", "0.3,0.5,0.7",
                    "--replicates", "0-1", "--set", " ".join(settings), "--data-dir", "data",
                    "--experiment", f"{name}-sweep", "--no-progress"],
                   folder, env) for folder, env in groups])
        run_both([(["search", "--study", f"{name}.yaml", "--n-trials", "6", "--storage", url,
                    "--data-dir", "data", "--experiment", f"{name}-search"], folder, env)
                  for folder, env in groups])
        trials = optuna.load_study(study_name=name, storage=storage).get_trials()
    finally:
        for study in set(optuna.get_all_study_names(storage)) - before:
            optuna.delete_study(study_name=study, storage=storage)

    assert {t.state for t in trials} == {TrialState.COMPLETE} and 6 <= len(trials) <= 7
    client = MlflowClient(tracking_server)
    experiment = client.get_experiment_by_name(f"{name}-sweep")
    assert experiment is not None
    assert experiment.artifact_location.startswith("mlflow-artifacts:")
    runs = [r for r in client.search_runs([experiment.experiment_id], "")
            if TAG_CELL in r.data.tags]
    assert Counter(r.data.tags[TAG_CELL] for r in runs) == Counter(CELLS)
    assert {r.info.status for r in runs} == {"FINISHED"}
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracking_server)
    try:
        for run in runs:
            models = client.search_logged_models(
                [experiment.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'")
            assert sorted(m.name for m in models) == sorted([MODEL_NAME, PYFUNC_NAME])
            for model in models:
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=f"models:/{model.model_id}",
                    dst_path=str(tmp_path / "downloads" / model.model_id))
                assert (Path(local) / "MLmodel").is_file()
    finally:
        mlflow.set_tracking_uri(previous)
    for folder, _ in groups:
        assert not (folder / "mlruns").exists(), "artifacts went through the server"
