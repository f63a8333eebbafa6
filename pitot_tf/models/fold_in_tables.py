"""Fold-in on a Pitot model's numpy tables: the design rows of an entity's measurements, its
prior from the trained rows, and the copy of the tables with its row refitted.

The maths is :mod:`pitot_tf.models.fold_in`; here are the parameters it acts on. Per
ensemble member ``e`` a workload's are ``(b_w, x_w)`` (its baseline term and its embedding,
one shift for every output head, fitted on the first, so quantile heads keep their spread)
and a platform's ``(a_p, x_p)``. The prior (:func:`prior_from_rows`) is the second moment of
trained rows minus what their side features alone give (the zero-shot row, which only the
Keras towers compute: :mod:`pitot_tf.models.numpy_export`); rows the model never trained
(held out of a cold split: equal to their zero-shot row) are left out of it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from pitot_tf.errors import PredictionError
from pitot_tf.models.fold_in import (
    Entity,
    FoldInPrior,
    Measurements,
    Reveals,
    calibrated_prior,
    posterior_shift,
    rescaled,
    tune_prior,
)
from pitot_tf.models.interference import NUMPY_OPS, pitot_term

if TYPE_CHECKING:
    from pitot_tf.models.numpy_predictor import NumpyPitot

#: A row whose embedding is within this of its zero-shot row was never trained.
_UNTRAINED = 1e-6


def parameters(pitot: NumpyPitot, axis: str) -> np.ndarray:
    """``(rows, E, 1 + d)``: every row's ``(scale + first-head bias, embedding)`` per member."""
    t = pitot.tables
    if axis == "workload":
        scale, embedding, bias = pitot.workload_scale.T, t.alone[:, :, 0], t.workload_bias
    else:
        scale, embedding, bias = pitot.platform_scale.T, t.x_p, t.platform_bias
    if bias is not None:
        scale = scale + bias[:, :, 0]
    return np.concatenate([scale[:, :, None], embedding], axis=2).astype(np.float64)


def prior_from_rows(trained: np.ndarray, zero_shot: np.ndarray | None) -> FoldInPrior:
    """The prior from :func:`parameters` of the model's rows and of the same rows from their
    side features alone (None: deviations from the rows' mean, for a tower without
    features); rows equal to their zero-shot row were never trained and are left out."""
    if zero_shot is None:
        deviations = trained - trained.mean(axis=0, keepdims=True)
    else:
        deviations = trained - zero_shot
    moved = np.linalg.norm(deviations[:, :, 1:], axis=2).min(axis=1) > _UNTRAINED
    return FoldInPrior.from_deviations(deviations[moved])


def design(pitot: NumpyPitot, entity: Entity, other: np.ndarray) -> np.ndarray:
    """``(E, k, 1 + d)``: the design rows ``[1, x_other]`` of ``entity`` run alone with the
    rows ``other`` of the other axis."""
    t = pitot.tables
    embedding = t.x_p[other] if entity.axis == "workload" else t.alone[other][:, :, 0]
    ones = np.ones(embedding.shape[:2] + (1,))
    return np.concatenate([ones, embedding], axis=2).transpose(1, 0, 2).astype(np.float64)


def member_log_runtime(pitot: NumpyPitot, entity: Entity, other: np.ndarray) -> np.ndarray:
    """``(E, k)``: each member's first-head log runtime of ``entity`` run alone with ``other``."""
    index = np.full(len(other), entity.index, dtype=np.int64)
    platform, workload = (other, index) if entity.axis == "workload" else (index, other)
    members, heads = pitot.tables.x_w.shape[1:3]
    term = pitot_term(pitot.tables, pitot.equation, platform, workload,
                      np.full((len(other), 1), -1), NUMPY_OPS)
    term = term.reshape(len(other), members, heads)[:, :, 0].T
    base = pitot.platform_scale[:, platform] + pitot.workload_scale[:, workload]
    return (base + pitot.offset[:, None] + term).astype(np.float64)


