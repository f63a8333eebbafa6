"""The linear-scaling baseline ``log t ≈ a_p + b_w``, fitted before training.

Most of the variance in log runtime is "this platform is fast" plus "this workload is long";
fitting that first by alternating least squares (as the reference does) leaves the networks
to learn only the interaction. The result is stored as weights of a layer and, by default,
trained with the rest of the model from that least-squares start, as the reference does
(``model.baseline_trainable``; false keeps it frozen).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops
from threadpoolctl import threadpool_limits

from pitot_tf.models.feature_trees import TREES, predict_trees
from pitot_tf.models.rows import RowWeight


def fit_linear_scaling(
    log_runtime: np.ndarray,
    platform: np.ndarray,
    workload: np.ndarray,
    shape: tuple[int, int],
    max_iter: int = 1000,
    tol: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares ``a`` (per platform) and ``b`` (per workload) with ``log t ≈ a_p + b_w``.

    Alternates the closed-form row and column means of the residual; rows or columns with no
    observation keep 0. Repeated (platform, workload) cells simply count more than once.
    """
    n_platforms, n_workloads = shape
    y = np.asarray(log_runtime, dtype=np.float64)
    count_p = np.maximum(np.bincount(platform, minlength=n_platforms), 1)
    count_w = np.maximum(np.bincount(workload, minlength=n_workloads), 1)
    a = np.zeros(n_platforms)
    b = np.zeros(n_workloads)
    for _ in range(max_iter):
        a_new = np.bincount(platform, y - b[workload], n_platforms) / count_p
        b_new = np.bincount(workload, y - a_new[platform], n_workloads) / count_w
        delta = np.abs(a_new - a).sum() + np.abs(b_new - b).sum()
        a, b = a_new, b_new
        if delta < tol:
            break
    return a.astype(np.float32), b.astype(np.float32)


#: Ridge penalties :func:`fit_from_features` chooses from by leave-one-out error.
RIDGE_GRID: tuple[float, ...] = tuple(10.0 ** k for k in range(-2, 5))


def fit_from_features(
    values: np.ndarray, features: np.ndarray, observed: np.ndarray, ridge: float | None = None
) -> np.ndarray:
    """Ridge regression ``values ≈ [features, 1] @ coef`` on the observed rows; returns ``coef``.

    It lets a platform or workload with no measurements fall back to what its side features
    predict for its baseline term (cold start), instead of a meaningless 0. The penalty is
    ``ridge``, or when None the one of :data:`RIDGE_GRID` with the least leave-one-out
    squared error over the observed rows: with about as many features as observed rows (141
    opcode features, 150 workloads) a fixed small penalty fits the observed rows and misses
    unseen ones by orders of magnitude (docs/benchmarks.md, "Cold start").

    The matrices are small (about 150 x 142), so BLAS runs on one thread: OpenBLAS's threads
    cost 60 times the CPU here when other work shares the cores (2.8 against 0.05 CPU s for
    the 14 solves of a run, docs/benchmarks.md, "Time to accuracy").
    """
    x = np.hstack([features[observed], np.ones((int(observed.sum()), 1))]).astype(np.float64)
    if len(x) == 0:
        return np.zeros(features.shape[1] + 1, np.float32)
    y = np.asarray(values, dtype=np.float64)[observed]
    penalties = RIDGE_GRID if ridge is None else (ridge,)
    with threadpool_limits(limits=1, user_api="blas"):
        fits = [_ridge(x, y, penalty) for penalty in penalties]
    best = min(fits, key=lambda fit: fit[1])
    return best[0].astype(np.float32)


def _ridge(x: np.ndarray, y: np.ndarray, ridge: float) -> tuple[np.ndarray, float]:
    """Coefficients (intercept not shrunk) and their mean leave-one-out squared error, from
    the hat matrix: the left-out residual of row ``i`` is ``r_i / (1 - H_ii)``."""
    penalty = ridge * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0  # do not shrink the intercept
    inverse = np.linalg.pinv(x.T @ x + penalty)
    coef = inverse @ x.T @ y
    leverage = np.einsum("ij,jk,ik->i", x, inverse, x)
    left_out = (y - x @ coef) / np.maximum(1.0 - leverage, 1e-9)
    return coef, float(np.mean(left_out**2))


