"""The function Optuna calls per trial: sample a config, train, score on validation rows.

Each worker loads the study's data once (:func:`load_tuning_data`: a :class:`Replicate` per
replicate at the study's level). Every replicate is trained with the sampled config; the
scores (see :mod:`pitot_tf.search.metrics`) are averaged over replicates. A single-objective
study reports the study-weighted validation loss at every validation (step ``replicate_index *
steps + step``) so that the pruner can stop a trial that is clearly worse. A user error during
the trial (e.g. :class:`~pitot_tf.training.TrainingDiverged`) is recorded as the trial's
``fail_reason`` and re-raised, so that Optuna marks it FAIL and the study goes on.

When the search is tracked, each replicate is trained by
:func:`~pitot_tf.tracking.training.run_training` (no model, no test split, pruning ends the
run KILLED) and the scores are logged in it as ``search.<metric>``. The trial's user
attributes are readable scalars: the scores under the study's metric names, the config values
other than the defaults (``config.<key>``), the worker and the run id(s): ``mlflow_run_id``
(``mlflow_run_ids`` when it trains several replicates). Once Optuna has recorded the trial's
final state, :class:`TrialStateTagger` tags the runs with it (``optuna.state``): a pruned
trial's run ends KILLED with a ``stopped`` tag, a failed one FAILED with an ``error`` tag.
"""

from __future__ import annotations

import logging
import math
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import optuna

from pitot_tf.config import Config, objective_weights
from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import Split
from pitot_tf.errors import ConformalError, PitotError
from pitot_tf.presets import resolve
from pitot_tf.search.metrics import (
    best_step_losses,
    validation_bounds,
    validation_mape,
    validation_objectives,
    validation_predictions,
    weighted_loss,
)
from pitot_tf.search.space import suggest_overrides
from pitot_tf.search.studies import SEARCH_DEFAULTS, StudySpec, metric_name
from pitot_tf.training import TrainingDiverged, train
from pitot_tf.training.experiment import Experiment, prepare
from pitot_tf.training.trainer import TrainResult, ValidationCallback

Values = float | tuple[float, ...]
#: Prefix of the trial user attributes holding its config (values other than the defaults).
CONFIG_ATTR = "config."
TAG_STUDY, TAG_TRIAL, TAG_STATE = "optuna.study", "optuna.trial_number", "optuna.state"
#: Trial user attributes: the MLflow run(s) it trained (one per replicate).
ATTR_RUN_ID, ATTR_RUN_IDS = "mlflow_run_id", "mlflow_run_ids"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Replicate:
    """One replicate's data and split (from a split file when one was given)."""

    index: int
    dataset: Dataset
    split: Split
    split_file: Path | None


def load_tuning_data(spec: StudySpec, data_dir: str | os.PathLike[str] | None = None,
                     splits_dir: str | os.PathLike[str] | None = None) -> list[Replicate]:
    """Dataset and split for every replicate of the study at its level (once per worker)."""
    overrides = {**SEARCH_DEFAULTS, **spec.overrides}
    prepared = [(r, prepare(spec.preset, overrides, spec.level, r, data_dir, splits_dir))
                for r in spec.replicates]
    return [Replicate(r, p.dataset, p.split, p.split_file) for r, p in prepared]


@dataclass(frozen=True)
class TrialTracking:
    """The MLflow experiment and parent run that a study's trial runs go to."""

    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    study_name: str


def trial_run_ids(trial: optuna.trial.FrozenTrial | optuna.Trial) -> list[str]:
    """The MLflow runs a trial made (one per replicate it trained)."""
    several, single = trial.user_attrs.get(ATTR_RUN_IDS), trial.user_attrs.get(ATTR_RUN_ID)
    return str(several).split(",") if several else [str(single)] if single else []


def fail_dead_trial_runs(trial: optuna.trial.FrozenTrial) -> None:
    """End each still RUNNING MLflow run of a trial whose worker died FAILED (called by the
    process that re-queued it; the tracking store is this process's)."""
    from mlflow import MlflowClient

    from pitot_tf.tracking.names import TAG_ERROR

    client = MlflowClient()
    for run_id in trial_run_ids(trial):
        try:
            if client.get_run(run_id).info.status == "RUNNING":
                client.set_tag(run_id, TAG_ERROR, f"its worker died (stale heartbeat); "
                                                  f"trial {trial.number} re-queued")
                client.set_terminated(run_id, "FAILED")
        except Exception as error:  # the tracking server: `runs repair` can end it later
            log.warning("could not end run %s of dead trial %d: %s", run_id, trial.number, error)


class TrialStateTagger:
    """Optuna callback: tag a finished trial's runs with its final state."""

    def __init__(self, tracking_uri: str) -> None:
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri)

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        for run_id in trial_run_ids(trial):
            self.client.set_tag(run_id, TAG_STATE, trial.state.name)


