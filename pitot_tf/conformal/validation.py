"""A trained model's scores on validation rows only (what a search compares; it never sees
test rows).

* ``val_loss``: per-objective validation losses at the trainer's best step, weighted with
  weights given by the caller (a study's, so that trials which search the weights are
  compared on one scale).
* ``val_mape``: the paper's MAPE ``mean |t/t̂ - 1|`` of the first head, averaged over the
  objectives with equal weight.
* ``val_width`` / ``val_coverage``: each objective's validation rows are split in two halves by
  a fixed permutation; a conformal bound fitted on one half at ``alpha`` is measured on the
  other; averaged over objectives with equal weight.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np
import pandas as pd

from pitot_tf.conformal.calibration import ConformalUpperBound
from pitot_tf.conformal.evaluate import calibration_halves
from pitot_tf.conformal.metrics import bound_width, coverage, mape
from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import Split
from pitot_tf.errors import ConformalError
from pitot_tf.training.predict import predict_objective
from pitot_tf.training.trainer import TrainResult

Predictions = dict[str, tuple[np.ndarray, np.ndarray]]


def validation_scores(result: TrainResult, dataset: Dataset, split: Split,
                      weights: Mapping[str, float], alpha: float,
                      require_bounds: bool = False) -> dict[str, float]:
    """``val_loss`` and ``val_mape`` over the objectives of ``weights``, ``val_width`` and
    ``val_coverage`` at ``alpha`` when the validation rows allow it (else ConformalError if
    ``require_bounds``), and the training's ``best_step``, ``train_wall_s``, ``steps_per_s``."""
    losses = best_step_losses(result.history, result.best_step)
    predictions = validation_predictions(result.model, dataset, split, list(weights))
    scores = {"val_loss": weighted_loss(losses, weights), "val_mape": validation_mape(predictions),
              "best_step": float(result.best_step), "train_wall_s": result.wall_s,
              "steps_per_s": result.steps_per_s}
    try:
        scores["val_width"], scores["val_coverage"] = validation_bounds(predictions, alpha)
    except ConformalError:
        if require_bounds:
            raise
    return scores


def weighted_loss(per_objective: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """``sum_o weights[o] * loss[o]`` over the objectives both know."""
    return float(sum(weights[name] * loss for name, loss in per_objective.items()
                     if name in weights))


def best_step_losses(history: pd.DataFrame, best_step: int) -> dict[str, float]:
    """Per-objective validation losses at ``best_step`` (the last row if it is 0)."""
    rows = history[history["step"] == best_step] if best_step else history.tail(1)
    row = rows.iloc[-1]
    return {str(c)[4:-5]: float(row[c]) for c in history.columns
            if str(c).startswith("val_") and str(c).endswith("_loss") and c != "val_loss"}


def validation_objectives(dataset: Dataset, split: Split, include: list[str]) -> list[str]:
    """Objectives of ``split`` with validation rows (restricted to ``include`` when set)."""
    names = [n for n in split.objectives() if n in dataset.objectives
             and len(split.rows(n, "val"))]
    return [n for n in names if n in include] if include else names


def validation_predictions(model: keras.Model, dataset: Dataset, split: Split,
                           objectives: list[str]) -> Predictions:
    """``{objective: (log_true, log_pred)}`` on validation rows."""
    return {name: predict_objective(model, dataset, name, split.rows(name, "val"))
            for name in objectives}


def validation_mape(predictions: Predictions) -> float:
    """Mean over objectives of the first head's MAPE."""
    return float(np.mean([mape(lt, lp) for lt, lp in predictions.values()]))


def validation_bounds(predictions: Predictions, alpha: float) -> tuple[float, float]:
    """``(width, coverage)`` at ``alpha``: calibrate on one half of each objective's
    validation rows, measure on the other, average over objectives. Raises ConformalError
    when a half is too small for ``alpha``."""
    widths, coverages = [], []
    for log_true, log_pred in predictions.values():
        calibrate, evaluate = calibration_halves(len(log_true))
        bound = ConformalUpperBound([alpha]).fit(log_true[calibrate], log_pred[calibrate])
        upper = bound.upper_bound(log_pred[evaluate], alpha)
        widths.append(float(bound_width(log_true[evaluate], upper)))
        coverages.append(float(coverage(log_true[evaluate], upper)))
    return float(np.mean(widths)), float(np.mean(coverages))
