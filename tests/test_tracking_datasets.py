"""The training data logged as a run's input: logged again when another worker created the
experiment's dataset record at the same moment (the loser's insert breaks the unique key),
and any other failure raised at once."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow_helpers import private_tracking

from pitot_tf.tracking import datasets

FINGERPRINT = {"directory": None, "fingerprint": "0123456789abcdef"}
RACE = ("(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, "
        "datasets.name, datasets.digest")


def test_a_lost_race_for_the_dataset_record_logs_again(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    real, calls = mlflow.log_input, []

    def racing(dataset: object, context: str) -> None:
        calls.append(context)
        if len(calls) == 1:
            raise MlflowException(RACE)
        real(dataset, context=context)  # type: ignore[arg-type]

    monkeypatch.setattr(datasets.mlflow, "log_input", racing)
    # A store of its own, without the experiment another test may have left in the process.
    with private_tracking(tmp_path, tmp_path_factory.getbasetemp()):
        with mlflow.start_run() as run:
            datasets.log_training_data(FINGERPRINT)
        logged = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    assert calls == [datasets.TRAINING_CONTEXT] * 2
    assert [d.dataset.digest for d in logged] == [FINGERPRINT["fingerprint"]]


def test_other_failures_and_a_race_lost_every_time_are_raised(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def failing(message: str) -> object:
        def log_input(dataset: object, context: str) -> None:
            calls.append(message)
            raise MlflowException(message)
        return log_input

    monkeypatch.setattr(datasets.mlflow, "log_input", failing("RESOURCE_DOES_NOT_EXIST"))
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST"):
        datasets.log_training_data(FINGERPRINT)
    assert len(calls) == 1
    monkeypatch.setattr(datasets.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(datasets.mlflow, "log_input", failing(RACE))
    with pytest.raises(MlflowException, match="UNIQUE constraint failed"):
        datasets.log_training_data(FINGERPRINT)
    assert len(calls) == 1 + datasets.LOG_ATTEMPTS
