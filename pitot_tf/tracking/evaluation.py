"""Re-evaluate a finished training run in a run of its own (the ``evaluate`` entry point).

The new run is a child of the training run (or of the pipeline run that launched it) and
logs the same conformal table, plots and ``test_*``/``val_*`` metrics as training does,
computed by :func:`pitot_tf.conformal.evaluate.evaluate` from the run's logged model, config
and split file (or another data directory or split folder, if given).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import mlflow

from pitot_tf.config import Config
from pitot_tf.conformal.evaluate import Evaluation, evaluate
from pitot_tf.data.dataset import Dataset, load_dataset
from pitot_tf.data.splits import Split, load_split, split_path
from pitot_tf.errors import ConfigError
from pitot_tf.tracking import names
from pitot_tf.tracking.fingerprint import data_fingerprint
from pitot_tf.tracking.run_log import log_evaluation, log_params, run_param, staged_artifacts
from pitot_tf.tracking.runs import tracked_run
from pitot_tf.training.warm_start import load_keras_model

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_COPIED_TAGS = (names.TAG_PRESET, names.TAG_FAMILY, names.TAG_LEVEL, names.TAG_REPLICATE)


@dataclass
class EvaluationRun:
    """The evaluation run, the run it evaluated, and the numbers."""

    run_id: str
    evaluated_run_id: str
    evaluation: Evaluation


@dataclass
class RunInputs:
    """What a training run used, reloaded: config, data, split and the trained model."""

    config: Config
    dataset: Dataset
    split: Split
    model: keras.Model
    notes: list[str]


def resolve_run_id(ref: str) -> str:
    """The training run behind ``ref``: a run id, ``runs:/<id>/...``, ``models:/<name>@<alias>``,
    ``models:/<name>/<version>`` or ``models:/<logged model id>``."""
    ref = ref.strip()
    if _RUN_ID.match(ref):
        return ref
    if ref.startswith("runs:/"):
        return ref[len("runs:/"):].strip("/").split("/")[0]
    if ref.startswith("models:/"):
        return _model_run_id(ref[len("models:/"):].strip("/"))
    raise ConfigError(f"'{ref}' is neither a run id nor a model URI (runs:/<id>/..., models:/...)")


def _model_run_id(rest: str) -> str:
    client = mlflow.MlflowClient()
    if "@" in rest:
        name, alias = rest.split("@", 1)
        run_id = client.get_model_version_by_alias(name, alias).run_id
    elif "/" in rest:
        name, version = rest.split("/", 1)
        run_id = client.get_model_version(name, version).run_id
    else:
        run_id = mlflow.get_logged_model(rest).source_run_id
    if not run_id:
        raise ConfigError(f"model 'models:/{rest}' was not logged from a run")
    return str(run_id)


def experiment_of(ref: str) -> str:
    """The name of the experiment holding the training run behind ``ref``."""
    client = mlflow.MlflowClient()
    run = client.get_run(resolve_run_id(ref))
    return str(client.get_experiment(run.info.experiment_id).name)


def load_run_inputs(
    run_id: str, data_dir: str | os.PathLike[str] | None = None,
    splits_dir: str | os.PathLike[str] | None = None,
) -> RunInputs:
    """Reload a training run's config, data (its data dir unless ``data_dir``), split (its
    logged split file unless ``splits_dir``) and Keras model."""
    run = mlflow.MlflowClient().get_run(run_id)
    params = run.data.params
    if names.PARAM_LEVEL not in params or names.PARAM_DATA_FINGERPRINT not in params:
        raise ConfigError(f"run {run_id} is not a finished pitot training run (no level)")
    level, replicate = float(params[names.PARAM_LEVEL]), int(params[names.PARAM_REPLICATE])
    config_path = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path=names.CONFIG_FILE)
    config = Config.from_dict(json.loads(Path(config_path).read_text()))
    dataset = load_dataset(data_dir or run_param(params, run.data.tags, names.PARAM_DATA_DIR),
                           config.objectives.include or None)
    notes = []
    if data_fingerprint(dataset)["fingerprint"] != params.get(names.PARAM_DATA_FINGERPRINT):
        notes.append(f"data in {dataset.source} differs from the data the run was trained on")
    split = load_split(_split_file(run_id, level, replicate, splits_dir), dataset)
    model = load_keras_model(f"runs:/{run_id}/{names.MODEL_NAME}")
    return RunInputs(config, dataset, split, model, notes)


def _split_file(
    run_id: str, level: float, replicate: int, splits_dir: str | os.PathLike[str] | None
) -> Path:
    if splits_dir:
        return split_path(splits_dir, level, replicate)
    relative = split_path(names.SPLIT_DIR, level, replicate).as_posix()
    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=relative))


def evaluate_run(
    ref: str,
    data_dir: str | os.PathLike[str] | None = None,
    splits_dir: str | os.PathLike[str] | None = None,
    groupings: Sequence[str] | None = None,
    experiment: str | None = None,
) -> EvaluationRun:
    """Evaluate the training run behind ``ref`` (see :func:`resolve_run_id`) in a child run.

    Logs ``test_*``/``val_*`` metrics, the conformal tables and the plots. Any error marks
    the evaluation run FAILED and is re-raised.
    """
    source_id = resolve_run_id(ref)
    source = mlflow.MlflowClient().get_run(source_id)
    tags = {k: source.data.tags[k] for k in _COPIED_TAGS if k in source.data.tags}
    tags[names.TAG_EVALUATED_RUN] = source_id
    if not _has_parent():
        tags[names.TAG_PARENT] = source_id
    name = f"evaluate {source.info.run_name or source_id[:8]}"
    experiment_id = None if experiment else source.info.experiment_id
    nested = mlflow.active_run() is not None
    with tracked_run(names.KIND_EVALUATE, name, experiment, tags, nested=nested,
                     experiment_id=experiment_id) as run:
        inputs = load_run_inputs(source_id, data_dir, splits_dir)
        with staged_artifacts() as stage:
            evaluation = evaluate(inputs.model, inputs.dataset, inputs.split, groupings=groupings)
            log_params({names.PARAM_DATA_DIR: str(Path(str(inputs.dataset.source)).resolve()),
                        names.PARAM_EVALUATED_RUN: source_id})
            log_evaluation(evaluation, stage, source.info.run_name or source_id[:8])
        notes = inputs.notes + evaluation.notes
        if notes:
            mlflow.set_tag(names.TAG_NOTES, "; ".join(notes)[:5000])
    return EvaluationRun(run.info.run_id, source_id, evaluation)


def _has_parent() -> bool:
    """Whether the run about to start already has a parent (resumed from ``mlflow run``
    inside a pipeline, or nested in an active run)."""
    if mlflow.active_run() is not None:
        return True
    resumed = os.environ.get("MLFLOW_RUN_ID")
    if not resumed:
        return False
    return names.TAG_PARENT in mlflow.MlflowClient().get_run(resumed).data.tags