def fold_in(pitot: NumpyPitot, entity: Entity, measurements: Measurements,
            prior: FoldInPrior | None = None) -> NumpyPitot:
    """A copy of ``pitot`` with ``entity``'s row moved to its posterior mean given
    ``measurements`` (prior: ``pitot.fold_in_priors``, centred on the current row)."""
    size = pitot.workloads if entity.axis == "workload" else pitot.platforms
    if not 0 <= entity.index < size:
        raise PredictionError(f"{entity.axis} row {entity.index} out of range [0, {size})")
    if prior is None:
        if entity.axis not in pitot.fold_in_priors:
            raise PredictionError("this model has no fold-in prior")
        prior = rescaled(pitot.fold_in_priors[entity.axis], *pitot.prior_rescale[entity.axis])
    other = measurements.other
    residual = measurements.log_runtime[None] - member_log_runtime(pitot, entity, other)
    shift = posterior_shift(design(pitot, entity, other), residual, prior)
    return shifted(pitot, entity, shift)


def shifted(pitot: NumpyPitot, entity: Entity, shift: np.ndarray) -> NumpyPitot:
    """A copy with ``shift`` ``(E, 1 + d)`` added to ``entity``'s scale and embedding (every
    head of a workload's embedding). A workload's embedding moves in the term of its runs
    alone only (``x_w_alone``): its interference with co-runners keeps the embedding the
    model gave it, since runs alone say nothing of it (``pitot.fold_interference ==
    "refitted"`` moves that too). A platform's ``x_p`` enters runs alone only."""
    i, t = entity.index, pitot.tables
    if entity.axis == "workload":
        scale, x_w = pitot.workload_scale.copy(), t.alone.copy()
        scale[:, i] += shift[:, 0].astype(scale.dtype)
        x_w[i] += shift[:, None, 1:].astype(x_w.dtype)
        if pitot.fold_interference == "refitted":
            return replace(pitot, workload_scale=scale, tables=replace(t, x_w=x_w))
        return replace(pitot, workload_scale=scale, tables=replace(t, x_w_alone=x_w))
    scale, x_p = pitot.platform_scale.copy(), t.x_p.copy()
    scale[:, i] += shift[:, 0].astype(scale.dtype)
    x_p[i] += shift[:, 1:].astype(x_p.dtype)
    return replace(pitot, platform_scale=scale, tables=replace(t, x_p=x_p))


#: Where a fold-in prior comes from (:func:`with_tuned_prior`): ``trained``, the trained rows'
#: deviations from their zero-shot rows, rescaled on held-out entities; ``calibrated``, the
#: held-out entities' own fully fitted rows (:func:`~pitot_tf.models.fold_in.calibrated_prior`).
PRIOR_SOURCES = ("calibrated", "trained")


def with_tuned_prior(pitot: NumpyPitot, axis: str, entity: np.ndarray, other: np.ndarray,
                     log_runtime: np.ndarray, source: str = "calibrated") -> NumpyPitot:
    """A copy whose fold-in prior for ``axis`` predicts best, from a few revealed runs, the
    other runs of entities the model never trained on (such as a cold split's validation
    entities): runs without co-runners, ``entity``, ``other`` and ``log_runtime`` per row.
    ``source`` (:data:`PRIOR_SOURCES`) says which prior is tuned: the trained rows' rescaled
    (:func:`~pitot_tf.models.fold_in.tune_prior`) or one calibrated on those entities."""
    if source not in PRIOR_SOURCES:
        raise PredictionError(f"unknown prior source '{source}' (use one of {PRIOR_SOURCES})")
    designs, residuals = [], []
    for index in np.unique(entity):
        own = entity == index
        row = Entity(axis, int(index))
        designs.append(design(pitot, row, other[own]))
        residuals.append(log_runtime[own][None] - member_log_runtime(pitot, row, other[own]))
    if source == "trained":
        chosen = tune_prior(pitot.fold_in_priors[axis], Reveals.draw(designs, residuals))
        return replace(pitot, prior_rescale={**pitot.prior_rescale, axis: chosen})
    prior, chosen = calibrated_prior(designs, residuals)
    return replace(pitot, fold_in_priors={**pitot.fold_in_priors, axis: prior},
                   prior_rescale={**pitot.prior_rescale, axis: chosen})
