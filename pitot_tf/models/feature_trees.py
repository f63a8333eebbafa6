"""Extremely randomized trees from side features to a baseline term, stored as plain arrays.

A workload never measured gets its baseline term ``b_w`` (its size) from its features. The
workload features are 141 log opcode counts, more than half of them 0, for about 150 training
workloads: a ridge regression misses held-out workloads by a log RMSE of about 0.5, extremely
randomized trees (Geurts et al., 2006) by about 0.3 (docs/benchmarks.md, "Cold start"). The
trees are fitted with scikit-learn and packed into one float32 array ``(trees, nodes, 5)``
(feature, threshold, left child, right child, value per node; a leaf has children -1), so that
they are a weight of the baseline layer: saved with the model, and evaluated in numpy by
:func:`~pitot_tf.models.packed_trees.predict_trees` when a new workload arrives.
"""

from __future__ import annotations

import numpy as np

from pitot_tf.models.packed_trees import FEATURE, LEFT, RIGHT, THRESHOLD, VALUE, predict_trees

# scikit-learn is imported where trees are fitted, not here: every model imports this module
# (for max_nodes), and importing scikit-learn costs a training run about a second and
# 30-90 MiB it never uses unless model.cold_baseline fits trees.

#: Trees per forest, share of features tried per split, fewest rows per leaf.
TREES, MAX_FEATURES, MIN_LEAF = 100, 0.5, 2
#: Folds of the out-of-fold predictions (:func:`out_of_fold`).
FOLDS = 10


def max_nodes(rows: int) -> int:
    """Nodes a tree of ``rows`` training rows can have: with at least :data:`MIN_LEAF` rows
    per leaf it has at most ``rows // MIN_LEAF`` leaves, ``2 * leaves - 1`` nodes."""
    return max(2 * (rows // MIN_LEAF) - 1, 1)


def empty_trees(nodes: int) -> np.ndarray:
    """``(TREES, nodes, 5)`` trees that predict 0 everywhere (a single leaf each)."""
    packed = np.zeros((TREES, nodes, 5), np.float32)
    packed[:, :, [LEFT, RIGHT]] = -1.0
    return packed


def fit_trees(values: np.ndarray, features: np.ndarray, nodes: int, seed: int) -> np.ndarray:
    """A forest fitted to ``values`` ``(n,)`` from ``features`` ``(n, f)``, packed into
    ``(TREES, nodes, 5)``; ``nodes`` must be at least :func:`max_nodes` of ``n``."""
    packed = empty_trees(nodes)
    if len(values) < 2 * MIN_LEAF:  # too few rows to split: every tree is their mean
        packed[:, 0, VALUE] = float(np.mean(values)) if len(values) else 0.0
        return packed
    from sklearn.ensemble import ExtraTreesRegressor

    forest = ExtraTreesRegressor(TREES, max_features=MAX_FEATURES, min_samples_leaf=MIN_LEAF,
                                 random_state=seed, n_jobs=1)
    forest.fit(np.asarray(features, np.float32), np.asarray(values, np.float64))
    for index, estimator in enumerate(forest.estimators_):
        tree = estimator.tree_
        count = tree.node_count
        if count > nodes:
            raise ValueError(f"a tree has {count} nodes, more than the {nodes} stored")
        packed[index, :count, FEATURE] = np.maximum(tree.feature, 0)
        packed[index, :count, THRESHOLD] = tree.threshold
        packed[index, :count, LEFT] = tree.children_left
        packed[index, :count, RIGHT] = tree.children_right
        packed[index, :count, VALUE] = tree.value[:, 0, 0]
    return packed


def folds(rows: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, held-out) row indices of :data:`FOLDS` shuffled folds; none with fewer than
    ``2 * FOLDS`` rows (every row then gets the mean: too few to fit on the others)."""
    if rows < 2 * FOLDS:
        return []
    from sklearn.model_selection import KFold

    return list(KFold(FOLDS, shuffle=True, random_state=seed).split(np.zeros((rows, 1))))


def out_of_fold(values: np.ndarray, features: np.ndarray, nodes: int, seed: int) -> np.ndarray:
    """``(n,)`` predictions of each row by trees fitted on the other folds (:func:`folds`):
    what the trees would predict for it had it never been measured (its in-sample prediction
    is close to its own value, so cold dropout would learn that a cold term is exact)."""
    predicted = np.full(len(values), float(np.mean(values)) if len(values) else 0.0, np.float32)
    for fold, (train, held) in enumerate(folds(len(values), seed)):
        packed = fit_trees(values[train], features[train], nodes, seed + fold)
        predicted[held] = predict_trees(packed, features[held])
    return predicted
