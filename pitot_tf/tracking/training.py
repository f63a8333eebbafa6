"""One tracked training run: prepare, train, evaluate the conformal bounds, log everything.

:func:`run_training` is what ``pitot-tf train``, the ``train`` entry point, sweeps and
searches call. Everything happens inside the run, so a bad preset, override, level or data
directory marks the run FAILED (with an ``error`` tag) just like a crash in training.
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
from pitot_tf.tracking.fingerprint import data_fingerprint, shape_text
from pitot_tf.tracking.run_log import (
    log_config,
    log_evaluation,
    log_metrics,
    log_params,
    log_training,
    staged_artifacts,
    validation_logger,
)
from pitot_tf.tracking.runs import run_label, tracked_run
from pitot_tf.training.experiment import DEFAULT_SPLIT_SEED, Experiment, prepare
from pitot_tf.training.trainer import TrainResult, ValidationCallback, train


@dataclass
class TrainingRun:
    """What a tracked training run produced (the model is ``result.model``); ``evaluation``
    is None for runs that skip the test split (search trials)."""

    run_id: str
    experiment: Experiment
    result: TrainResult
    evaluation: Evaluation | None
    scores: dict[str, float] = field(default_factory=dict)


#: Scores a trained model on validation rows; they are logged as metrics of the run.
Scorer = Callable[[TrainResult, Experiment], Mapping[str, float]]


def run_training(
    preset: str = "pitot",
    overrides: Mapping[str, Any] | None = None,
    level: float = 0.5,
    replicate: int = 0,
    data_dir: str | os.PathLike[str] | None = None,
    splits_dir: str | os.PathLike[str] | None = None,
    steps: int | None = None,
    *,
    experiment: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    log_model: bool = True,
    on_validation: ValidationCallback | None = None,
    stop_exceptions: tuple[type[BaseException], ...] = (),
    prepared: Experiment | None = None,
    score: Scorer | None = None,
    evaluate_test: bool = True,
    on_start: Callable[[str], None] | None = None,
) -> TrainingRun:
    """Train ``preset`` with ``overrides`` on ``level``/``replicate`` in a new MLflow run.

    Logs the config, data and code fingerprints, per-validation losses, the conformal table
    and plots (test split, calibrated on validation), then the models (unless
    ``log_model=False``). ``experiment``/``experiment_id``, ``nested``/``parent_run_id`` and
    ``tags`` place the run (default: experiment ``pitot``); ``on_validation`` is called
    after each validation and may raise one of ``stop_exceptions`` (e.g.
    ``optuna.TrialPruned``) to end the run KILLED instead of FAILED. ``splits_dir=None`` makes
    the split with the default seed (and logs it).

    A search trial passes ``prepared`` (its config on data the worker loaded once; the
    preset, level and replicate arguments are then taken from it), ``score`` (validation
    scores, logged as metrics and returned) and ``evaluate_test=False`` (a search never looks
    at test rows) and ``on_start`` (told the run id first, so that a trial knows its run
    even if it fails at once). Any error is re-raised after the run is marked FAILED.
    """
    if prepared is not None:
        preset, level, replicate = prepared.preset, prepared.level, prepared.replicate
    run_tags = {names.TAG_PRESET: preset, names.TAG_FAMILY: family(preset),
                names.TAG_LEVEL: f"{level:g}", names.TAG_REPLICATE: str(replicate), **(tags or {})}
    label = run_name or run_label(preset, level, replicate)
    with tracked_run(names.KIND_TRAIN, label, experiment, run_tags, nested, parent_run_id,
                     stop_exceptions, experiment_id) as run:
        if on_start is not None:
            on_start(run.info.run_id)
        with staged_artifacts() as stage:
            inputs = prepared or prepare(preset, dict(overrides or {}), level, replicate,
                                         data_dir, splits_dir, steps)
            log_inputs(inputs, stage)
            result = train(inputs.config, inputs.dataset, inputs.split,
                           validation_logger(on_validation))
            log_training(result, stage)
            scores = dict(score(result, inputs)) if score else {}
            if scores:
                log_metrics(scores)
            evaluation = None
            if evaluate_test:
                evaluation = evaluate(result.model, inputs.dataset, inputs.split)
                log_evaluation(evaluation, stage, run_label(preset, level, replicate))
                if evaluation.notes:
                    mlflow.set_tag(names.TAG_NOTES, "; ".join(evaluation.notes)[:5000])
        if log_model and evaluation is not None:
            from pitot_tf.tracking.models import log_models

            log_models(result.model, inputs.dataset, evaluation)
    return TrainingRun(run.info.run_id, inputs, result, evaluation, scores)


def log_inputs(prepared: Experiment, stage: Path) -> None:
    """Params for the run's inputs, the config, the data fingerprint and the split file."""
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
    (stage / names.FINGERPRINT_FILE).write_text(json.dumps(fingerprint, indent=2))
    target = split_path(stage / names.SPLIT_DIR, prepared.level, prepared.replicate)
    if split_file is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(split_file, target)
    else:
        save_split(prepared.split, target)
