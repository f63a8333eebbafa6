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


def fit_from_features(
    values: np.ndarray, features: np.ndarray, observed: np.ndarray, ridge: float = 1.0
) -> np.ndarray:
    """Ridge regression ``values ≈ [features, 1] @ coef`` on the observed rows; returns ``coef``.

    It lets a platform or workload with no measurements fall back to what its side features
    predict for its baseline term (cold start), instead of a meaningless 0.
    """
    x = np.hstack([features[observed], np.ones((int(observed.sum()), 1))]).astype(np.float64)
    if len(x) == 0:
        return np.zeros(features.shape[1] + 1, np.float32)
    penalty = ridge * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0  # do not shrink the intercept
    coef = np.linalg.solve(x.T @ x + penalty, x.T @ values[observed])
    return coef.astype(np.float32)


def predict_from_features(coef: np.ndarray, features: np.ndarray) -> np.ndarray:
    """The baseline term that :func:`fit_from_features`' coefficients give each row."""
    return (features @ coef[:-1] + coef[-1]).astype(np.float32)


@keras.saving.register_keras_serializable(package="pitot_tf")
class LinearScaling(keras.layers.Layer):
    """``a_p + b_w + offset`` from stored tables; shape ``(batch, 1)``.

    ``a``, ``b`` and the offset are trainable when ``trainable_scales`` (the optimizer then
    refines the least-squares fit); the ridge coefficients never are. Also stores the ridge
    coefficients from side features to ``a`` and ``b``, so that rows added later (a new
    platform or workload known only by its features) get a baseline.
    """

    def __init__(
        self, platforms: int, workloads: int, platform_features: int = 0,
        workload_features: int = 0, trainable_scales: bool = False, **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.platforms, self.workloads = platforms, workloads
        self.trainable_scales = trainable_scales
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

    def row_weights(self) -> list[RowWeight]:
        """The per-platform and per-workload terms (a new row's comes from its features)."""
        return [RowWeight(self.platform_scale, "platform", "scale"),
                RowWeight(self.workload_scale, "workload", "scale")]

    def restore_unfitted(self, fitted: dict[str, np.ndarray],
                         features: dict[str, np.ndarray]) -> None:
        """Reset the scales of rows not ``fitted[axis]`` (a boolean mask) to what the ridge
        regression on their ``features[axis]`` predicts. A trainable baseline never gets a
        gradient for such rows, only weight decay; restoring them keeps a cold row's baseline
        equal to the one :func:`pitot_tf.models.cold.extend_model` gives a new row."""
        tables = {"platform": (self.platform_scale, self.platform_regression),
                  "workload": (self.workload_scale, self.workload_regression)}
        for axis, (scale, regression) in tables.items():
            unfitted = ~fitted[axis]
            if not unfitted.any():
                continue
            values = np.array(scale.numpy())
            values[unfitted] = predict_from_features(
                np.asarray(regression.numpy()), features[axis][unfitted])
            scale.assign(values)

    def call(self, platform: object, workload: object) -> Any:
        value = ops.take(self.platform_scale, platform) + ops.take(self.workload_scale, workload)
        return ops.expand_dims(value + self.offset, -1)

    def get_config(self) -> dict[str, object]:
        return {
            **super().get_config(), "platforms": self.platforms, "workloads": self.workloads,
            "platform_features": self.feature_dims[0], "workload_features": self.feature_dims[1],
            "trainable_scales": self.trainable_scales,
        }
