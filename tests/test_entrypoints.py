"""``mlflow run . -e <every entry point> --env-manager local`` against a private store, with
the parameters as docs/mlflow.md spells them (each is the ``pitot-tf`` option of that name).

The pipeline runs every step as a child ``mlflow run``; its second run must reuse them all.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow.entities import Run
from mlflow_helpers import experiment, private_tracking

from pitot_tf.tracking import names

REPO = Path(__file__).resolve().parents[1]
OVERRIDES = ("training.val_every=50 training.progress=false training.batch=64 "
             "model.layers=[16] model.mf_dim=8 training.jit_compile=false")
STEPS = ("data", "split", "train", "evaluate")
pytestmark = pytest.mark.slow


def mlflow_run(entry: str, params: dict[str, str], cwd: Path,
               experiment: str | None = "entry") -> subprocess.CompletedProcess[str]:
    """``mlflow run <repo> -e entry --env-manager local`` with ``params``, in experiment
    ``entry`` of the private store (inherited through ``MLFLOW_TRACKING_URI``), or without
    ``--experiment-name`` when ``experiment`` is None."""
    command = [sys.executable, "-m", "mlflow", "run", str(REPO), "-e", entry,
               "--env-manager", "local"]
    if experiment:
        command += ["--experiment-name", experiment]
    for key, value in params.items():
        command += ["-P", f"{key}={value}"]
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")}
    env["PATH"] = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("entry")
    with private_tracking(root, tmp_path_factory.getbasetemp()):
        experiment("entry", root)
        yield root


def pipeline_params(root: Path) -> dict[str, str]:
    return {"source": "synthetic", "data_out": str(root / "data"),
            "splits_dir": str(root / "splits"),
            "steps": "100", "set": OVERRIDES}


@pytest.fixture(scope="module")
def first(workspace: Path) -> Run:
    done = mlflow_run("main", pipeline_params(workspace), workspace)
    assert done.returncode == 0, done.stderr[-3000:]
    return latest_run("main")


def latest_run(entry: str) -> Run:
    runs = mlflow.search_runs(
        experiment_names=["entry"], output_format="list", order_by=["attributes.start_time DESC"],
        filter_string=f"tags.`{names.TAG_ENTRY_POINT}` = '{entry}'")
    return runs[0]


def test_main_runs_every_step_as_a_finished_child(first: Run, workspace: Path) -> None:
    client = mlflow.MlflowClient()
    assert first.info.status == "FINISHED"
    assert first.data.params["env_manager"] == "local"
    for step in STEPS:
        assert first.data.tags[f"pitot.reused.{step}"] == "false"
        child = client.get_run(first.data.tags[f"pitot.step.{step}"])
        assert child.info.status == "FINISHED", step
        assert child.data.tags["mlflow.parentRunId"] == first.info.run_id
        assert child.data.tags[names.TAG_ENTRY_POINT] == step
        assert "mlflow.project.env" not in child.data.tags  # local, not the virtualenv default
    data = client.get_run(first.data.tags["pitot.step.data"])
    assert data.data.params[names.PARAM_DATA_DIR] == str((workspace / "data").resolve())
    assert (workspace / "splits" / "0.5" / "0.npz").is_file()


def test_the_train_step_logs_params_metrics_artifacts_and_tags(first: Run, workspace: Path) -> None:
    client = mlflow.MlflowClient()
    train = client.get_run(first.data.tags["pitot.step.train"])
    assert train.info.run_name == "pitot L0.5 r0"
    assert train.data.params["set"] == shlex.quote(OVERRIDES)  # as mlflow run logs it
    params = train.data.params
    assert params["model.layers"] == "[16]" and params["training.steps"] == "100"
    assert train.data.params[names.PARAM_SPLIT_FILE] == str(workspace / "splits" / "0.5" / "0.npz")
    assert {"preset", "family", "level", "replicate"} <= set(train.data.tags)
    for key in ("test_mf_mape", "test_if2_coverage_0.05", "test_if2_width_0.05",
                "test_mf_width_0.01", "val_if2_width_0.05", "steps_per_s"):
        assert key in train.data.metrics, key
    artifacts = {a.path for a in client.list_artifacts(train.info.run_id)}
    assert {"conformal.csv", "history.csv", "config.json", "plots", "split"} <= artifacts
    models = client.search_logged_models(
        [train.info.experiment_id], filter_string=f"source_run_id = '{train.info.run_id}'")
    assert {m.name for m in models} == {"model", "pyfunc-model"}
    evaluate = client.get_run(first.data.tags["pitot.step.evaluate"])
    assert evaluate.data.tags[names.TAG_EVALUATED_RUN] == train.info.run_id
    assert evaluate.data.metrics["test_if2_width_0.05"] == pytest.approx(
        train.data.metrics["test_if2_width_0.05"], rel=1e-5)


def test_a_second_main_reuses_every_step(first: Run, workspace: Path) -> None:
    done = mlflow_run("main", pipeline_params(workspace), workspace)
    assert done.returncode == 0, done.stderr[-3000:]
    second = latest_run("main")
    assert second.info.run_id != first.info.run_id and second.info.status == "FINISHED"
    for step in STEPS:
        assert second.data.tags[f"pitot.reused.{step}"] == "true"
        assert second.data.tags[f"pitot.step.{step}"] == first.data.tags[f"pitot.step.{step}"]
    trains = mlflow.search_runs(experiment_names=["entry"], output_format="list",
                                filter_string=f"tags.`{names.TAG_ENTRY_POINT}` = 'train'")
    assert len(trains) == 1


def test_evaluate_entry_point_logs_a_child_of_the_train_run(first: Run, workspace: Path) -> None:
    train_id = first.data.tags["pitot.step.train"]
    done = mlflow_run("evaluate", {"run_id": train_id, "groupings": "runtime,uarch"}, workspace)
    assert done.returncode == 0, done.stderr[-3000:]
    run = latest_run("evaluate")
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.parentRunId"] == train_id
    assert "test_mf_coverage_0.1" in run.data.metrics


def test_a_bad_train_parameter_fails_the_run_with_the_error(workspace: Path) -> None:
    done = mlflow_run("train", {"preset": "no-such", "data_dir": str(workspace)}, workspace)
    assert done.returncode != 0
    assert "error: unknown preset 'no-such'" in done.stderr
    run = latest_run("train")
    assert run.info.status == "FAILED"
    assert run.data.tags["error"].startswith("unknown preset 'no-such'")


def test_a_missing_data_folder_is_one_error_line_naming_it(workspace: Path) -> None:
    missing = workspace / "no-such-folder"
    done = mlflow_run("main", {**pipeline_params(workspace), "source": str(missing)}, workspace)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr[-3000:]  # the step's error, printed by the pipeline
    assert errors[0].startswith("error: step data failed: ")
    assert "data directory not found" in errors[0] and str(missing) in errors[0]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert latest_run("main").info.status == "FAILED"


def test_without_an_experiment_name_the_run_continues_in_pitot(workspace: Path) -> None:
    done = mlflow_run("data", {"source": "synthetic", "out": str(workspace / "data-pitot"),
                               "platforms": "12", "workloads": "16"}, workspace, experiment=None)
    assert done.returncode == 0, done.stderr[-3000:]
    client = mlflow.MlflowClient()
    pitot = client.get_experiment_by_name("pitot")
    assert pitot is not None
    assert pitot.tags["mlflow.experimentKind"] == "custom_model_development"
    (stub,) = client.search_runs(["0"])
    moved = client.get_run(stub.data.tags["pitot.moved_to"])
    assert moved.info.experiment_id == pitot.experiment_id
    assert moved.info.status == "FINISHED" and moved.data.params["source"] == "synthetic"
    assert "MLflow: run" not in done.stdout or moved.info.run_id in done.stdout


def test_split_entry_point_writes_and_records_the_files(first: Run, workspace: Path) -> None:
    out = workspace / "splits-entry"
    done = mlflow_run("split", {"data_dir": str(workspace / "data"), "out": str(out),
                                "levels": "0.3,0.6", "replicates": "0-1", "seed": "7"},
                      workspace)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.npz")) == [
        "0.3/0.npz", "0.3/1.npz", "0.6/0.npz", "0.6/1.npz"]
    run = latest_run("split")
    assert run.info.status == "FINISHED" and run.data.params["levels"] == "0.3,0.6"
    manifest = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/splits.json")
    assert sorted(manifest) == ["0.3/0.npz", "0.3/1.npz", "0.6/0.npz", "0.6/1.npz"]


def test_preprocess_entry_point_records_the_new_dataset(first: Run, workspace: Path) -> None:
    from pitot_tf.data.export import export_raw

    raw = export_raw(workspace / "data", workspace / "raw")
    done = mlflow_run("preprocess", {"runs": str(raw["runs"]), "out": str(workspace / "mine"),
                                     "workloads": str(raw["workloads"]),
                                     "platforms": str(raw["platforms"])}, workspace)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (workspace / "mine" / "data.npz").is_file()
    run = latest_run("preprocess")
    assert run.info.status == "FINISHED" and run.data.metrics["runs_kept"] > 0
    assert run.data.params["append_to"] == "default"  # the documented "none"
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert {"preprocess_summary.json", "encoders.json"} <= artifacts


def test_search_entry_point_runs_trials_as_nested_runs(first: Run, workspace: Path) -> None:
    from search_support import write_study

    study = write_study(workspace / "studies")
    done = mlflow_run("search", {"study": str(study), "n_trials": "2",
                                 "storage": str(workspace / "tiny.journal"),
                                 "data_dir": str(workspace / "data")}, workspace)
    assert done.returncode == 0, done.stderr[-3000:]
    parent = latest_run("search")
    assert parent.info.status == "FINISHED"
    trials = mlflow.search_runs(
        experiment_names=["entry"], output_format="list",
        filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert len(trials) >= 2


def test_sweep_entry_point_trains_each_cell_once(first: Run, workspace: Path) -> None:
    params = {"presets": "pitot", "levels": "0.5", "replicates": "0",
              "set": f"training.steps=60 {OVERRIDES}", "log_model": "false",
              "data_dir": str(workspace / "data"), "experiment": "entry"}
    done = mlflow_run("sweep", params, workspace)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1/1 cells done" in done.stdout
    assert latest_run("sweep").info.status == "FINISHED"
    again = mlflow_run("sweep", params, workspace)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "this run trained 0" in again.stdout
