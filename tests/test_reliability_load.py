"""Load: a search with 3 worker processes on one PostgreSQL study and a sweep with 2 worker
processes, at once, on one MLflow tracking store (``benchmarks/load.py`` at a small size).
Every trial and every cell runs exactly once and nothing is lost (the study may finish up to 2
trials more than asked); the throughput it prints is
recorded in docs/reliability.md."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow_helpers import private_tracking
from optuna.trial import TrialState
from postgres import postgres_url

from pitot_tf.search.storage import open_storage
from pitot_tf.sweep.tags import TAG_CELL

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
TRIALS = 6
CELLS = ["pitot|0.3|0", "pitot|0.3|1", "pitot|0.5|0", "pitot|0.5|1"]


def experiment_runs(client: MlflowClient, name: str) -> list[Run]:
    found = client.get_experiment_by_name(name)
    assert found is not None, f"no experiment {name}"
    return list(client.search_runs([found.experiment_id], ""))


def test_three_search_and_two_sweep_workers_run_everything_once(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    url = postgres_url()
    name = uuid.uuid4().hex[:8]
    command = [sys.executable, str(REPO / "benchmarks" / "load.py"), "--storage", url,
               "--trials", str(TRIALS), "--levels", "0.3", "0.5", "--replicates", "0-1",
               "--steps", "40", "--no-xla", "--name", name, "--keep",
               "--workdir", str(tmp_path / "load")]
    storage = open_storage(url)
    with private_tracking(tmp_path, tmp_path_factory.getbasetemp()) as uri:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=900,
                                  cwd=tmp_path)
            assert done.returncode == 0, done.stdout + done.stderr
            report = json.loads(done.stdout.strip().splitlines()[-1])
            trials = optuna.load_study(study_name=f"load-{name}", storage=storage).get_trials()
            client = MlflowClient(uri)
            search_runs, sweep_runs = (experiment_runs(client, f"load-{name}-{kind}")
                                       for kind in ("search", "sweep"))
        finally:
            if f"load-{name}" in optuna.get_all_study_names(storage):
                optuna.delete_study(study_name=f"load-{name}", storage=storage)

    assert report["exactly_once"] and report["problems"] == []
    assert report["trials_per_min"] > 0 and report["cells_per_min"] > 0
    assert {t.state for t in trials} == {TrialState.COMPLETE}
    assert TRIALS <= len(trials) <= TRIALS + 3 - 1  # 3 workers may finish 2 more
    per_trial = Counter(r.data.tags["optuna.trial_number"] for r in search_runs
                        if "optuna.trial_number" in r.data.tags)
    assert per_trial == Counter(str(t.number) for t in trials)

    cell_runs = [r for r in sweep_runs if TAG_CELL in r.data.tags]
    assert sorted(r.data.tags[TAG_CELL] for r in cell_runs) == CELLS
    assert {r.info.status for r in cell_runs} == {"FINISHED"}

    # The two jobs really ran at the same time (which workers took which trial or cell
    # depends on start-up order, so it is not checked).
    trial_runs = [r for r in search_runs if "optuna.trial_number" in r.data.tags]
    assert min(r.info.start_time for r in cell_runs) < max(r.info.end_time for r in trial_runs)
    assert min(r.info.start_time for r in trial_runs) < max(r.info.end_time for r in cell_runs)