def predict_from_features(coef: np.ndarray, features: np.ndarray) -> np.ndarray:
    """The baseline term that :func:`fit_from_features`' coefficients give each row."""
    return (features @ coef[:-1] + coef[-1]).astype(np.float32)


@keras.saving.register_keras_serializable(package="pitot_tf")
class LinearScaling(keras.layers.Layer):
    """``a_p + b_w + offset`` from stored tables; shape ``(batch, 1)``.

    ``a``, ``b`` and the offset are trainable when ``trainable_scales`` (the optimizer then
    refines the least-squares fit); the ridge coefficients never are. Also stores the ridge
    coefficients from side features to ``a`` and ``b``, so that rows added later (a new
    platform or workload known only by its features) get a baseline; with ``tree_nodes`` > 0
    (``model.cold_baseline=trees``) also a forest per axis of trees of up to that many nodes,
    which then gives that baseline instead (:meth:`feature_term`).

    With ``cold_scales`` (a model trained with ``model.cold_dropout``) it also stores what
    those predictors give every row (:meth:`set_cold_scales`), and ``call`` takes
    per-row 0/1 masks of platforms and workloads to treat as cold: their term is then the
    feature-predicted one, as for a row never measured (:mod:`pitot_tf.models.cold_dropout`).
    """

    def __init__(
        self, platforms: int, workloads: int, platform_features: int = 0,
        workload_features: int = 0, trainable_scales: bool = False, cold_scales: bool = False,
        tree_nodes: int = 0, **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.platforms, self.workloads = platforms, workloads
        self.trainable_scales, self.cold_scales = trainable_scales, cold_scales
        self.tree_nodes = tree_nodes
        self.feature_dims = (platform_features, workload_features)
        self.platform_scale = self.add_weight(
            shape=(platforms,), initializer="zeros", trainable=trainable_scales,
            name="platform_scale",
        )
        self.workload_scale = self.add_weight(
            shape=(workloads,), initializer="zeros", trainable=trainable_scales,
            name="workload_scale",
        )
        self.offset = self.add_weight(
            shape=(), initializer="zeros", trainable=trainable_scales, name="offset"
        )
        self.platform_regression = self.add_weight(
            shape=(platform_features + 1,), initializer="zeros", trainable=False,
            name="platform_regression",
        )
        self.workload_regression = self.add_weight(
            shape=(workload_features + 1,), initializer="zeros", trainable=False,
            name="workload_regression",
        )
        if tree_nodes:  # not sized by ``platforms``: a grown model (cold start) keeps them
            self.platform_trees, self.workload_trees = (self.add_weight(
                shape=(TREES, tree_nodes, 5), initializer="zeros", trainable=False,
                name=f"{axis}_trees") for axis in ("platform", "workload"))
            # 1 where an axis' forest, 0 where its ridge regression, predicts a new row.
            self.use_trees = self.add_weight(shape=(2,), initializer="zeros", trainable=False,
                                             name="use_trees")
        if cold_scales:
            self.platform_cold_scale = self.add_weight(
                shape=(platforms,), initializer="zeros", trainable=False,
                name="platform_cold_scale",
            )
            self.workload_cold_scale = self.add_weight(
                shape=(workloads,), initializer="zeros", trainable=False,
                name="workload_cold_scale",
            )

    def set_values(
        self, platform_scale: np.ndarray, workload_scale: np.ndarray, offset: float,
        platform_regression: np.ndarray | None = None,
        workload_regression: np.ndarray | None = None,
    ) -> None:
        self.platform_scale.assign(platform_scale.astype("float32"))
        self.workload_scale.assign(workload_scale.astype("float32"))
        self.offset.assign(float(offset))
        if platform_regression is not None:
            self.platform_regression.assign(platform_regression.astype("float32"))
        if workload_regression is not None:
            self.workload_regression.assign(workload_regression.astype("float32"))

    def set_trees(self, trees: list[np.ndarray | None], use: list[bool]) -> None:
        """Store the packed forests of platforms and workloads (only with ``tree_nodes``; a
        None forest stays empty) and whether each axis uses its forest or its regression."""
        for weight, packed in zip((self.platform_trees, self.workload_trees), trees, strict=True):
            if packed is not None:
                weight.assign(packed.astype("float32"))
        self.use_trees.assign(np.asarray(use, "float32"))

    def feature_term(self, axis: str, features: np.ndarray) -> np.ndarray:
        """``(n,)`` baseline term of ``n`` rows of ``axis`` known only by their features:
        what the axis' forest predicts where it uses one, else the ridge regression."""
        index = 0 if axis == "platform" else 1
        if self.tree_nodes and float(self.use_trees.numpy()[index]) > 0.5:
            trees = self.platform_trees if axis == "platform" else self.workload_trees
            return predict_trees(np.asarray(trees.numpy()), features)
        regression = self.platform_regression if axis == "platform" else self.workload_regression
        return predict_from_features(np.asarray(regression.numpy()), features.astype("float32"))

    def set_cold_scales(self, platform_terms: np.ndarray, workload_terms: np.ndarray) -> None:
        """Store the term every row gets when cold dropout drops it (only with
        ``cold_scales``): what its features predict, out of fold for measured rows."""
        self.platform_cold_scale.assign(platform_terms.astype("float32"))
        self.workload_cold_scale.assign(workload_terms.astype("float32"))

    def row_weights(self) -> list[RowWeight]:
        """The per-platform and per-workload terms (a new row's comes from its features)."""
        rows = [RowWeight(self.platform_scale, "platform", "scale"),
                RowWeight(self.workload_scale, "workload", "scale")]
        if self.cold_scales:
            rows += [RowWeight(self.platform_cold_scale, "platform", "scale"),
                     RowWeight(self.workload_cold_scale, "workload", "scale")]
        return rows

    def restore_unfitted(self, fitted: dict[str, np.ndarray],
                         features: dict[str, np.ndarray]) -> None:
        """Reset the scales of rows not ``fitted[axis]`` (a boolean mask) to what their
        ``features[axis]`` predict (:meth:`feature_term`). A trainable baseline never gets a
        gradient for such rows, only weight decay; restoring them keeps a cold row's baseline
        equal to the one :func:`pitot_tf.models.cold.extend_model` gives a new row."""
        tables = {"platform": self.platform_scale, "workload": self.workload_scale}
        for axis, scale in tables.items():
            unfitted = ~fitted[axis]
            if not unfitted.any():
                continue
            values = np.array(scale.numpy())
            values[unfitted] = self.feature_term(axis, features[axis][unfitted])
            scale.assign(values)

    def call(self, platform: object, workload: object, platform_cold: object = None,
             workload_cold: object = None) -> Any:
        platform_scale, workload_scale = self.platform_scale, self.workload_scale
        if self.cold_scales and platform_cold is not None:
            platform_scale = _blend(platform_scale, self.platform_cold_scale, platform_cold)
        if self.cold_scales and workload_cold is not None:
            workload_scale = _blend(workload_scale, self.workload_cold_scale, workload_cold)
        value = ops.take(platform_scale, platform) + ops.take(workload_scale, workload)
        return ops.expand_dims(value + self.offset, -1)

    def get_config(self) -> dict[str, object]:
        return {
            **super().get_config(), "platforms": self.platforms, "workloads": self.workloads,
            "platform_features": self.feature_dims[0], "workload_features": self.feature_dims[1],
            "trainable_scales": self.trainable_scales, "cold_scales": self.cold_scales,
            "tree_nodes": self.tree_nodes,
        }


def _blend(warm: Any, cold: Any, mask: Any) -> Any:
    """``warm`` where ``mask`` (0/1) is 0, ``cold`` where it is 1."""
    mask = ops.cast(mask, warm.dtype)
    return warm * (1.0 - mask) + cold * mask
