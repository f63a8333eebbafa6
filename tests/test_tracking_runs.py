"""Run life cycle: FINISHED only when the body succeeds; FAILED with an error tag otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow_helpers import experiment, private_tracking

from pitot_tf.errors import ConfigError
from pitot_tf.tracking.fingerprint import code_version, data_fingerprint, shape_text
from pitot_tf.tracking.names import TAG_CODE_VERSION, TAG_ERROR, TAG_KIND, TAG_STOPPED
from pitot_tf.tracking.runs import error_text, run_label, tracked_run


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[mlflow.MlflowClient]:
    """A private SQLite store in a temporary folder (also the working directory)."""
    root = tmp_path_factory.mktemp("mlflow")
    with private_tracking(root, tmp_path_factory.getbasetemp()):
        experiment("runs", root)
        yield mlflow.MlflowClient()


def test_a_successful_body_finishes_the_run_with_standard_tags(client) -> None:  # type: ignore[no-untyped-def]
    with tracked_run("train", "ok", "runs", tags={"preset": "pitot"}) as run:
        mlflow.log_metric("x", 1.0)
    stored = client.get_run(run.info.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.info.run_name == "ok"
    assert stored.data.tags[TAG_KIND] == "train"
    assert stored.data.tags[TAG_CODE_VERSION] == code_version()
    assert stored.data.tags["preset"] == "pitot"
    assert mlflow.active_run() is None


def test_an_exception_marks_the_run_failed_with_its_message(client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError):
        with tracked_run("train", "bad", "runs") as run:
            raise ConfigError("unknown preset 'nope'")
    stored = client.get_run(run.info.run_id)
    assert stored.info.status == "FAILED"
    assert stored.data.tags[TAG_ERROR] == "unknown preset 'nope'"
    assert mlflow.active_run() is None


def test_a_bug_is_tagged_with_its_type(client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ZeroDivisionError):
        with tracked_run("train", "bug", "runs") as run:
            _ = 1 / 0
    stored = client.get_run(run.info.run_id)
    assert stored.info.status == "FAILED"
    assert stored.data.tags[TAG_ERROR] == "ZeroDivisionError: division by zero"


def test_a_stop_exception_kills_the_run_instead(client) -> None:  # type: ignore[no-untyped-def]
    class Pruned(Exception):
        pass

    with pytest.raises(Pruned):
        with tracked_run("train", "pruned", "runs", stop_exceptions=(Pruned,)) as run:
            raise Pruned("pruned at step 50")
    stored = client.get_run(run.info.run_id)
    assert stored.info.status == "KILLED"
    assert stored.data.tags[TAG_STOPPED] == "Pruned: pruned at step 50"
    assert TAG_ERROR not in stored.data.tags


def test_nested_runs_name_their_parent(client) -> None:  # type: ignore[no-untyped-def]
    with tracked_run("sweep", "parent", "runs") as parent:
        with tracked_run("train", "child", nested=True) as child:
            pass
    stored = client.get_run(child.info.run_id)
    assert stored.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert client.get_run(parent.info.run_id).info.status == "FINISHED"


def test_a_run_created_by_mlflow_run_is_resumed(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    experiment = client.get_experiment_by_name("runs")
    created = client.create_run(experiment.experiment_id)
    monkeypatch.setenv("MLFLOW_RUN_ID", created.info.run_id)
    with tracked_run("train", "pitot L0.5 r0", "ignored-name") as run:
        pass
    assert run.info.run_id == created.info.run_id
    stored = client.get_run(created.info.run_id)
    assert stored.info.status == "FINISHED" and stored.info.run_name == "pitot L0.5 r0"
    assert client.get_experiment_by_name("ignored-name") is None


def test_labels_and_error_text_are_one_line() -> None:
    assert run_label("embedding/64", 0.5, 2) == "embedding/64 L0.5 r2"
    assert error_text(ValueError("a\n  b")) == "ValueError: a b"


def test_data_fingerprint_changes_with_the_data(tmp_path: Path) -> None:
    from pitot_tf.data.dataset import load_dataset
    from pitot_tf.data.synth import synthesize_dataset

    first = data_fingerprint(load_dataset(synthesize_dataset(tmp_path, 8, 12, seed=0)))
    again = data_fingerprint(load_dataset(tmp_path))
    other = data_fingerprint(load_dataset(synthesize_dataset(tmp_path, 8, 12, seed=1)))
    assert first["fingerprint"] == again["fingerprint"] != other["fingerprint"]
    assert set(first["files"]) == {"data.npz", "if2.npz"}
    assert shape_text(first).startswith("8x12; mf=")
