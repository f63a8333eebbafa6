"""Pitot's forward pass in numpy, from tables computed once: serving a row in microseconds.

The Keras model runs both towers (an MLP over every platform and every workload) on each call,
although their outputs only change when the weights do. :meth:`NumpyPitot.from_model` runs them
once and keeps, per platform, ``x_p``, ``Vs`` and ``Vg`` and its baseline term ``a_p``, and per
workload its embedding ``x_w`` and baseline term ``b_w``. :meth:`NumpyPitot.predict` then
gathers those rows and evaluates the equation of :mod:`pitot_tf.models.pitot`::

    log t = (a_p + b_w + offset) + <x_w, x_p> + Σ_k <x_w, Vs_p,k> · leaky_relu(<Σ_i x_i, Vg_p,k>)

in float32 and in the Keras model's order of operations, so both agree to float32 rounding.

A new workload known only by its features (cold start) gets a row of its own from
:meth:`NumpyPitot.with_workloads`, exactly as :func:`pitot_tf.models.cold.extend_model` would
give it (free features set to their neutral value, baseline term from what its features
predict), but only its own tower output is computed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import keras
import numpy as np

from pitot_tf.errors import PredictionError
from pitot_tf.models.baseline import LinearScaling
from pitot_tf.models.pitot import PitotInteraction
from pitot_tf.models.towers import Tower


@dataclass(frozen=True)
class WorkloadTower:
    """What embedding a new workload needs: the Keras tower (its MLP, or its free table) and
    the baseline layer, whose predictor from features gives ``b_w``."""

    tower: Tower
    baseline_layer: LinearScaling
    feature_dim: int

    def embed(self, features: np.ndarray) -> np.ndarray:
        """``(n, out_dim)`` tower output of ``n`` new workloads, as :func:`extend_model` gives
        them: side features, and free features at their neutral value (the mean of the trained
        rows, or zeros after cold dropout: :meth:`~pitot_tf.models.rows.RowWeight.neutral_row`)."""
        tower = self.tower
        neutral = tower.neutral_free()
        if tower.kind != "hybrid" and neutral is not None:
            return np.repeat(neutral[None], len(features), axis=0)
        x = features.astype(np.float32)
        if neutral is not None:
            x = np.concatenate([x, np.repeat(neutral[None], len(features), axis=0)], axis=1)
        for dense in [*tower.hidden, tower.head]:
            x = dense(x)
        return np.asarray(keras.ops.convert_to_numpy(x), dtype=np.float32)

    def baseline(self, features: np.ndarray) -> np.ndarray:
        """``(n,)`` baseline term ``b_w`` of new workloads, from their features."""
        return self.baseline_layer.feature_term("workload", features.astype(np.float32))


@dataclass(frozen=True)
class NumpyPitot:
    """Per-platform and per-workload tables of a trained Pitot model (float32); read-only, so
    one instance serves concurrent requests."""

    platform_scale: np.ndarray  # (P,)  a_p
    workload_scale: np.ndarray  # (W,)  b_w
    offset: np.float32
    x_w: np.ndarray  # (W, heads, d)
    x_p: np.ndarray  # (P, d)
    v_s: np.ndarray  # (P, k, d)
    v_g: np.ndarray  # (P, k, d)
    if_slope: np.float32
    interference: bool
    new_workloads: WorkloadTower

    @classmethod
    def from_model(cls, model: keras.Model) -> NumpyPitot | None:
        """Tables of a model built by :func:`pitot_tf.models.build_model` with Pitot as its
        interaction; None for any other model (the caller then asks the Keras model)."""
        pitot = [layer for layer in model.layers if isinstance(layer, PitotInteraction)]
        baseline = [layer for layer in model.layers if isinstance(layer, LinearScaling)]
        if len(pitot) != 1 or len(baseline) != 1 or pitot[0].reference_form or pitot[0].bias:
            return None  # the reference form and cold-dropout biases: the Keras model
        layer, base = pitot[0], baseline[0]
        workload, x_p, v_s, v_g = (np.asarray(keras.ops.convert_to_numpy(t), dtype=np.float32)
                                   for t in layer.embeddings())
        return cls(
            platform_scale=np.asarray(base.platform_scale.numpy(), dtype=np.float32),
            workload_scale=np.asarray(base.workload_scale.numpy(), dtype=np.float32),
            offset=np.float32(base.offset.numpy()), x_w=workload, x_p=x_p, v_s=v_s, v_g=v_g,
            if_slope=np.float32(layer.if_slope), interference=bool(layer.model_interference),
            new_workloads=WorkloadTower(layer.workload_tower, base, int(base.feature_dims[1])),
        )

    @property
    def workloads(self) -> int:
        return int(self.x_w.shape[0])

    @property
    def heads(self) -> int:
        return int(self.x_w.shape[1])

    def predict(self, platform: np.ndarray, workload: np.ndarray,
                interferers: np.ndarray) -> np.ndarray:
        """``(n, heads)`` float32 log runtime; ``interferers`` is ``(n, J)`` workload indices,
        ``-1`` for an empty slot (as the Keras model's input)."""
        base = (self.platform_scale[platform] + self.workload_scale[workload]) + self.offset
        x_w = self.x_w[workload]
        x_p = self.x_p[platform]
        interaction = np.sum(x_w * x_p[:, None, :], axis=-1)
        if self.interference:
            susceptibility = np.einsum("bhd,bkd->bhk", x_w, self.v_s[platform])
            # pressure is linear in the co-runners' embeddings: sum them first, contract once.
            present = (interferers >= 0).astype(np.float32)
            x_i = self.x_w[np.maximum(interferers, 0)] * present[:, :, None, None]
            pressure = np.einsum("bhd,bkd->bhk", np.sum(x_i, axis=1), self.v_g[platform])
            rectified = np.maximum(pressure * self.if_slope, pressure)  # leaky ReLU, slope < 1
            interaction = interaction + np.sum(susceptibility * rectified, axis=-1)
        return np.asarray(base[:, None] + interaction, dtype=np.float32)

    def with_workloads(self, features: np.ndarray) -> NumpyPitot:
        """A copy with one new workload row per row of ``features`` (indices from
        :attr:`workloads` on); PredictionError if the feature count does not fit."""
        features = np.asarray(features, dtype=np.float32)
        dim = self.new_workloads.feature_dim
        if features.ndim != 2 or features.shape[1] != dim:
            got = features.shape[1] if features.ndim == 2 else features.shape
            raise PredictionError(f"a new workload needs {dim} features, got {got}")
        embedded = self.new_workloads.embed(features).reshape(len(features), *self.x_w.shape[1:])
        return replace(
            self, x_w=np.concatenate([self.x_w, embedded]),
            workload_scale=np.concatenate([self.workload_scale,
                                           self.new_workloads.baseline(features)]))

