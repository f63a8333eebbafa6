"""Runs land in experiment ``pitot``, marked as model training, and ``mlflow run``'s run in
``Default`` is continued there; the terminal says where runs are and how to open them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow_helpers import private_tracking

from pitot_tf.tracking import names
from pitot_tf.tracking.experiments import (
    KIND_MODEL_TRAINING,
    TAG_EXPERIMENT_KIND,
    TAG_MOVED_TO,
    adopt_project_run,
    experiment_id_for,
    ui_command,
    ui_url,
    where_text,
)
from pitot_tf.tracking.fingerprint import code_version, git_commit
from pitot_tf.tracking.run_log import log_params
from pitot_tf.tracking.runs import tracked_run


@pytest.fixture()
def store(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with private_tracking(tmp_path, tmp_path_factory.getbasetemp()):
        yield tmp_path


def test_a_run_without_an_experiment_goes_to_pitot_marked_as_training(store: Path) -> None:
    with tracked_run(names.KIND_TRAIN, "r") as run:
        pass
    experiment = mlflow.MlflowClient().get_experiment(run.info.experiment_id)
    assert experiment.name == "pitot"
    assert experiment.tags[TAG_EXPERIMENT_KIND] == KIND_MODEL_TRAINING


class _LateLookup(MlflowClient):
    """A client whose first lookup misses an experiment another worker has just created."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    def get_experiment_by_name(self, name: str):  # type: ignore[no-untyped-def]
        self.lookups += 1
        return None if self.lookups == 1 else super().get_experiment_by_name(name)


def test_an_experiment_created_by_another_worker_meanwhile_is_used(store: Path) -> None:
    existing = MlflowClient().create_experiment("race")
    client = _LateLookup()
    assert experiment_id_for("race", client) == existing
    assert client.lookups == 2
    tags = MlflowClient().get_experiment(existing).tags
    assert tags[TAG_EXPERIMENT_KIND] == KIND_MODEL_TRAINING


class _LateTag(MlflowClient):
    """A client whose tag insert loses the race to another worker that tagged the experiment
    after this one looked (the tracking server refuses the duplicate key)."""

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        super().set_experiment_tag(experiment_id, key, value)  # the other worker's insert
        raise MlflowException("UNIQUE constraint failed: experiment_tags.key")


def test_an_experiment_tagged_by_another_worker_meanwhile_is_used(store: Path) -> None:
    existing = MlflowClient().create_experiment("tag-race")
    assert experiment_id_for("tag-race", _LateTag()) == existing
    tags = MlflowClient().get_experiment(existing).tags
    assert tags[TAG_EXPERIMENT_KIND] == KIND_MODEL_TRAINING


class _BrokenTag(MlflowClient):
    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        raise MlflowException("PERMISSION_DENIED")


def test_a_tag_that_could_not_be_written_is_still_an_error(store: Path) -> None:
    MlflowClient().create_experiment("denied")
    with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
        experiment_id_for("denied", _BrokenTag())


def test_a_child_run_stays_in_its_parents_experiment(store: Path) -> None:
    with tracked_run(names.KIND_PIPELINE, "parent", experiment="other") as parent:
        mlflow.set_experiment("elsewhere")
        with tracked_run(names.KIND_TRAIN, "child", nested=True) as child:
            pass
    assert child.info.experiment_id == parent.info.experiment_id


def test_mlflow_runs_default_run_continues_in_pitot(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = mlflow.MlflowClient()
    stub = client.create_run("0", run_name="pitot L0.5 r0",
                             tags={names.TAG_ENTRY_POINT: "train"})
    client.log_param(stub.info.run_id, "preset", "pitot")
    monkeypatch.setenv("MLFLOW_RUN_ID", stub.info.run_id)
    moved_id = adopt_project_run(None)
    assert moved_id and moved_id != stub.info.run_id
    moved = client.get_run(moved_id)
    assert client.get_experiment(moved.info.experiment_id).name == "pitot"
    assert moved.data.params == {"preset": "pitot"}
    assert moved.data.tags[names.TAG_ENTRY_POINT] == "train"
    assert client.get_run(stub.info.run_id).data.tags[TAG_MOVED_TO] == moved_id
    with tracked_run(names.KIND_TRAIN) as run:  # resumes the moved run
        log_params({"preset": "pitot", "level": "0.5"})
    assert run.info.run_id == moved_id


def test_a_param_logged_by_mlflow_run_is_not_logged_twice(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tracked_run(names.KIND_TRAIN, "r") as run:
        mlflow.log_params({"data_dir": "''", "level": "0.50"})
        log_params({"data_dir": "/data/pitot", "level": "0.5", "preset": "pitot"})
    logged = mlflow.MlflowClient().get_run(run.info.run_id).data
    assert logged.params == {"data_dir": "''", "level": "0.50", "preset": "pitot"}
    assert logged.tags[f"{names.TAG_RESOLVED}data_dir"] == "/data/pitot"
    assert f"{names.TAG_RESOLVED}level" not in logged.tags


def test_the_terminal_says_where_the_run_is(store: Path) -> None:
    with tracked_run(names.KIND_TRAIN, "r") as run:
        pass
    text = where_text(run.info.run_id)
    assert f"run {run.info.run_id} in experiment 'pitot'" in text
    assert f"mlflow ui --backend-store-uri sqlite:///{store}/mlflow.db" in text
    assert ui_command().startswith("mlflow ui --backend-store-uri ")
    assert ui_url("1").endswith("#/experiments/1?workflowType=machine_learning")


def test_the_code_version_names_the_git_commit() -> None:
    commit = git_commit()
    if commit is None:
        pytest.skip("not a git checkout")
    assert code_version().startswith(f"git:{commit}")