class TrialObjective:
    """Callable objective for ``study.optimize``; with ``tracking``, every replicate is
    trained in a training run nested under the search's parent run."""

    def __init__(self, spec: StudySpec, replicates: list[Replicate],
                 tracking: TrialTracking | None = None) -> None:
        self.spec, self.replicates, self.tracking = spec, replicates, tracking
        first = replicates[0]
        base = spec.base_config()
        self.objectives = validation_objectives(first.dataset, first.split,
                                                base.objectives.include)
        self.reference_weights = objective_weights(base, self.objectives)

    def __call__(self, trial: optuna.Trial) -> Values:
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        overrides = suggest_overrides(trial, self.spec.space)
        try:
            config = resolve(self.spec.preset,
                             {**SEARCH_DEFAULTS, **self.spec.overrides, **overrides})
            store_config(trial, config)
            metrics = self.evaluate(trial, config)
        except PitotError as error:  # FAIL; the study goes on
            trial.set_user_attr("fail_reason", str(error))
            raise
        finally:
            keras.backend.clear_session()
        for name, value in readable_metrics(metrics, self.spec.alpha).items():
            trial.set_user_attr(name, value)
        values = tuple(metrics[name] for name in self.spec.metrics)
        return values[0] if len(values) == 1 else values

    def evaluate(self, trial: optuna.Trial, config: Config) -> dict[str, float]:
        """Train on every replicate; mean scores over replicates."""
        runs: list[str] = []
        scores = [self.train_replicate(trial, config, index, replicate, runs)
                  for index, replicate in enumerate(self.replicates)]
        shared = [key for key in scores[0] if all(key in s for s in scores)]
        metrics = {key: float(np.mean([s[key] for s in scores])) for key in shared}
        _check_finite(metrics, self.spec.metrics)
        return metrics

    def train_replicate(self, trial: optuna.Trial, config: Config, index: int,
                        replicate: Replicate, runs: list[str]) -> dict[str, float]:
        """One replicate: in a training run when tracked, else untracked."""
        reporter = self._reporter(trial, index * config.training.steps)
        if self.tracking is None:
            result = train(config, replicate.dataset, replicate.split, reporter)
            return self.score(result, replicate.dataset, replicate.split)
        from pitot_tf.tracking.training import run_training

        tracking, raw, suffix = self.tracking, {}, f" r{replicate.index}"

        def score(result: TrainResult, inputs: Experiment) -> dict[str, float]:
            raw.update(self.score(result, inputs.dataset, inputs.split))
            scores = readable_metrics(raw, self.spec.alpha)  # best_step etc. are logged already
            return {f"search.{k}": v for k, v in scores.items() if k.startswith("val_")}

        prepared = Experiment(self.spec.preset, config, replicate.dataset, replicate.split,
                              self.spec.level, replicate.index, replicate.split_file)
        run_training(
            prepared=prepared, experiment_id=tracking.experiment_id,
            parent_run_id=tracking.parent_run_id, tags={
                TAG_STUDY: tracking.study_name, TAG_TRIAL: str(trial.number),
                TAG_STATE: "RUNNING"},
            run_name=f"{tracking.study_name} trial {trial.number}"
                     f"{suffix if len(self.replicates) > 1 else ''}",
            log_model=False, evaluate_test=False, stop_exceptions=(optuna.TrialPruned,),
            on_validation=reporter, on_start=_remember_run(trial, runs), score=score)
        return raw

    def score(self, result: TrainResult, dataset: Dataset, split: Split) -> dict[str, float]:
        """The study's scores of a trained model, from validation rows only."""
        losses = best_step_losses(result.history, result.best_step)
        predictions = validation_predictions(result.model, dataset, split, self.objectives)
        return {
            "val_loss": weighted_loss(losses, self.reference_weights),
            "val_mape": validation_mape(predictions),
            **self._bounds(predictions),
            "best_step": float(result.best_step),
            "train_wall_s": result.wall_s,
            "steps_per_s": result.steps_per_s,
        }

    def _bounds(self, predictions: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
        try:
            width, cover = validation_bounds(predictions, self.spec.alpha)
        except ConformalError:
            if "val_width" in self.spec.metrics:
                raise
            return {}
        return {"val_width": width, "val_coverage": cover}

    def _reporter(self, trial: optuna.Trial, offset: int) -> ValidationCallback:
        """Reports and prunes at every validation (only with one metric)."""
        prune = not self.spec.multi_objective

        def on_validation(step: int, _weighted: float, per_objective: dict[str, float]) -> None:
            value = weighted_loss(per_objective, self.reference_weights)
            if prune and math.isfinite(value):
                trial.report(value, offset + step)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"val_loss {value:.4g} at step {offset + step}")

        return on_validation


def readable_metrics(metrics: dict[str, float], alpha: float) -> dict[str, float]:
    """Scores under the names the study shows: ``val_width`` → ``val_width_0.05``."""
    return {metric_name(k, alpha): v for k, v in metrics.items()}


def store_config(trial: optuna.Trial, config: Config) -> None:
    """The trial's config values that differ from the defaults, one user attribute each
    (``config.model.mf_dim``), so that the dashboard shows them as a readable table."""
    defaults = Config().flat()
    for key, value in config.flat().items():
        if value != defaults[key]:
            trial.set_user_attr(f"{CONFIG_ATTR}{key}", value)


def _remember_run(trial: optuna.Trial, runs: list[str]) -> Callable[[str], None]:
    """Store each run's id on the trial as it starts (``runs``: this attempt's, since a retry
    inherits its dead predecessor's attributes), so that the state tagger and the process
    that re-queues the trial if this worker dies can find them."""

    def on_start(run_id: str) -> None:
        runs.append(run_id)
        trial.set_user_attr(ATTR_RUN_ID, runs[0])
        if len(runs) > 1:
            trial.set_user_attr(ATTR_RUN_IDS, ",".join(runs))

    return on_start


def _check_finite(metrics: dict[str, Any], required: tuple[str, ...]) -> None:
    for name in required:
        if name not in metrics or not math.isfinite(metrics[name]):
            raise TrainingDiverged(f"validation metric {name} is {metrics.get(name)}; "
                                   "the model's predictions are not finite")
