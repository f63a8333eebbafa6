"""End-to-end smoke tests: every user path once, through the ``pitot-tf`` console script as a
user runs it, on a small synthetic dataset and a private MLflow store.

train -> evaluate -> serve one request -> search 2 trials with 2 workers -> sweep 2 cells with
2 workers. Each test checks what the user would look at (exit code, the record in MLflow or
Optuna, the HTTP answer); the behaviour behind each step has its own fast tests. The tests share
one trained run, so they run in file order; run this file alone with
``python -m pytest -q tests/test_smoke.py``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import optuna
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow_helpers import empty_store, free_port, wait_for
from optuna.trial import TrialState
from search_support import make_data, write_study

from pitot_tf.tracking import names

pytestmark = pytest.mark.smoke

REPO = Path(__file__).resolve().parents[1]
PITOT_TF = Path(sys.executable).with_name("pitot-tf")
#: A small model that trains in a second or two (no XLA: compiling costs more than these few
#: steps save, and ``test_training.py::test_xla_trains_the_same_model`` covers it).
FAST = ["training.steps=40", "training.val_every=20", "training.batch=64",
        "training.jit_compile=false", "training.progress=false"]
SMALL_MODEL = ["model.layers=[16]", "model.mf_dim=8"]
COMMAND_TIMEOUT_S = 600


@dataclass(frozen=True)
class World:
    """The user's folder (the working directory of every command), data and tracking store."""

    root: Path
    data: Path
    env: dict[str, str]

    @property
    def client(self) -> MlflowClient:
        return MlflowClient(self.env["MLFLOW_TRACKING_URI"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("smoke")
    uri = empty_store(root, tmp_path_factory.getbasetemp())
    source = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": source,
           "PATH": f"{PITOT_TF.parent}{os.pathsep}{os.environ['PATH']}"}
    # No PITOT_DATA: train, evaluate and serve use the published data built into the package.
    for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "PITOT_DATA"):
        env.pop(name, None)
    yield World(root, make_data(root / "data"), env)


def pitot_tf(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``pitot-tf ARGS`` in the user's folder; fail with its output unless it exits 0."""
    done = subprocess.run([str(PITOT_TF), *args], cwd=world.root, env=world.env, text=True,
                          capture_output=True, timeout=COMMAND_TIMEOUT_S)
    assert done.returncode == 0, f"pitot-tf {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def sets(*overrides: str) -> list[str]:
    return [item for value in overrides for item in ("--set", value)]


@pytest.fixture(scope="module")
def trained(world: World) -> str:
    """``pitot-tf train`` on the default data (the built-in published dataset): its run id."""
    done = pitot_tf(world, "train", "--experiment", "smoke",
                    *sets(*FAST, *SMALL_MODEL))
    match = re.search(r"^MLflow: run ([0-9a-f]{32}) ", done.stdout, re.MULTILINE)
    assert match, done.stdout
    return match.group(1)


def test_train_logs_a_finished_run_with_test_scores(world: World, trained: str) -> None:
    run = world.client.get_run(trained)
    assert run.info.status == "FINISHED"
    assert run.data.params["training.steps"] == "40"
    assert run.data.params[names.PARAM_DATA_SHAPE].startswith("231x249; mf=53637"), run.data.params
    for objective in ("mf", "if2"):
        assert 0 < run.data.metrics[f"test_{objective}_mape"] < 10
        assert 0 <= run.data.metrics[f"test_{objective}_coverage_0.05"] <= 1


def test_evaluate_a_logged_model_writes_its_tables(world: World, trained: str) -> None:
    out = world.root / "evaluation"
    pitot_tf(world, "evaluate", "--model-uri", f"runs:/{trained}/model", "--out", str(out))
    table = pd.read_csv(out / "conformal.csv")
    assert set(table["objective"]) == {"mf", "if2"} and set(table["split"]) == {"val", "test"}
    chosen = table.query("split == 'test' and alpha == 0.05 and chosen")
    logged = world.client.get_run(trained).data.metrics
    for objective, width in zip(chosen["objective"], chosen["width"], strict=True):
        assert width == pytest.approx(logged[f"test_{objective}_width_0.05"], rel=1e-6)


def test_serve_answers_one_request(world: World, trained: str) -> None:
    from pitot_tf.data.dataset import load_dataset
    from pitot_tf.data.packaged import PUBLISHED_DIR

    dataset = load_dataset(PUBLISHED_DIR)
    port, log = free_port(), world.root / "serve.log"
    server = subprocess.Popen(
        [str(PITOT_TF), "serve", "--model-uri", f"runs:/{trained}/pyfunc-model",
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=world.root, env=world.env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/ping", server, timeout=300)
        row = {"workload": dataset.workloads.names[0], "platform": dataset.platforms.names[1],
               "co_runners": dataset.workloads.names[2], "alpha": 0.05}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=json.dumps({"dataframe_records": [row]}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            status, answer = response.status, json.loads(response.read())
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    assert status == 200, log.read_text()[-3000:]
    [prediction] = answer["predictions"]
    assert (prediction["workload"], prediction["platform"]) == (row["workload"], row["platform"])
    assert prediction["upper_bound_s"] >= prediction["predicted_runtime_s"] > 0


def test_search_two_trials_with_two_workers(world: World) -> None:
    study = write_study(world.root / "studies")
    journal = world.root / "search.journal"
    done = pitot_tf(world, "search", "--study", str(study), "--n-trials", "2", "--workers", "2",
                    "--storage", str(journal), "--data-dir", str(world.data))
    trials = optuna.load_study(
        study_name="tiny", storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(journal)))).get_trials()
    # Two workers may finish one trial more than asked (MaxTrialsCallback), never fewer.
    assert len(trials) in (2, 3), done.stdout
    failed = [(t.number, t.state.name, t.user_attrs, t.system_attrs) for t in trials
              if t.state != TrialState.COMPLETE]
    assert not failed, f"{failed}\n{done.stdout}\n{done.stderr[-3000:]}"
    assert f"{len(trials)}/2 finished" in done.stdout, done.stdout


def test_sweep_two_cells_with_two_workers(world: World) -> None:
    pitot_tf(world, "sweep", "--presets", "pitot", "--levels", "0.5", "--replicates", "0-1",
             "--workers", "2", "--experiment", "smoke-sweep", "--data-dir", str(world.data),
             "--log-model", "false", "--no-progress",
             *sets(*FAST))
    experiment = world.client.get_experiment_by_name("smoke-sweep")
    assert experiment is not None
    runs = world.client.search_runs([experiment.experiment_id], "tags.replicate LIKE '%'")
    cells = sorted((r.data.tags["preset"], r.data.tags["level"], r.data.tags["replicate"])
                   for r in runs if r.info.status == "FINISHED")
    assert cells == [("pitot", "0.5", "0"), ("pitot", "0.5", "1")], [r.data.tags for r in runs]
