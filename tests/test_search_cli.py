"""``pitot-tf search``: runs, worker processes on one journal file, export, errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState
from search_support import SHIPPED_STUDIES, make_data, write_study
from typer.testing import CliRunner

from pitot_tf.cli.app import app, register_commands
from pitot_tf.search.storage import open_storage

PITOT_TF = str(Path(sys.executable).parent / "pitot-tf")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data(tmp_path_factory.mktemp("cli-data"))


def cli(*args: str, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PITOT_TF, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})}, cwd=cwd)


def test_list_shows_the_shipped_studies(monkeypatch: pytest.MonkeyPatch) -> None:
    register_commands()
    monkeypatch.setenv("PITOT_STUDIES", str(SHIPPED_STUDIES))
    result = CliRunner().invoke(app, ["search", "list"])
    assert result.exit_code == 0, result.output
    assert "pitot-bounds" in result.output and "val_mape, val_width" in result.output


def test_user_errors_are_one_line(tmp_path: Path) -> None:
    unknown = cli("search", "--study", "nosuch", env={"PITOT_STUDIES": str(tmp_path)})
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines() == [
        f"error: unknown study 'nosuch': no file {tmp_path}/nosuch.yaml (studies: none)"]
    study = write_study(tmp_path, space={"model.mf_dim": {"type": "int", "low": 9, "high": 3}})
    invalid = cli("search", "--study", str(study), "--n-trials", "1")
    assert invalid.returncode == 1
    assert invalid.stderr.strip() == (f"error: {study}: space.model.mf_dim: `low <= high` must "
                                      "hold, but got (low=9, high=3).")


@pytest.mark.slow
def test_in_process_search_then_export(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_commands()
    monkeypatch.chdir(tmp_path)  # MLflow artifacts go to ./mlruns
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setenv("PITOT_PRESETS", str(tmp_path / "presets"))
    study = write_study(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["search", "--study", str(study), "--n-trials", "2",
                                 "--set", "training.steps=40", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "2/2 finished, 0 failed" in result.output and "best trial" in result.output
    exported = runner.invoke(app, ["search", "export", "--study", str(study), "--out", "best"])
    assert exported.exit_code == 0, exported.output
    assert "training.steps: 40" in (tmp_path / "presets" / "best.yaml").read_text()


@pytest.mark.slow
def test_two_worker_processes_share_one_journal(tmp_path: Path, data_dir: Path) -> None:
    study = write_study(tmp_path)
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    first = cli("search", "--study", str(study), "--n-trials", "4", "--workers", "2",
                "--data-dir", str(data_dir), env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert re.search(r"[45]/4 finished", first.stdout), first.stdout
    second = cli("search", "--study", str(study), "--n-trials", "6", "--data-dir",
                 str(data_dir), env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    journal = optuna.load_study(study_name="tiny",
                                storage=open_storage(str(study.with_suffix(".journal"))))
    trials = journal.get_trials()
    assert [t.number for t in trials] == list(range(6))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    workers = {t.user_attrs["worker"] for t in trials[:4]}
    assert len(workers) == 2, "both worker processes ran trials"
    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name("pitot")  # like training runs
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 2 and len(runs) == 2 + 6
    assert {t.user_attrs["mlflow_run_id"] for t in trials} == {
        r.info.run_id for r in runs if "mlflow.parentRunId" in r.data.tags}
