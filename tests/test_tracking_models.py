"""What a training run logs about its models, read back through MlflowClient: the pyfunc's
numpy tables and TensorFlow-free requirements (and that it loads without TensorFlow), input
examples on both models, the evaluation metrics on the LoggedModels, the training data as a
dataset input, and the tags of a registered version."""

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
from mlflow.models import Model
from mlflow_helpers import experiment, private_tracking

from pitot_tf.data.synth import synthesize_dataset
from pitot_tf.serving.pyfunc import PitotRuntimeModel
from pitot_tf.tracking import names
from pitot_tf.tracking.datasets import PACKAGED_SOURCE, data_source
from pitot_tf.tracking.models import pyfunc_state
from pitot_tf.tracking.registry import register_run_model
from pitot_tf.tracking.training import RunOptions, TrainingRun, run_training

FAST = {"training.steps": 60, "training.val_every": 30, "training.batch": 64,
        "training.progress": False, "training.jit_compile": False,
        "model.layers": [16], "model.mf_dim": 8}
#: Loads the pyfunc in a fresh interpreter, answers two rows and says which modules it saw.
LOAD_AND_PREDICT = """
import json, sys
import mlflow.pyfunc, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
answer = model.predict(pd.DataFrame(json.loads(sys.argv[2])))
print(json.dumps({"runtime": answer["predicted_runtime_s"].tolist(),
                  "loaded": sorted(m for m in ("tensorflow", "keras") if m in sys.modules)}))
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("models")
    with private_tracking(root, tmp_path_factory.getbasetemp()):
        experiment("models", root)
        yield root


@pytest.fixture(scope="module")
def data_dir(store: Path) -> Path:
    return synthesize_dataset(store / "data", platforms=16, workloads=24, density=0.7)


@pytest.fixture(scope="module")
def trained(store: Path, data_dir: Path) -> TrainingRun:
    return run_training("pitot", FAST, RunOptions(data_dir=data_dir, experiment="models"))


@pytest.fixture(scope="module")
def pyfunc_dir(trained: TrainingRun, store: Path) -> Path:
    return Path(mlflow.artifacts.download_artifacts(
        f"runs:/{trained.run_id}/{names.PYFUNC_NAME}", dst_path=str(store / "pyfunc")))


def logged_models(run_id: str) -> dict[str, mlflow.entities.LoggedModel]:
    client = mlflow.MlflowClient()
    experiment_id = client.get_run(run_id).info.experiment_id
    found = client.search_logged_models([experiment_id],
                                        filter_string=f"source_run_id = '{run_id}'")
    return {model.name: model for model in found}


def test_the_pyfunc_carries_numpy_tables_and_requires_no_tensorflow(pyfunc_dir: Path) -> None:
    requirements = (pyfunc_dir / "requirements.txt").read_text().split()
    assert {line.split("==")[0] for line in requirements} == {
        "mlflow-skinny", "numpy", "pandas", "orjson"}
    assert all("==" in line for line in requirements)
    conda = (pyfunc_dir / "conda.yaml").read_text()
    assert "tensorflow" not in conda and "keras" not in conda
    stored = {p.name for p in (pyfunc_dir / "artifacts").iterdir()}
    assert stored == {"tables.npz", "tables.json", "calibration.json"}


def test_the_pyfunc_loads_and_predicts_without_tensorflow(
    trained: TrainingRun, pyfunc_dir: Path
) -> None:
    """In a fresh interpreter the logged model answers as the Keras model served in memory
    does, and neither TensorFlow nor Keras was imported."""
    rows = pd.read_json(pyfunc_dir / "input_example.json", orient="split")
    done = subprocess.run([sys.executable, "-c", LOAD_AND_PREDICT, str(pyfunc_dir),
                           rows.to_json(orient="records")],
                          capture_output=True, text=True, timeout=300, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["loaded"] == []
    in_memory = PitotRuntimeModel()
    in_memory.load(trained.result.model,
                   pyfunc_state(trained.experiment.dataset, trained.evaluation))
    expected = in_memory.predict(None, rows)["predicted_runtime_s"].to_numpy()
    np.testing.assert_allclose(found["runtime"], expected, rtol=1e-5)


def test_measured_runs_reach_the_model_through_mlflows_loader(pyfunc_dir: Path) -> None:
    """MLflow's schema check keeps the ``measured`` column (the signature names it): the
    runs are folded in and the answer says so; a bad entry is refused naming the field."""
    model = mlflow.pyfunc.load_model(str(pyfunc_dir))
    rows = pd.read_json(pyfunc_dir / "input_example.json", orient="split").iloc[:1]
    platform = str(rows["platform"].iloc[0])
    runs = [{"platform": platform, "runtime_s": 0.5}]
    answer = model.predict(rows.assign(measured=[json.dumps(runs)]))
    assert "measured run(s) folded in" in answer["note"].iloc[0]
    with pytest.raises(Exception, match="row 0: measured: entry 0: runtime_s"):
        model.predict(rows.assign(measured=[json.dumps([{"platform": platform,
                                                         "runtime_s": -1}])]))


def test_both_models_have_an_input_example_and_a_signature(
    trained: TrainingRun, pyfunc_dir: Path
) -> None:
    dataset = trained.experiment.dataset
    rows = Model.load(str(pyfunc_dir)).load_input_example(str(pyfunc_dir))
    assert len(rows) == 2 and set(rows["workload"]) <= set(map(str, dataset.workloads.names))
    assert set(rows["platform"]) <= set(map(str, dataset.platforms.names))
    assert rows["co_runners"].tolist()[1] == str(dataset.workloads.names[0])
    keras_dir = Path(mlflow.artifacts.download_artifacts(
        f"runs:/{trained.run_id}/{names.MODEL_NAME}"))
    keras_model = Model.load(str(keras_dir))
    example = keras_model.load_input_example(str(keras_dir))
    assert set(example) == {"platform", "workload", "interferers"}
    assert example["interferers"].tolist()[1][0] == 0
    for model in (keras_model, Model.load(str(pyfunc_dir))):
        assert model.signature is not None


def test_the_evaluation_metrics_are_linked_to_both_logged_models(trained: TrainingRun) -> None:
    run_metrics = mlflow.MlflowClient().get_run(trained.run_id).data.metrics
    models = logged_models(trained.run_id)
    assert set(models) == {names.MODEL_NAME, names.PYFUNC_NAME}
    for model in models.values():
        linked = {metric.key: metric.value for metric in model.metrics or []}
        assert linked["test_mf_mape"] == pytest.approx(run_metrics["test_mf_mape"])
        assert set(trained.evaluation.metrics()) <= set(linked)


def test_the_training_data_is_the_runs_dataset_input(trained: TrainingRun, data_dir: Path) -> None:
    run = mlflow.MlflowClient().get_run(trained.run_id)
    (data_input,) = run.inputs.dataset_inputs
    assert data_input.dataset.digest == run.data.params[names.PARAM_DATA_FINGERPRINT]
    assert data_input.dataset.name == data_dir.name
    assert json.loads(data_input.dataset.source) == {"uri": str(data_dir.resolve())}
    assert {tag.key: tag.value for tag in data_input.tags}["mlflow.data.context"] == "training"


def test_the_packaged_data_is_named_as_such() -> None:
    from pitot_tf.data.packaged import PUBLISHED_DIR

    assert data_source(str(PUBLISHED_DIR)).to_dict() == {"tags": {"data": PACKAGED_SOURCE}}


def test_a_registered_version_is_tagged_with_what_it_was_trained_on(
    trained: TrainingRun
) -> None:
    registration = register_run_model(trained.run_id, "pitot-tags")
    client = mlflow.MlflowClient()
    tags = client.get_model_version("pitot-tags", registration.version).tags
    run = client.get_run(trained.run_id)
    assert {k: tags[k] for k in ("preset", "level", "replicate")} == {
        "preset": "pitot", "level": "0.5", "replicate": "0"}
    assert tags["data_digest"] == run.data.params[names.PARAM_DATA_FINGERPRINT]
    assert tags["run_id"] == trained.run_id
    assert float(tags["test_mf_mape"]) == pytest.approx(run.data.metrics["test_mf_mape"],
                                                        rel=1e-5)
    assert "test_if2_mape" in tags
