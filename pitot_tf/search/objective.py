"""The function Optuna calls per trial: sample a config, train every replicate, score it on
validation rows (:func:`~pitot_tf.conformal.validation.validation_scores`), average.

A single-objective study reports the study-weighted validation loss at every validation, so
that the pruner can stop a clearly worse trial. A user error fails the trial with its
``fail_reason``, not the study. Tracked, each replicate trains in an MLflow training run under
the search's parent (no test split, no model; pruning ends it KILLED) that logs the scores as
``search.<metric>``. The trial's user attributes are readable scalars: the scores, the config
values other than the defaults (``config.<key>``), the worker and the run id(s).
"""

from __future__ import annotations

import logging
import math
import os
import socket
from dataclasses import replace

import keras
import numpy as np
import optuna
from mlflow import MlflowClient

from pitot_tf.config import Config, objective_weights
from pitot_tf.conformal.validation import validation_objectives, validation_scores, weighted_loss
from pitot_tf.errors import PitotError
from pitot_tf.presets import resolve
from pitot_tf.search.space import suggest_overrides
from pitot_tf.search.studies import SEARCH_DEFAULTS, StudySpec, metric_name
from pitot_tf.tracking.names import KIND_TRAIN, TAG_ERROR
from pitot_tf.tracking.run_log import log_metrics, staged_artifacts
from pitot_tf.tracking.runs import tracked_run
from pitot_tf.tracking.training import run_tags, train_logged
from pitot_tf.training import TrainingDiverged, train
from pitot_tf.training.experiment import Experiment
from pitot_tf.training.trainer import TrainResult, ValidationCallback

#: Prefix of the trial user attributes holding its config (values other than the defaults).
CONFIG_ATTR = "config."
TAG_STUDY, TAG_TRIAL, TAG_STATE = "optuna.study", "optuna.trial_number", "optuna.state"
#: Trial user attributes: the MLflow run(s) it trained (one per replicate).
ATTR_RUN_ID, ATTR_RUN_IDS = "mlflow_run_id", "mlflow_run_ids"
log = logging.getLogger(__name__)


def trial_run_ids(trial: optuna.trial.FrozenTrial | optuna.Trial) -> list[str]:
    """The MLflow runs a trial made (one per replicate it trained)."""
    several, single = trial.user_attrs.get(ATTR_RUN_IDS), trial.user_attrs.get(ATTR_RUN_ID)
    return str(several).split(",") if several else [str(single)] if single else []


def fail_dead_trial_runs(trial: optuna.trial.FrozenTrial) -> None:
    """End each still RUNNING MLflow run of a trial whose worker died FAILED (called by the
    process that re-queued it; the tracking store is this process's)."""
    client = MlflowClient()
    for run_id in trial_run_ids(trial):
        try:
            if client.get_run(run_id).info.status == "RUNNING":
                client.set_tag(run_id, TAG_ERROR, f"its worker died (stale heartbeat); "
                                                  f"trial {trial.number} re-queued")
                client.set_terminated(run_id, "FAILED")
        except Exception as error:  # the tracking server: `runs repair` can end it later
            log.warning("could not end run %s of dead trial %d: %s", run_id, trial.number, error)


def tag_trial_state(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """Optuna callback: tag a finished trial's runs with its final state."""
    client = MlflowClient()
    for run_id in trial_run_ids(trial):
        client.set_tag(run_id, TAG_STATE, trial.state.name)


class TrialObjective:
    """Callable objective for ``study.optimize``; with ``parent_run_id``, every replicate is
    trained in a training run nested under that run."""

    def __init__(self, spec: StudySpec, replicates: list[Experiment],
                 parent_run_id: str | None = None) -> None:
        self.spec, self.replicates, self.parent_run_id = spec, replicates, parent_run_id
        first = replicates[0]
        objectives = validation_objectives(first.dataset, first.split,
                                           first.config.objectives.include)
        self.weights = objective_weights(first.config, objectives)  # the study's, every trial

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        overrides = suggest_overrides(trial, self.spec.space)
        runs: list[str] = []  # this attempt's: a retry inherits its predecessor's attributes
        try:
            config = resolve(self.spec.preset,
                             {**SEARCH_DEFAULTS, **self.spec.overrides, **overrides})
            store_config(trial, config)
            scores = [self.train(trial, replace(inputs, config=config), index, runs)
                      for index, inputs in enumerate(self.replicates)]
            metrics = {key: float(np.mean([s[key] for s in scores])) for key in scores[0]
                       if all(key in s for s in scores)}
            for name in self.spec.metrics:
                if not math.isfinite(metrics.get(name, math.nan)):
                    raise TrainingDiverged(f"validation metric {name} is {metrics.get(name)}; "
                                           "the model's predictions are not finite")
        except PitotError as error:  # FAIL; the study goes on
            trial.set_user_attr("fail_reason", str(error))
            raise
        finally:
            keras.backend.clear_session()
        for name, value in readable_metrics(metrics, self.spec.alpha).items():
            trial.set_user_attr(name, value)
        values = tuple(metrics[name] for name in self.spec.metrics)
        return values[0] if len(values) == 1 else values

    def train(self, trial: optuna.Trial, inputs: Experiment, index: int,
              runs: list[str]) -> dict[str, float]:
        """One replicate: in a training run under the parent when tracked, else untracked."""
        reporter = self._reporter(trial, index * inputs.config.training.steps)
        if self.parent_run_id is None:
            return self.score(train(inputs.config, inputs.dataset, inputs.split, reporter),
                              inputs)
        name = f"{self.spec.name} trial {trial.number}"
        if len(self.replicates) > 1:
            name += f" r{inputs.replicate}"
        tags = {**run_tags(inputs.preset, inputs.level, inputs.replicate),
                TAG_STUDY: self.spec.name, TAG_TRIAL: str(trial.number), TAG_STATE: "RUNNING"}
        with tracked_run(KIND_TRAIN, name, tags=tags, parent_run_id=self.parent_run_id,
                         stop_exceptions=(optuna.TrialPruned,)) as run:
            runs.append(run.info.run_id)  # stored at once: the state tagger and the process
            trial.set_user_attr(ATTR_RUN_ID, runs[0])  # that re-queues a dead trial read it
            if len(runs) > 1:
                trial.set_user_attr(ATTR_RUN_IDS, ",".join(runs))
            with staged_artifacts() as stage:
                scores = self.score(train_logged(inputs, stage, reporter), inputs)
            log_metrics({f"search.{k}": v for k, v in readable_metrics(
                scores, self.spec.alpha).items() if k.startswith("val_")})
        return scores

    def score(self, result: TrainResult, inputs: Experiment) -> dict[str, float]:
        """The study's scores of a trained model, from validation rows only."""
        return validation_scores(result, inputs.dataset, inputs.split, self.weights,
                                 self.spec.alpha, "val_width" in self.spec.metrics)

    def _reporter(self, trial: optuna.Trial, offset: int) -> ValidationCallback:
        """Reports and prunes at every validation (only with one metric)."""
        prune = not self.spec.multi_objective

        def on_validation(step: int, _weighted: float, per_objective: dict[str, float]) -> None:
            value = weighted_loss(per_objective, self.weights)
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
    for key, value in config.changed().items():
        trial.set_user_attr(f"{CONFIG_ATTR}{key}", value)

