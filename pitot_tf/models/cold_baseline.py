"""What a platform or workload never measured gets as its baseline term: a prediction from
its side features (``model.cold_baseline``).

``ridge`` is a ridge regression (:func:`pitot_tf.models.baseline.fit_from_features`);
``trees`` extremely randomized trees (:mod:`pitot_tf.models.feature_trees`), much closer on
the sparse opcode counts of workloads (docs/benchmarks.md, "Cold start") but worse where the
term is a smooth function of the features (a few dozen entities, linear truth: the synthetic
data); ``select`` takes, per axis, the one of the two with the lower cross-validated error
over the measured entities (same folds for both).

With cold dropout (:mod:`pitot_tf.models.cold_dropout`) a measured entity, when dropped, gets
the term its features predict too. For the trees that is the out-of-fold prediction: their
in-sample fit nearly reproduces the entity's own term, so training on it would teach the
model that a cold entity's term is exact. The ridge regression's in-sample prediction is
kept (its penalty, chosen by leave-one-out error, already keeps it from fitting each entity).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pitot_tf.models.baseline import fit_from_features, predict_from_features
from pitot_tf.models.feature_trees import fit_trees, folds, out_of_fold, predict_trees


@dataclass(frozen=True)
class FeatureFit:
    """One axis' predictors from features to its baseline term, and what they give its rows."""

    regression: np.ndarray  # ridge coefficients (features + intercept)
    trees: np.ndarray | None  # the packed forest; None for ``ridge``
    use_trees: bool  # the forest, not the regression, predicts a new row's term
    terms: np.ndarray  # (rows,) the term of every row when cold (out of fold if measured)


def fit_feature_terms(method: str, scale: np.ndarray, features: np.ndarray,
                      observed: np.ndarray, nodes: int, seed: int) -> FeatureFit:
    """Fit ``method``'s predictors of ``scale`` from ``features`` on the ``observed`` rows."""
    coef = fit_from_features(scale, features, observed)
    ridge_terms = predict_from_features(coef, features)
    if method == "ridge":
        return FeatureFit(coef, None, False, ridge_terms)
    values, seen = scale[observed], features[observed]
    packed = fit_trees(values, seen, nodes, seed)
    held_out = out_of_fold(values, seen, nodes, seed)
    use_trees = method == "trees" or _rmse(held_out, values) < _rmse(
        ridge_out_of_fold(values, seen, seed), values)
    if not use_trees:
        return FeatureFit(coef, packed, False, ridge_terms)
    terms = predict_trees(packed, features)
    terms[observed] = held_out
    return FeatureFit(coef, packed, True, terms)


def ridge_out_of_fold(values: np.ndarray, features: np.ndarray, seed: int) -> np.ndarray:
    """``(n,)`` predictions of each row by a ridge regression (penalty chosen by leave-one-out
    error) fitted on the other folds, with the folds of
    :func:`~pitot_tf.models.feature_trees.out_of_fold`."""
    predicted = np.full(len(values), float(np.mean(values)) if len(values) else 0.0, np.float32)
    for train, held in folds(len(values), seed):
        coef = fit_from_features(values[train], features[train], np.ones(len(train), bool))
        predicted[held] = predict_from_features(coef, features[held])
    return predicted


def _rmse(predicted: np.ndarray, values: np.ndarray) -> float:
    return float(np.sqrt(np.mean((predicted - values) ** 2)))
