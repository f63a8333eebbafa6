"""The function Optuna calls per trial: sample a config, train, score on validation rows.

Every replicate of the study is trained with the sampled config; the scores (see
:mod:`pitot_tf.search.metrics`) are averaged over replicates. A single-objective study reports
the study-weighted validation loss at every validation (step ``replicate_index * steps +
step``) so that the pruner can stop a trial that is clearly worse. A user error during the
trial (e.g. :class:`~pitot_tf.training.TrainingDiverged`) is recorded as the trial's
``fail_reason`` and re-raised, so that Optuna marks it FAIL and the study goes on.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import optuna

from pitot_tf.config import Config, objective_weights
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
from pitot_tf.search.mlflow_callback import TrialRunLogger
from pitot_tf.search.space import suggest_overrides
from pitot_tf.search.studies import SEARCH_DEFAULTS, StudySpec
from pitot_tf.search.tuning_data import Replicate
from pitot_tf.training import TrainingDiverged, train
from pitot_tf.training.trainer import ValidationCallback

Values = float | tuple[float, ...]


def worker_name() -> str:
    """``host:pid``: who runs a trial (the runner fails the trials of a dead worker)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class TrialObjective:
    """Callable objective for ``study.optimize``; ``on_start`` runs first (it releases the
    admission lock of :mod:`pitot_tf.search.gate` once the trial exists)."""

    def __init__(self, spec: StudySpec, replicates: list[Replicate],
                 logger: TrialRunLogger | None = None,
                 on_start: Callable[[], None] | None = None) -> None:
        self.spec, self.replicates, self.logger = spec, replicates, logger
        self.on_start = on_start or (lambda: None)
        first = replicates[0]
        base = spec.base_config()
        self.objectives = validation_objectives(first.dataset, first.split,
                                                base.objectives.include)
        self.reference_weights = objective_weights(base, self.objectives)
        self.last_state: str | None = None

    def __call__(self, trial: optuna.Trial) -> Values:
        self.on_start()
        self.last_state = "FAIL"
        trial.set_user_attr("worker", worker_name())
        overrides = suggest_overrides(trial, self.spec.space)
        run_id = self.logger.start(trial) if self.logger else None
        try:
            config = resolve(self.spec.preset,
                             {**SEARCH_DEFAULTS, **self.spec.overrides, **overrides})
            trial.set_user_attr("config", config.flat())
            if self.logger and run_id:
                self.logger.log_config(run_id, config, trial.params)
            metrics = self.evaluate(trial, config, run_id)
        except optuna.TrialPruned:
            raise
        except PitotError as error:  # FAIL; the study goes on and the callback ends the run
            self._record_failure(trial, run_id, str(error), end_run=False)
            raise
        except BaseException as error:  # a bug or an interrupt stops the worker: end it here
            self._record_failure(trial, run_id, repr(error), end_run=True)
            raise
        finally:
            keras.backend.clear_session()
        trial.set_user_attr("metrics", metrics)
        if self.logger and run_id:
            self.logger.result(run_id, metrics)
        self.last_state = "COMPLETE"
        values = tuple(metrics[name] for name in self.spec.metrics)
        return values[0] if len(values) == 1 else values

    def _record_failure(self, trial: optuna.Trial, run_id: str | None, reason: str,
                        end_run: bool) -> None:
        trial.set_user_attr("fail_reason", reason)
        if self.logger and run_id:
            self.logger.fail_reason(run_id, reason)
            if end_run:
                self.logger.end(run_id, optuna.trial.TrialState.FAIL)

    def evaluate(self, trial: optuna.Trial, config: Config, run_id: str | None) -> dict[str, float]:
        """Train on every replicate; mean scores over replicates."""
        scores: list[dict[str, float]] = []
        for index, replicate in enumerate(self.replicates):
            offset = index * config.training.steps
            result = train(config, replicate.dataset, replicate.split,
                           self._reporter(trial, run_id, offset))
            losses = best_step_losses(result.history, result.best_step)
            predictions = validation_predictions(result.model, replicate.dataset,
                                                 replicate.split, self.objectives)
            scores.append({
                "val_loss": weighted_loss(losses, self.reference_weights),
                "val_mape": validation_mape(predictions),
                **self._bounds(predictions),
                "best_step": float(result.best_step),
                "train_wall_s": result.wall_s,
                "steps_per_s": result.steps_per_s,
            })
        shared = [key for key in scores[0] if all(key in s for s in scores)]
        metrics = {key: float(np.mean([s[key] for s in scores])) for key in shared}
        _check_finite(metrics, self.spec.metrics)
        return metrics

    def _bounds(self, predictions: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
        try:
            width, cover = validation_bounds(predictions, self.spec.alpha)
        except ConformalError:
            if "val_width" in self.spec.metrics:
                raise
            return {}
        return {"val_width": width, "val_coverage": cover}

    def _reporter(self, trial: optuna.Trial, run_id: str | None,
                  offset: int) -> ValidationCallback:
        """Logs, reports and prunes at every validation (reports only with one metric)."""
        logger, prune = self.logger, not self.spec.multi_objective

        def on_validation(step: int, _weighted: float, per_objective: dict[str, float]) -> None:
            value = weighted_loss(per_objective, self.reference_weights)
            if logger and run_id:
                logger.intermediate(run_id, offset + step, value)
            if prune and math.isfinite(value):
                trial.report(value, offset + step)
                if trial.should_prune():
                    self.last_state = "PRUNED"
                    raise optuna.TrialPruned(f"val_loss {value:.4g} at step {offset + step}")

        return on_validation


def _check_finite(metrics: dict[str, Any], required: tuple[str, ...]) -> None:
    for name in required:
        if name not in metrics or not math.isfinite(metrics[name]):
            raise TrainingDiverged(f"validation metric {name} is {metrics.get(name)}; "
                                   "the model's predictions are not finite")
