"""Pitot's forward pass in numpy, from tables computed once: serving a row in microseconds.

The Keras model runs both towers (an MLP over every platform and every workload) on each call,
although their outputs only change when the weights do. :meth:`NumpyPitot.from_model` runs them
once and keeps every member's tables (:class:`~pitot_tf.models.interference.PitotTables`:
``x_w``, ``x_p``, ``Vs``, ``Vg``) and baseline terms ``a_p``, ``b_w`` and offset.
:meth:`NumpyPitot.predict` then evaluates, per member ``e``, the equation of
:mod:`pitot_tf.models.pitot`::

    log t_e = (a_p + b_w + offset) + pitot_term_e(p, w, i)

with the very function the Keras layer calls (:func:`~pitot_tf.models.interference.pitot_term`,
here on numpy arrays), and averages the members as the Keras ensemble does; in float32 and in
the Keras model's order of operations, so both agree to float32 rounding. Both interference
forms, quantile heads, cold-dropout biases and ensembles (shared towers or not) are served.

A new workload known only by its features (cold start) gets a row of its own from
:meth:`NumpyPitot.with_workloads`, exactly as :func:`pitot_tf.models.cold.extend_model` would
give it (free features set to their neutral value, baseline term from what its features
predict), but only its own tower output is computed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import keras
import numpy as np

from pitot_tf.errors import PredictionError
from pitot_tf.models.baseline import LinearScaling
from pitot_tf.models.interference import NUMPY_OPS, Equation, PitotTables, pitot_term
from pitot_tf.models.parts import MissingPart, model_parts
from pitot_tf.models.pitot import PitotInteraction


@dataclass(frozen=True)
class NewWorkloads:
    """What embedding a new workload needs: each Pitot layer (one, or one per member of an
    ensemble without shared towers), whose workload tower and layout give its rows of ``x_w``,
    and every member's baseline layer, whose predictor from features gives ``b_w``."""

    layers: tuple[PitotInteraction, ...]
    baselines: tuple[LinearScaling, ...]
    feature_dim: int

    def tables(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``x_w (n, E, H, d)`` and the bias ``(n, E, H)`` (None without) of ``n`` new
        workloads, members side by side as in :meth:`NumpyPitot.from_model`."""
        rows = [layer.tower_layout.workload(layer.workload_tower.embed_new(features), NUMPY_OPS)
                for layer in self.layers]
        biases = [bias for _, bias in rows if bias is not None]
        return (np.concatenate([x_w for x_w, _ in rows], axis=1),
                np.concatenate(biases, axis=1) if biases else None)

    def baseline(self, features: np.ndarray) -> np.ndarray:
        """``(E, n)`` baseline term ``b_w`` of new workloads per member, from their features."""
        return np.stack([base.feature_term("workload", features) for base in self.baselines])


@dataclass(frozen=True)
class NumpyPitot:
    """Every member's tables and baseline terms of a trained Pitot model (float32, members
    side by side on the tables' member axis ``E``); read-only, so one instance serves
    concurrent requests."""

    tables: PitotTables
    equation: Equation
    platform_scale: np.ndarray  # (E, P)  a_p
    workload_scale: np.ndarray  # (E, W)  b_w
    offset: np.ndarray  # (E,)
    new_workloads: NewWorkloads

    @classmethod
    def from_model(cls, model: keras.Model) -> NumpyPitot | None:
        """Tables of a model built by :func:`pitot_tf.models.build_model` with Pitot as its
        interaction; None for any other model (the caller then asks the Keras model)."""
        try:
            parts = model_parts(model)
        except MissingPart:
            return None
        layers = parts.interactions
        if not all(isinstance(layer, PitotInteraction) for layer in layers):
            return None
        tables = [layer.tables().map(_numpy) for layer in layers]
        base = parts.baselines
        return cls(
            tables=_side_by_side(tables), equation=layers[0].equation,
            platform_scale=np.stack([_numpy(b.platform_scale) for b in base]),
            workload_scale=np.stack([_numpy(b.workload_scale) for b in base]),
            offset=np.stack([_numpy(b.offset) for b in base]),
            new_workloads=NewWorkloads(tuple(layers), base, int(base[0].feature_dims[1])),
        )

    @property
    def workloads(self) -> int:
        return int(self.tables.x_w.shape[0])

    @property
    def platforms(self) -> int:
        return int(self.tables.x_p.shape[0])

    def predict(self, platform: np.ndarray, workload: np.ndarray,
                interferers: np.ndarray) -> np.ndarray:
        """``(n, heads)`` float32 log runtime; ``interferers`` is ``(n, J)`` workload indices,
        ``-1`` for an empty slot (as the Keras model's input)."""
        members, heads = self.tables.x_w.shape[1:3]
        term = pitot_term(self.tables, self.equation, platform, workload, interferers, NUMPY_OPS)
        term = term.reshape(len(term), members, heads)
        # As LinearScaling, then the Add of baseline and interaction, then Average.
        base = (self.platform_scale[:, platform] + self.workload_scale[:, workload])
        base = base + self.offset[:, None]
        total = base[0][:, None] + term[:, 0]
        if members == 1:
            return np.asarray(total, dtype=np.float32)
        for e in range(1, members):
            total = total + (base[e][:, None] + term[:, e])
        return np.asarray(total / members, dtype=np.float32)

    def with_workloads(self, features: np.ndarray) -> NumpyPitot:
        """A copy with one new workload row per row of ``features`` (indices from
        :attr:`workloads` on); PredictionError if the feature count does not fit."""
        features = np.asarray(features, dtype=np.float32)
        dim = self.new_workloads.feature_dim
        if features.ndim != 2 or features.shape[1] != dim:
            got = features.shape[1] if features.ndim == 2 else features.shape
            raise PredictionError(f"a new workload needs {dim} features, got {got}")
        x_w, bias = self.new_workloads.tables(features)
        tables = replace(self.tables, x_w=np.concatenate([self.tables.x_w, x_w]))
        if bias is not None:
            tables = replace(tables, workload_bias=np.concatenate([tables.workload_bias, bias]))
        scale = np.concatenate([self.workload_scale, self.new_workloads.baseline(features)],
                               axis=1)
        return replace(self, tables=tables, workload_scale=scale)


def _numpy(value: object) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float32)


def _side_by_side(tables: list[PitotTables]) -> PitotTables:
    """The members of several layers' tables on one member axis (axis 1 of every table)."""
    names = [field.name for field in fields(PitotTables)]
    return PitotTables(**{
        name: None if getattr(tables[0], name) is None
        else np.concatenate([getattr(t, name) for t in tables], axis=1) for name in names})
