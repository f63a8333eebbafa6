"""Pitot's forward pass in numpy, from tables computed once: serving a row in microseconds.

The Keras model runs both towers (an MLP over every platform and every workload) on each call,
although their outputs only change when the weights do.
:func:`~pitot_tf.models.numpy_export.numpy_pitot` runs them once and keeps every member's tables
(:class:`~pitot_tf.models.interference.PitotTables`: ``x_w``, ``x_p``, ``Vs``, ``Vg``) and
baseline terms ``a_p``, ``b_w`` and offset in a :class:`NumpyPitot`.
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
predict), but only its own tower output is computed: :class:`NewWorkloads` holds the
workload towers' MLPs (:class:`~pitot_tf.models.numpy_mlp.DenseStack`) and the baselines'
feature predictors as plain arrays.

This module imports numpy and nothing that imports Keras or TensorFlow: it is what the served
``pyfunc-model`` predicts with (saved and loaded by :mod:`pitot_tf.models.numpy_store`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np

from pitot_tf.errors import PredictionError
from pitot_tf.models.fold_in import DEFAULT_RESCALE, Entity, FoldInPrior, Measurements
from pitot_tf.models.fold_in_tables import fold_in
from pitot_tf.models.interference import NUMPY_OPS, Equation, PitotTables, TowerLayout, pitot_term
from pitot_tf.models.numpy_mlp import DenseStack
from pitot_tf.models.packed_trees import predict_trees


@dataclass(frozen=True)
class NewTower:
    """A workload tower, as far as a new row needs it (``Tower.embed_new`` in numpy): its
    output layout, its MLP (None for an embedding tower), the neutral free part a new row gets
    (None without free features) and the feature standardisation (None without)."""

    layout: TowerLayout
    mlp: DenseStack | None
    neutral: np.ndarray | None = None
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None

    def embed(self, features: np.ndarray) -> np.ndarray:
        """``(n, workload_width)`` float32 tower output of ``n`` new rows."""
        if self.mlp is None:
            if self.neutral is None:
                raise PredictionError("an embedding tower without a neutral row")
            return np.repeat(self.neutral[None], len(features), axis=0).astype(np.float32)
        x = np.asarray(features, dtype=np.float32)
        if self.mean is not None and self.scale is not None:
            x = (x - self.mean) / self.scale
        if self.neutral is not None:
            x = np.concatenate([x, np.repeat(self.neutral[None], len(x), axis=0)], axis=1)
        return self.mlp(x)

    def rows(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``x_w (n, E, H, d)`` and the bias ``(n, E, H)`` (None without) of new rows."""
        x_w, bias = self.layout.workload(self.embed(features), NUMPY_OPS)
        return np.asarray(x_w), None if bias is None else np.asarray(bias)


@dataclass(frozen=True)
class FeatureBaseline:
    """A baseline layer's term for a new workload from its features
    (``LinearScaling.feature_term``): a packed forest where it uses one, else ridge
    coefficients ``(features + 1,)``."""

    coef: np.ndarray
    trees: np.ndarray | None = None

    def term(self, features: np.ndarray) -> np.ndarray:
        """``(n,)`` float32 baseline term ``b_w``."""
        if self.trees is not None:
            return predict_trees(self.trees, features)
        x = np.asarray(features, dtype=np.float32)
        return (x @ self.coef[:-1] + self.coef[-1]).astype(np.float32)


@dataclass(frozen=True)
class NewWorkloads:
    """What embedding a new workload needs: each Pitot layer's workload tower (one, or one per
    member of an ensemble without shared towers) and every member's feature baseline."""

    towers: tuple[NewTower, ...]
    baselines: tuple[FeatureBaseline, ...]
    feature_dim: int

    def tables(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``x_w (n, E, H, d)`` and the bias ``(n, E, H)`` (None without) of ``n`` new
        workloads, members side by side as in :class:`NumpyPitot`."""
        rows = [tower.rows(features) for tower in self.towers]
        biases = [bias for _, bias in rows if bias is not None]
        return (np.concatenate([x_w for x_w, _ in rows], axis=1),
                np.concatenate(biases, axis=1) if biases else None)

    def baseline(self, features: np.ndarray) -> np.ndarray:
        """``(E, n)`` baseline term ``b_w`` of new workloads per member, from their features."""
        return np.stack([base.term(features) for base in self.baselines])


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
    #: Per axis, the fold-in prior as trained rows' deviations give it
    #: (:func:`~pitot_tf.models.numpy_export.fold_in_priors`; empty: no fold-in), and the
    #: rescaling it is used with (:func:`~pitot_tf.models.fold_in.rescaled`).
    fold_in_priors: dict[str, FoldInPrior] = field(default_factory=dict, compare=False)
    prior_rescale: dict[str, tuple[float, float, float]] = field(
        default_factory=lambda: dict.fromkeys(("workload", "platform"), DEFAULT_RESCALE),
        compare=False)

    @property
    def feature_dim(self) -> int:
        """How many features a new workload needs."""
        return self.new_workloads.feature_dim

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

    def fold_in(self, entity: Entity, measurements: Measurements) -> NumpyPitot:
        """A copy with ``entity``'s row refitted to its ``measurements`` (runs without
        co-runners), the rest frozen: :func:`pitot_tf.models.fold_in_tables.fold_in`."""
        return fold_in(self, entity, measurements)


def side_by_side(tables: list[PitotTables]) -> PitotTables:
    """The members of several layers' tables on one member axis (axis 1 of every table)."""
    names = [field.name for field in fields(PitotTables)]
    return PitotTables(**{
        name: None if getattr(tables[0], name) is None
        else np.concatenate([getattr(t, name) for t in tables], axis=1) for name in names})
