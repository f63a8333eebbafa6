"""A tracked training run on synthetic data logs what the issue lists, and fails cleanly."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow_helpers import empty_store, experiment, free_port, private_tracking, wait_for

from pitot_tf.data.synth import synthesize_dataset
from pitot_tf.errors import ConfigError, DataError
from pitot_tf.tracking import names
from pitot_tf.tracking.evaluation import evaluate_run, resolve_run_id
from pitot_tf.tracking.registry import register_run_model
from pitot_tf.tracking.training import RunOptions, TrainingRun, run_training

FAST = {"training.steps": 100, "training.val_every": 50, "training.batch": 64,
        "training.progress": False, "training.jit_compile": False,
        "model.layers": [16], "model.mf_dim": 8}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("tracking")
    with private_tracking(root, tmp_path_factory.getbasetemp()):
        experiment("train", root)
        yield root


@pytest.fixture(scope="module")
def data_dir(store: Path) -> Path:
    return synthesize_dataset(store / "data", platforms=30, workloads=50, density=0.7)


@pytest.fixture(scope="module")
def trained(store: Path, data_dir: Path) -> TrainingRun:
    return run_training("pitot", FAST, RunOptions(data_dir=data_dir, experiment="train"))


def artifact_paths(client: mlflow.MlflowClient, run_id: str, path: str = "") -> set[str]:
    found = set()
    for item in client.list_artifacts(run_id, path):
        found |= artifact_paths(client, run_id, item.path) if item.is_dir else {item.path}
    return found


def test_the_run_logs_config_inputs_and_code_version(trained: TrainingRun, data_dir: Path) -> None:
    run = mlflow.MlflowClient().get_run(trained.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "pitot L0.5 r0"
    params = run.data.params
    assert params["model.mf_dim"] == "8" and params["training.steps"] == "100"
    assert params["seed"] == "42" and params[names.PARAM_PRESET] == "pitot"
    assert params[names.PARAM_LEVEL] == "0.5" and params[names.PARAM_REPLICATE] == "0"
    assert params[names.PARAM_DATA_DIR] == str(data_dir.resolve())
    assert len(params[names.PARAM_DATA_FINGERPRINT]) == 16
    assert params[names.PARAM_DATA_SHAPE] == "30x50; mf=1050; if2=1050"
    assert params[names.PARAM_SPLIT_FILE] == "(made)" and params[names.PARAM_SPLIT_SEED] == "42"
    tags = run.data.tags
    assert {tags[k] for k in ("preset", "family", "level", "replicate")} == {"pitot", "0.5", "0"}
    head = subprocess.run(["git", "-C", str(Path(__file__).parent), "rev-parse", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    assert tags[names.TAG_KIND] == "train"
    assert tags[names.TAG_CODE_VERSION].startswith(f"git:{head}"), "names the git commit"
    assert set(params).isdisjoint({"run.preset", "run.level", "run.replicate", "data.dir"})


def test_the_run_logs_losses_per_validation_step_and_speed(trained: TrainingRun) -> None:
    client = mlflow.MlflowClient()
    for key in ("train_loss", "val_loss", "val_mf_loss", "val_if2_loss"):
        history = client.get_metric_history(trained.run_id, key)
        assert [m.step for m in history] == [50, 100], key
    val = {m.step: m.value for m in client.get_metric_history(trained.run_id, "val_loss")}
    assert val[100] == pytest.approx(trained.result.history.set_index("step")["val_loss"][100])
    metrics = client.get_run(trained.run_id).data.metrics
    assert metrics["steps_per_s"] > 0 and metrics["wall_s"] > 0


def test_the_run_logs_the_conformal_metrics_under_stable_names(trained: TrainingRun) -> None:
    metrics = mlflow.MlflowClient().get_run(trained.run_id).data.metrics
    expected = trained.evaluation.metrics()
    for objective in ("mf", "if2"):
        mape = f"test_{objective}_mape"
        assert metrics[mape] == pytest.approx(expected[mape])
        for alpha in ("0.1", "0.05", "0.01"):
            for kind in ("coverage", "width"):
                key = f"test_{objective}_{kind}_{alpha}"
                assert metrics[key] == pytest.approx(expected[key])
                assert 0 <= metrics[key] <= 1 or kind == "width"
        assert f"val_{objective}_mape" in metrics and f"val_{objective}_width_0.05" in metrics


def test_the_run_logs_tables_plots_split_and_both_models(trained: TrainingRun) -> None:
    client = mlflow.MlflowClient()
    assert artifact_paths(client, trained.run_id) == {
        "config.json", "history.csv", "data_fingerprint.json", "split/0.5/0.npz",
        "conformal.csv", "conformal_groups.csv", "conformal_bounds.json",
        "plots/calibration.png", "plots/tightness.png", "plots/predicted_vs_actual_mf.png",
        "plots/predicted_vs_actual_if2.png",
    }
    table = pd.read_csv(mlflow.artifacts.download_artifacts(
        run_id=trained.run_id, artifact_path="conformal.csv"))
    assert len(table) == len(trained.evaluation.table)
    config = json.loads(Path(mlflow.artifacts.download_artifacts(
        run_id=trained.run_id, artifact_path="config.json")).read_text())
    assert config["model"]["mf_dim"] == 8
    experiment_id = client.get_run(trained.run_id).info.experiment_id
    models = client.search_logged_models([experiment_id],
                                         filter_string=f"source_run_id = '{trained.run_id}'")
    assert {m.name for m in models} == {"model", "pyfunc-model"}


def test_the_logged_keras_model_predicts_like_the_trained_one(trained: TrainingRun) -> None:
    model = mlflow.keras.load_model(f"runs:/{trained.run_id}/model")
    rows = trained.experiment.split.rows("if2", "test")[:20]
    from pitot_tf.training.predict import predict_objective

    _, expected = predict_objective(trained.result.model, trained.experiment.dataset, "if2", rows)
    _, loaded = predict_objective(model, trained.experiment.dataset, "if2", rows)
    np.testing.assert_allclose(loaded, expected, rtol=1e-5)


def test_a_bad_preset_marks_the_run_failed(store: Path, data_dir: Path) -> None:
    with pytest.raises(ConfigError, match="unknown preset"):
        run_training("no/such-preset", FAST, RunOptions(
            data_dir=data_dir, experiment="train", run_name="bad preset"))
    runs = mlflow.search_runs(experiment_names=["train"], filter_string=(
        "attributes.run_name = 'bad preset'"), output_format="list")
    assert len(runs) == 1 and runs[0].info.status == "FAILED"
    assert runs[0].data.tags["error"].startswith("unknown preset 'no/such-preset'")
    assert not mlflow.MlflowClient().list_artifacts(runs[0].info.run_id)


def test_bad_data_marks_the_run_failed(store: Path) -> None:
    with pytest.raises(DataError):
        run_training("pitot", FAST, RunOptions(
            data_dir=store / "missing", experiment="train", run_name="no data"))
    runs = mlflow.search_runs(experiment_names=["train"], output_format="list",
                              filter_string="attributes.run_name = 'no data'")
    assert runs[0].info.status == "FAILED" and "data directory not found" in runs[0].data.tags[
        "error"]


def test_a_search_trial_nests_under_its_parent_without_models(store: Path, data_dir: Path) -> None:
    mlflow.set_experiment("train")
    with mlflow.start_run(run_name="study") as parent:
        trial = run_training("interference/4", FAST, RunOptions(
            replicate=1, data_dir=data_dir, nested=True, tags={"trial": "3"}, log_model=False))
    run = mlflow.MlflowClient().get_run(trial.run_id)
    assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert run.data.tags["trial"] == "3" and run.data.tags["family"] == "interference"
    assert run.data.params["model.if_dim"] == "4"
    models = mlflow.MlflowClient().search_logged_models(
        [run.info.experiment_id], filter_string=f"source_run_id = '{trial.run_id}'")
    assert models == []


def test_evaluate_run_logs_a_child_run_with_the_same_numbers(trained: TrainingRun) -> None:
    result = evaluate_run(trained.run_id)
    child = mlflow.MlflowClient().get_run(result.run_id)
    assert child.info.status == "FINISHED"
    assert child.data.tags["mlflow.parentRunId"] == trained.run_id
    assert child.data.tags[names.TAG_EVALUATED_RUN] == trained.run_id
    assert child.data.tags["preset"] == "pitot"
    parent = mlflow.MlflowClient().get_run(trained.run_id).data.metrics
    for key in ("test_mf_coverage_0.05", "test_if2_width_0.05", "test_if2_mape"):
        assert child.data.metrics[key] == pytest.approx(parent[key], rel=1e-6)


def test_a_registered_alias_resolves_to_the_run(trained: TrainingRun) -> None:
    registration = register_run_model(trained.run_id, "pitot-test", "champion")
    assert registration.uri == "models:/pitot-test@champion"
    assert resolve_run_id(registration.uri) == trained.run_id
    assert resolve_run_id(f"runs:/{trained.run_id}/pyfunc-model") == trained.run_id
    with pytest.raises(ConfigError, match="neither a run id nor a model URI"):
        resolve_run_id("champion")


def test_an_unfinished_run_is_never_registered(trained: TrainingRun) -> None:
    client = mlflow.MlflowClient()
    run = client.create_run(client.get_run(trained.run_id).info.experiment_id)
    client.set_terminated(run.info.run_id, "KILLED")
    with pytest.raises(ConfigError, match="is KILLED: only a FINISHED run"):
        register_run_model(run.info.run_id, "pitot-test")


@pytest.mark.end_to_end
def test_a_tracking_server_on_loopback_receives_a_run(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    port = free_port()
    backend = empty_store(tmp_path, tmp_path_factory.getbasetemp())
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port",
               str(port), "--backend-store-uri", backend,
               "--artifacts-destination", str(tmp_path / "server-artifacts"), "--workers", "1"]
    server = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/health", server)
        uri = f"http://127.0.0.1:{port}"
        monkeypatch.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", uri)
        monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
        run = run_training("pitot", FAST, RunOptions(data_dir=data_dir, experiment="served",
                                                      log_model=False))
        stored = mlflow.MlflowClient(tracking_uri=uri).get_run(run.run_id)
        assert stored.info.status == "FINISHED"
        assert "test_if2_width_0.05" in stored.data.metrics
        assert (tmp_path / "server-artifacts").is_dir()
        assert "conformal.csv" in {a.path for a in
                                   mlflow.MlflowClient(uri).list_artifacts(run.run_id)}
    finally:
        server.terminate()
        server.wait(timeout=30)
