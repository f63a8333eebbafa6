"""One tracked training run: prepare, train, evaluate the conformal bounds, log everything.

:func:`run_training` is what ``pitot-tf train`` and sweeps call; a search trial composes
:func:`~pitot_tf.tracking.runs.tracked_run` with :func:`train_logged` itself. Everything happens
inside the run, so a bad preset, override, level or data directory marks the run FAILED (with
an ``error`` tag) just like a crash in training.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow

from pitot_tf.conformal.evaluate import Evaluation, evaluate
from pitot_tf.data.splits import save_split, split_path
from pitot_tf.presets import family
from pitot_tf.tracking import names
from pitot_tf.tracking.datasets import log_training_data
from pitot_tf.tracking.fingerprint import data_fingerprint, shape_text
from pitot_tf.tracking.run_log import (
    log_config,
    log_evaluation,
    log_params,
    log_training,
    staged_artifacts,
    validation_logger,
)
from pitot_tf.tracking.runs import run_label, tracked_run
from pitot_tf.training.experiment import DEFAULT_SPLIT_SEED, Experiment, prepare
from pitot_tf.training.trainer import TrainResult, ValidationCallback, train


@dataclass(frozen=True)
class RunOptions:
    """The data a training run uses and where its MLflow run goes.

    ``splits_dir=None`` makes the split with the default seed. The run goes to ``experiment``
    (default ``pitot``), under ``parent_run_id`` or (``nested``) the active run. ``on_start``
    is told the run id first; raising one of ``stop_exceptions`` ends the run KILLED.
    """

    level: float = 0.5
    replicate: int = 0
    data_dir: str | os.PathLike[str] | None = None
    splits_dir: str | os.PathLike[str] | None = None
    experiment: str | None = None
    run_name: str | None = None
    parent_run_id: str | None = None
    nested: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    log_model: bool = True
    on_start: Callable[[str], None] | None = None
    stop_exceptions: tuple[type[BaseException], ...] = ()


@dataclass
class TrainingRun:
    """What a tracked training run produced (the model is ``result.model``)."""

    run_id: str
    experiment: Experiment
    result: TrainResult
    evaluation: Evaluation


def run_training(preset: str = "pitot", overrides: Mapping[str, Any] | None = None,
                 options: RunOptions = RunOptions()) -> TrainingRun:
    """Train ``preset`` with ``overrides`` in a new MLflow run: the config, data and code
    fingerprints, per-validation losses, the conformal table and plots (test split,
    calibrated on validation) linked to the models (unless ``log_model`` is off). Any error is
    re-raised after the run is marked FAILED."""
    level, replicate = options.level, options.replicate
    with tracked_run(names.KIND_TRAIN, options.run_name or run_label(preset, level, replicate),
                     options.experiment, {**run_tags(preset, level, replicate), **options.tags},
                     options.nested, options.parent_run_id, options.stop_exceptions) as run:
        if options.on_start is not None:
            options.on_start(run.info.run_id)
        with staged_artifacts() as stage:
            inputs = prepare(preset, dict(overrides or {}), level, replicate,
                             options.data_dir, options.splits_dir)
            result = train_logged(inputs, stage)
            evaluation = evaluate(result.model, inputs.dataset, inputs.split)
            model_ids: list[str] = []
            if options.log_model:
                from pitot_tf.tracking.models import log_models

                model_ids = log_models(result.model, inputs.dataset, evaluation)
            log_evaluation(evaluation, stage, run_label(preset, level, replicate), model_ids)
            if evaluation.notes:
                mlflow.set_tag(names.TAG_NOTES, "; ".join(evaluation.notes)[:5000])
    return TrainingRun(run.info.run_id, inputs, result, evaluation)


def run_tags(preset: str, level: float, replicate: int) -> dict[str, str]:
    """Tags that say what a training run trained."""
    return {names.TAG_PRESET: preset, names.TAG_FAMILY: family(preset),
            names.TAG_LEVEL: f"{level:g}", names.TAG_REPLICATE: str(replicate)}


def train_logged(inputs: Experiment, stage: Path,
                 on_validation: ValidationCallback | None = None) -> TrainResult:
    """Log the inputs, train (logging each validation, then calling ``on_validation``) and
    log the result, inside the active run."""
    log_inputs(inputs, stage)
    result = train(inputs.config, inputs.dataset, inputs.split, validation_logger(on_validation))
    log_training(result, stage)
    return result


def log_inputs(prepared: Experiment, stage: Path) -> None:
    """Params for the run's inputs, the config, the data fingerprint, the training data as
    an MLflow dataset input and the split file."""
    fingerprint = data_fingerprint(prepared.dataset)
    split_file = prepared.split_file
    log_params({
        names.PARAM_PRESET: prepared.preset, names.PARAM_LEVEL: f"{prepared.level:g}",
        names.PARAM_REPLICATE: prepared.replicate,
        names.PARAM_DATA_DIR: fingerprint["directory"],
        names.PARAM_DATA_FINGERPRINT: fingerprint["fingerprint"],
        names.PARAM_DATA_SHAPE: shape_text(fingerprint),
        names.PARAM_SPLIT_FILE: str(Path(split_file).resolve()) if split_file else "(made)",
        names.PARAM_SPLIT_SEED: "(file)" if split_file else DEFAULT_SPLIT_SEED,
    })
    log_config(prepared.config, stage)
    log_training_data(fingerprint)
    (stage / names.FINGERPRINT_FILE).write_text(json.dumps(fingerprint, indent=2))
    target = split_path(stage / names.SPLIT_DIR, prepared.level, prepared.replicate)
    if split_file is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(split_file, target)
    else:
        save_split(prepared.split, target)
