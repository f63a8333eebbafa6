"""Pitot's forward pass in numpy, from tables computed once: serving a row in microseconds.

The Keras model runs both towers (an MLP over every platform and every workload, or in
training over the batch's rows, :mod:`pitot_tf.models.batch_rows`) on each call, although
their outputs only change when the weights do.
:func:`~pitot_tf.models.numpy_export.numpy_pitot` runs them once and keeps every member's tables
(:class:`~pitot_tf.models.interference.PitotTables`: ``x_w``, ``x_p``, ``Vs``, ``Vg``) and
baseline terms ``a_p``, ``b_w`` and offset in a :class:`NumpyPitot`.
:meth:`NumpyPitot.predict` then evaluates, per member ``e``, the equation of
:mod:`pitot_tf.models.pitot`::

    log t_e = (a_p + b_w + offset) + pitot_term_e(p, w, i)

with the very functions the Keras layer calls (:func:`~pitot_tf.models.interference.pitot_term`:
``gather_rows`` then ``row_term``, here on numpy arrays), and averages the members as the
Keras ensemble does; in float32 and in the Keras model's order of operations, so both agree
to float32 rounding. Both interference forms, quantile heads, cold-dropout biases and
ensembles (shared towers or not) are served.

A new workload or platform known only by its features (cold start) gets a row of its own
from :meth:`NumpyPitot.with_workloads` or :meth:`NumpyPitot.with_platforms`, exactly as
:func:`pitot_tf.models.cold.extend_model` would give it (free features set to their neutral
value, baseline term from what its features predict), but only its own tower output is
computed: :class:`~pitot_tf.models.numpy_new_rows.NewWorkloads` and
:class:`~pitot_tf.models.numpy_new_rows.NewPlatforms` hold the towers' MLPs
(:class:`~pitot_tf.models.numpy_mlp.DenseStack`) and the baselines' feature predictors as
plain arrays.

This module imports numpy and nothing that imports Keras or TensorFlow: it is what the served
``pyfunc-model`` predicts with (saved and loaded by :mod:`pitot_tf.models.numpy_store`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np

from pitot_tf.errors import PredictionError
from pitot_tf.models.fold_in import DEFAULT_RESCALE, Entity, FoldInPrior, Measurements
from pitot_tf.models.fold_in_tables import fold_in
from pitot_tf.models.interference import NUMPY_OPS, Equation, PitotTables, pitot_term
from pitot_tf.models.numpy_new_rows import NewPlatforms, NewWorkloads, feature_rows

#: The choices of :attr:`NumpyPitot.fold_interference`.
FOLD_INTERFERENCE = ("zero-shot", "refitted")


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
    #: What a workload's fold-in moves (:data:`FOLD_INTERFERENCE`): ``zero-shot``, its
    #: embedding in runs alone only, its interference with co-runners as the model gave it;
    #: ``refitted``, its embedding everywhere, interference included.
    fold_interference: str = "zero-shot"
    #: What a new platform needs (None: tables logged before platforms could be added).
    new_platforms: NewPlatforms | None = field(default=None, compare=False)

    @property
    def feature_dim(self) -> int:
        """How many features a new workload needs."""
        return self.new_workloads.feature_dim

    @property
    def platform_feature_dim(self) -> int | None:
        """How many features a new platform needs (None: these tables cannot add one)."""
        return None if self.new_platforms is None else self.new_platforms.feature_dim

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
        features = feature_rows(features, self.new_workloads.feature_dim, "workload")
        x_w, bias = self.new_workloads.tables(features)
        tables = replace(self.tables, x_w=np.concatenate([self.tables.x_w, x_w]))
        if tables.x_w_alone is not None:
            tables = replace(tables, x_w_alone=np.concatenate([tables.x_w_alone, x_w]))
        if bias is not None:
            tables = replace(tables, workload_bias=np.concatenate([tables.workload_bias, bias]))
        scale = np.concatenate([self.workload_scale, self.new_workloads.baseline(features)],
                               axis=1)
        return replace(self, tables=tables, workload_scale=scale)

    def with_platforms(self, features: np.ndarray) -> NumpyPitot:
        """A copy with one new platform row per row of ``features`` (indices from
        :attr:`platforms` on); PredictionError if the feature count does not fit or the
        tables were saved without their platform towers."""
        new = self.new_platforms
        if new is None:
            raise PredictionError("this model's tables were saved without its platform towers "
                                  "(logged by an older version): log it again to predict a "
                                  "new platform from its features")
        features = feature_rows(features, new.feature_dim, "platform")
        x_p, v_s, v_g, bias = new.tables(features)
        t = self.tables
        tables = replace(t, x_p=np.concatenate([t.x_p, x_p]), v_s=np.concatenate([t.v_s, v_s]),
                         v_g=np.concatenate([t.v_g, v_g]))
        if bias is not None:
            tables = replace(tables, platform_bias=np.concatenate([t.platform_bias, bias]))
        scale = np.concatenate([self.platform_scale, new.baseline(features)], axis=1)
        return replace(self, tables=tables, platform_scale=scale)

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
