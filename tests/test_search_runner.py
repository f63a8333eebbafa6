"""Tiny studies on synthetic data: trials, pruning, failures, MLflow runs, Pareto fronts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import optuna
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import Run
from optuna.trial import TrialState
from search_support import SHIPPED_STUDIES, TINY_OVERRIDES, make_data, tracking_at, write_study

from pitot_tf.search.export import trial_config
from pitot_tf.search.runner import ensure_study, run_search
from pitot_tf.search.storage import open_storage
from pitot_tf.search.studies import load_study

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data(tmp_path_factory.mktemp("search-data"))


@pytest.fixture()
def tracking(tmp_path: Path) -> Iterator[MlflowClient]:
    with tracking_at(tmp_path) as uri:
        yield MlflowClient(uri)


def load(path: Path) -> optuna.Study:
    return optuna.load_study(study_name=path.stem,
                             storage=open_storage(str(path.with_suffix(".journal"))))


def runs_by_trial(client: MlflowClient, parent_id: str) -> dict[int, Run]:
    experiment = client.get_run(parent_id).info.experiment_id
    children = client.search_runs([experiment], f"tags.mlflow.parentRunId = '{parent_id}'")
    return {int(r.data.tags["optuna.trial_number"]): r for r in children}


def test_trials_complete_with_parent_and_child_runs(
    tmp_path: Path, data_dir: Path, tracking: MlflowClient
) -> None:
    path = write_study(tmp_path)
    result = run_search(path, 3, data_dir=data_dir)
    study = load(path)
    assert (result.finished, result.failed) == (3, 0)
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    assert trials[0].params == {"training.learning_rate": 1e-3, "model.mf_dim": 32}
    assert trials[0].user_attrs["origin"] == "preset pitot"
    children = runs_by_trial(tracking, str(result.parent_run_id))
    assert sorted(children) == [0, 1, 2]
    for trial in trials:
        run = children[trial.number]
        assert trial.user_attrs["mlflow_run_id"] == run.info.run_id
        assert run.info.status == "FINISHED" and run.data.tags["optuna.state"] == "COMPLETE"
        assert run.info.run_name == f"tiny trial {trial.number}"
        assert run.data.params["model.mf_dim"] == str(trial.params["model.mf_dim"])
        assert run.data.params["training.steps"] == "60"
        assert run.data.metrics["search.val_loss"] == pytest.approx(trial.value)
        assert trial.user_attrs["val_loss"] == pytest.approx(trial.value)
        assert trial_config(trial).model.mf_dim == trial.params["model.mf_dim"]
        history = tracking.get_metric_history(run.info.run_id, "val_loss")
        assert [m.step for m in history] == [20, 40, 60]
        assert {m.step: m.value for m in history} == pytest.approx(trial.intermediate_values)
        assert "test_mf_mape" not in run.data.metrics, "a search never looks at test rows"
    parent = tracking.get_run(str(result.parent_run_id))
    best = study.best_trial
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["best_run_id"] == best.user_attrs["mlflow_run_id"]
    assert parent.data.tags["best_trial_number"] == str(best.number)
    assert parent.data.params["best.model.mf_dim"] == str(best.params["model.mf_dim"])
    assert parent.data.metrics["val_loss"] == pytest.approx(best.value)
    experiment = tracking.get_experiment(parent.info.experiment_id)
    assert experiment.name == "pitot"
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_the_study_names_its_metrics_and_holds_its_definition(
    tmp_path: Path, data_dir: Path, tracking: MlflowClient
) -> None:
    path = write_study(tmp_path, objective={"metrics": ["val_mape", "val_width"], "alpha": 0.1})
    run_search(path, 1, data_dir=data_dir, track=False)
    study = load(path)
    assert study.metric_names == ["val_mape", "val_width_0.1"]
    attrs = study.user_attrs
    assert (attrs["preset"], attrs["level"], attrs["replicates"]) == ("pitot", "0.5", "0")
    assert len(attrs["data_fingerprint"]) == 16 and attrs["code_version"]
    assert attrs["objectives"] == "val_mape, val_width_0.1 (minimize)"
    (trial,) = study.get_trials()
    assert all(not isinstance(v, (dict, list)) for v in trial.user_attrs.values()), \
        "every user attribute is one readable value"


def test_a_trial_run_has_the_params_and_tags_of_a_training_run(
    tmp_path: Path, data_dir: Path, tracking: MlflowClient
) -> None:
    from pitot_tf.tracking.training import RunOptions, run_training

    path = write_study(tmp_path)
    result = run_search(path, 1, data_dir=data_dir)
    trial_run = runs_by_trial(tracking, str(result.parent_run_id))[0]
    trained = run_training("pitot", {**TINY_OVERRIDES, "training.progress": False},
                           RunOptions(data_dir=data_dir, log_model=False))
    train_run = tracking.get_run(trained.run_id)
    assert set(trial_run.data.params) == set(train_run.data.params)
    for key in ("preset", "level", "replicate", "data_dir", "data.fingerprint",
                "pitot.code_version", "pitot.kind"):
        both = (trial_run.data.params | trial_run.data.tags, train_run.data.params
                | train_run.data.tags)
        assert both[0][key] == both[1][key], key
    ours = {k for k in train_run.data.tags if not k.startswith(("mlflow.", "pitot.notes"))}
    assert ours <= set(trial_run.data.tags)
    assert trial_run.info.experiment_id == train_run.info.experiment_id
    artifacts = {a.path for a in tracking.list_artifacts(trial_run.info.run_id)}
    assert {"config.json", "data_fingerprint.json", "history.csv", "split"} <= artifacts


def test_clearly_worse_trial_is_pruned(
    tmp_path: Path, data_dir: Path, tracking: MlflowClient
) -> None:
    path = write_study(
        tmp_path, pruner={"kind": "median", "n_startup_trials": 2, "n_warmup_steps": 0},
        space={"training.learning_rate": {"type": "float", "low": 1e-4, "high": 2.0,
                                          "log": True}})
    study = ensure_study(load_study(path), str(path.with_suffix(".journal")))
    study.enqueue_trial({"training.learning_rate": 3e-3})
    study.enqueue_trial({"training.learning_rate": 0.1})  # absurd: loss ~1e8, finite
    result = run_search(path, 3, data_dir=data_dir)
    trials = load(path).get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.COMPLETE,
                                         TrialState.PRUNED]
    assert list(trials[2].intermediate_values) == [20], "pruned at its first report"
    run = runs_by_trial(tracking, str(result.parent_run_id))[2]
    assert run.data.tags["optuna.state"] == "PRUNED" and run.info.status == "KILLED"
    assert "val_loss" in run.data.tags["stopped"]


def test_diverging_trial_fails_and_the_study_goes_on(
    tmp_path: Path, data_dir: Path, tracking: MlflowClient
) -> None:
    path = write_study(tmp_path, space={
        "training.learning_rate": {"type": "float", "low": 1e-4, "high": 100.0, "log": True}})
    study = ensure_study(load_study(path), str(path.with_suffix(".journal")))
    study.enqueue_trial({"training.learning_rate": 50.0})  # NaN loss within 20 steps
    result = run_search(path, 2, data_dir=data_dir)
    trials = load(path).get_trials()
    states = [t.state for t in trials]
    assert states[:2] == [TrialState.COMPLETE, TrialState.FAIL]
    assert states.count(TrialState.COMPLETE) == 2 and result.finished == 2
    assert "training loss became nan" in trials[1].user_attrs["fail_reason"]
    run = runs_by_trial(tracking, str(result.parent_run_id))[1]
    assert run.info.status == "FAILED" and run.data.tags["optuna.state"] == "FAIL"
    assert "nan" in run.data.tags["error"]


def test_two_objectives_leave_a_pareto_front(
    tmp_path: Path, data_dir: Path, tracking: MlflowClient
) -> None:
    path = write_study(tmp_path, objective={"metrics": ["val_mape", "val_width"], "alpha": 0.1})
    result = run_search(path, 3, data_dir=data_dir)
    study = load(path)
    assert result.finished == 3 and result.pareto_trials
    assert result.pareto_trials == sorted(t.number for t in study.best_trials)
    for trial in study.get_trials():
        metrics = trial.user_attrs
        assert trial.values == pytest.approx([metrics["val_mape"], metrics["val_width_0.1"]])
        assert 0 < metrics["val_coverage_0.1"] <= 1 and not trial.intermediate_values
    artifact = tracking.download_artifacts(str(result.parent_run_id), "pareto_front.csv",
                                           str(tmp_path))
    front = pd.read_csv(artifact)
    assert front["trial"].tolist() == result.pareto_trials
    assert set(front.columns) >= {"val_mape", "val_width_0.1", "mlflow_run_id"}


def test_replicates_are_averaged_and_reported_on_one_axis(
    tmp_path: Path, data_dir: Path, tracking: MlflowClient
) -> None:
    path = write_study(tmp_path, data={"level": 0.5, "replicates": [0, 1]})
    run_search(path, 1, data_dir=data_dir, track=False)
    (trial,) = load(path).get_trials()
    assert list(trial.intermediate_values) == [20, 40, 60, 80, 100, 120]
    assert "mlflow_run_id" not in trial.user_attrs


def test_rerun_extends_the_study_without_a_second_default(
    tmp_path: Path, data_dir: Path, tracking: MlflowClient
) -> None:
    path = write_study(tmp_path)
    run_search(path, 1, data_dir=data_dir, track=False)
    again = run_search(path, 1, data_dir=data_dir, track=False)
    assert again.finished == 1, "the target is the study's total"
    more = run_search(path, 2, data_dir=data_dir, track=False)
    trials = load(path).get_trials()
    assert more.finished == 2 and len(trials) == 2
    assert sum("origin" in t.user_attrs for t in trials) == 1


@pytest.mark.parametrize("name", ["pitot", "pitot-bounds", "baseline-factorization",
                                  "baseline-monolith", "baseline-attention"])
def test_shipped_study_runs_its_default_trial(name: str, tmp_path: Path, data_dir: Path) -> None:
    spec_file = tmp_path / f"{name}.yaml"
    spec_file.write_text((SHIPPED_STUDIES / f"{name}.yaml").read_text())
    overrides = {**TINY_OVERRIDES, "training.steps": 40}
    result = run_search(spec_file, 1, overrides=overrides, data_dir=data_dir, track=False,
                        max_failures=1)
    assert result.finished == 1
