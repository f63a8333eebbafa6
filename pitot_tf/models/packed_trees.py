"""Packed forests (:mod:`pitot_tf.models.feature_trees`) evaluated in numpy alone.

A forest is one float32 array ``(trees, nodes, 5)``: per node its feature, threshold, left
and right child (-1 for a leaf) and value. Fitting needs scikit-learn; predicting needs only
this module, so that the served model (:mod:`pitot_tf.models.numpy_predictor`) gives a new
workload its baseline term without scikit-learn or Keras.
"""

from __future__ import annotations

import numpy as np

#: The five numbers stored per node, in this order.
FEATURE, THRESHOLD, LEFT, RIGHT, VALUE = range(5)
__all__ = ["FEATURE", "LEFT", "RIGHT", "THRESHOLD", "VALUE", "predict_trees"]


def predict_trees(packed: np.ndarray, features: np.ndarray) -> np.ndarray:
    """``(n,)`` float32 mean over the trees of ``packed`` of the leaf each row falls in."""
    x = np.asarray(features, np.float32)
    trees = np.arange(packed.shape[0])[None, :]
    node = np.zeros((len(x), packed.shape[0]), np.int64)
    rows = np.arange(len(x))[:, None]
    for _ in range(packed.shape[1]):  # a path visits each node at most once
        at = packed[trees, node]  # (n, trees, 5)
        inner = at[..., LEFT] >= 0
        if not inner.any():
            break
        go_left = x[rows, at[..., FEATURE].astype(np.int64)] <= at[..., THRESHOLD]
        child = np.where(go_left, at[..., LEFT], at[..., RIGHT]).astype(np.int64)
        node = np.where(inner, child, node)
    return packed[trees, node][..., VALUE].mean(axis=1).astype(np.float32)
