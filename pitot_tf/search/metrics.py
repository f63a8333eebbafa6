"""What a trial is scored on, from validation rows only (the search never sees test rows).

* ``val_loss``: per-objective validation losses weighted with the *study's* weights (the
  preset's, not the trial's), so that trials which search ``objectives.interference_weight``
  are compared on one scale; taken at the trainer's best step.
* ``val_mape``: the paper's MAPE ``mean |t/t̂ - 1|`` of the first head, averaged over the
  objectives (``mf``, ``if2``, ...) with equal weight.
* ``val_width`` / ``val_coverage``: each objective's validation rows are split in two halves by
  a fixed permutation; a conformal bound fitted on one half at ``alpha`` is measured on the
  other; averaged over objectives with equal weight.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np
import pandas as pd

from pitot_tf.conformal import ConformalUpperBound, bound_width, coverage, mape
from pitot_tf.conformal.evaluate import calibration_halves
from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import Split
from pitot_tf.training.predict import predict_objective


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


Predictions = dict[str, tuple[np.ndarray, np.ndarray]]


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
