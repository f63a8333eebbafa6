"""Pitot: a side-information matrix factorization with a rectified interference term.

For workload ``w`` on platform ``p`` beside co-runners ``i``, per output head::

    log t ≈ baseline + <x_w, x_p> + Σ_k susceptibility_k · leaky_relu(pressure_k)
    susceptibility_k = <x_w, Vs_p,k>          (how much w suffers on p)
    pressure_k       = Σ_i <x_i, Vg_p,k>      (how hard the co-runners press)

Workload embeddings come from one tower (one ``mf_dim`` block per head); platform
embeddings ``x_p``, ``Vs_p`` and ``Vg_p`` from another.

That is the paper's form (``interference_form="paper"``). The reference code
(``pitot/pitot.py``, ``Pitot.evaluate``) computes the pressure differently:
``pressure_k = Σ_i <x_w, Vg[i],k>``, indexing the platform table ``Vg`` with the co-runner's
*workload* index (JAX clamps indices past the last platform to the last row) and contracting
with the target workload's own embedding; the platform never enters it. ``"reference"``
reproduces that, with the clamp made explicit: ``Vg[min(i, P - 1)]``.

With ``members=E > 1`` (an ensemble with shared towers, ``training.ensemble_share=towers``)
the towers' hidden layers and learned features are shared and each member has its own block
of the towers' output layers (its own ``x_w``, ``x_p``, ``Vs`` and ``Vg``): the output is
``(batch, E · heads)``, member ``e``'s heads in columns ``e · heads …``
(:mod:`pitot_tf.models.ensemble`).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from pitot_tf.config import Config
from pitot_tf.data.dataset import Dataset
from pitot_tf.models.rows import RowWeight
from pitot_tf.models.towers import Tower


@keras.saving.register_keras_serializable(package="pitot_tf")
class PitotInteraction(keras.layers.Layer):
    """Everything but the baseline: ``(platform, workload, interferers) → (batch, heads)``.

    ``interferers`` is ``(batch, J)`` with ``-1`` where a row has fewer than ``J`` co-runners.
    """

    def __init__(
        self,
        platforms: int,
        workloads: int,
        platform_features: int,
        workload_features: int,
        mf_dim: int = 32,
        if_dim: int = 2,
        if_slope: float = 0.1,
        heads: int = 1,
        interference: str = "model",
        interference_form: str = "paper",
        workload_tower: str = "hybrid",
        platform_tower: str = "hybrid",
        learned_features: int = 1,
        layers: tuple[int, ...] | list[int] = (128, 128),
        activation: str = "gelu",
        cold_dropout: float = 0.0,
        members: int = 1,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = dict(
            platforms=platforms,
            workloads=workloads,
            platform_features=platform_features,
            workload_features=workload_features,
            mf_dim=mf_dim,
            if_dim=if_dim,
            if_slope=if_slope,
            heads=heads,
            interference=interference,
            interference_form=interference_form,
            workload_tower=workload_tower,
            platform_tower=platform_tower,
            learned_features=learned_features,
            layers=list(layers),
            activation=activation,
            cold_dropout=cold_dropout,
            members=members,
        )
        if members > 1 and cold_dropout > 0:
            raise ValueError("shared-tower members (members > 1) do not support cold dropout")
        self.members = members
        self.mf_dim, self.if_dim, self.if_slope, self.heads = mf_dim, if_dim, if_slope, heads
        self.model_interference = interference == "model"
        self.reference_form = interference_form == "reference"
        self.platforms = platforms
        # Trained for cold start, each tower also gives every row a bias per head, added to
        # the output: a direct path from an entity's features to its log runtime, which the
        # product <x_w, x_p> of two towers (each starting near 0) learns only slowly.
        self.bias = heads if cold_dropout > 0 else 0
        shared: dict[str, Any] = dict(
            learned_features=learned_features, layers=layers, activation=activation,
            cold_neutral="zero" if cold_dropout > 0 else "mean",
        )
        self.workload_tower = Tower(
            workloads,
            workload_features,
            mf_dim * heads * members + self.bias,
            workload_tower,
            name="workload_tower",
            **shared,
        )
        self.platform_tower = Tower(
            platforms,
            platform_features,
            mf_dim * (1 + 2 * if_dim) * members + self.bias,
            platform_tower,
            name="platform_tower",
            **shared,
        )

    def build(self, *shapes: object, **named_shapes: object) -> None:
        """The towers own every weight and build in ``__init__``."""
        self.built = True

    def set_features(self, platform: np.ndarray, workload: np.ndarray) -> None:
        """Store both axes' side features in the towers."""
        self.platform_tower.set_features(platform)
        self.workload_tower.set_features(workload)

    def row_weights(self) -> list[RowWeight]:
        return [*self.platform_tower.row_weights("platform"),
                *self.workload_tower.row_weights("workload")]

    def embeddings(
        self, platform_cold: Any = None, workload_cold: Any = None
    ) -> tuple[Any, Any, Any, Any]:
        """Workload ``(W, heads, d)``, and platform ``x_p (P, d)``, ``Vs``, ``Vg (P, k, d)``;
        the ``*_cold`` masks (training with cold dropout) embed those rows as cold rows. With
        shared-tower members, member 0's."""
        if self.members > 1:
            workload, x_p, v_s, v_g = self._member_tables()
            return workload[:, : self.heads], x_p[:, 0], v_s[:, 0], v_g[:, 0]
        return self._tables(platform_cold, workload_cold)[:4]

    def _member_tables(self) -> tuple[Any, Any, Any, Any]:
        """Shared-tower members' tables per output column (member-major): workload
        ``(W, H, d)``, ``x_p (P, H, d)``, ``Vs`` and ``Vg (P, H, k, d)``, ``H = members ·
        heads``."""
        d, k, columns = self.mf_dim, self.if_dim, self.members * self.heads
        workload = self.workload_tower.embed()[:, : columns * d]
        workload = ops.reshape(workload, (-1, columns, d))
        platform = self.platform_tower.embed()[:, : self.members * (1 + 2 * k) * d]
        platform = ops.repeat(ops.reshape(platform, (-1, self.members, 1 + 2 * k, d)),
                              self.heads, axis=1)
        return workload, platform[:, :, 0], platform[:, :, 1 : 1 + k], platform[:, :, 1 + k :]

    def _tables(self, platform_cold: Any = None, workload_cold: Any = None) -> tuple[Any, ...]:
        """:meth:`embeddings`, then the per-row biases ``(P, heads)`` and ``(W, heads)`` (only
        with cold dropout; else None)."""
        d, k = self.mf_dim, self.if_dim
        workload_out = self.workload_tower.embed(workload_cold)
        workload = ops.reshape(workload_out[:, : self.heads * d], (-1, self.heads, d))
        platform = self.platform_tower.embed(platform_cold)
        x_p = platform[:, :d]
        v_s = ops.reshape(platform[:, d : d + k * d], (-1, k, d))
        v_g = ops.reshape(platform[:, d + k * d : d + 2 * k * d], (-1, k, d))
        if not self.bias:
            return workload, x_p, v_s, v_g, None, None
        return workload, x_p, v_s, v_g, platform[:, -self.bias :], workload_out[:, -self.bias :]

    def call(self, platform: object, workload: object, interferers: object,
             platform_cold: object = None, workload_cold: object = None) -> Any:
        if self.members > 1:
            return self._call_members(platform, workload, interferers)
        tables = self._tables(platform_cold, workload_cold)
        w_table, p_table, vs_table, vg_table, p_bias, w_bias = tables
        x_w = ops.take(w_table, workload, axis=0)
        x_p = ops.take(p_table, platform, axis=0)
        prediction = ops.sum(x_w * ops.expand_dims(x_p, 1), axis=-1)
        if self.bias:
            prediction = (prediction + ops.take(p_bias, platform, axis=0)
                          + ops.take(w_bias, workload, axis=0))
        if not self.model_interference:
            return prediction
        susceptibility = ops.einsum("bhd,bkd->bhk", x_w, ops.take(vs_table, platform, axis=0))
        present = ops.cast(ops.greater_equal(interferers, 0), x_w.dtype)
        if self.reference_form:
            pressure = self._reference_pressure(x_w, vg_table, interferers, present)
        else:
            pressure = self._paper_pressure(w_table, vg_table, platform, interferers, present)
        rectified = ops.leaky_relu(pressure, negative_slope=self.if_slope)
        return prediction + ops.sum(susceptibility * rectified, axis=-1)

    def _call_members(self, platform: Any, workload: Any, interferers: Any) -> Any:
        """:meth:`call` for shared-tower members: every table has a column axis ``h``."""
        w_table, p_table, vs_table, vg_table = self._member_tables()
        x_w = ops.take(w_table, workload, axis=0)
        prediction = ops.sum(x_w * ops.take(p_table, platform, axis=0), axis=-1)
        if not self.model_interference:
            return prediction
        susceptibility = ops.einsum("bhd,bhkd->bhk", x_w, ops.take(vs_table, platform, axis=0))
        present = ops.cast(ops.greater_equal(interferers, 0), x_w.dtype)[:, :, None, None]
        if self.reference_form:
            index = ops.minimum(ops.maximum(interferers, 0), self.platforms - 1)
            v_g = ops.sum(ops.take(vg_table, index, axis=0) * present[..., None], axis=1)
            pressure = ops.einsum("bhd,bhkd->bhk", x_w, v_g)
        else:
            x_i = ops.take(w_table, ops.maximum(interferers, 0), axis=0)
            x_i = ops.sum(x_i * present, axis=1)
            pressure = ops.einsum("bhd,bhkd->bhk", x_i, ops.take(vg_table, platform, axis=0))
        rectified = ops.leaky_relu(pressure, negative_slope=self.if_slope)
        return prediction + ops.sum(susceptibility * rectified, axis=-1)

    def _paper_pressure(
        self, w_table: Any, vg_table: Any, platform: Any, interferers: Any, present: Any
    ) -> Any:
        """``Σ_i <x_i, Vg_p,k>``: linear in the co-runners' embeddings, so sum them first."""
        x_i = ops.take(w_table, ops.maximum(interferers, 0), axis=0)
        x_i = ops.sum(x_i * present[:, :, None, None], axis=1)
        return ops.einsum("bhd,bkd->bhk", x_i, ops.take(vg_table, platform, axis=0))

    def _reference_pressure(
        self, x_w: Any, vg_table: Any, interferers: Any, present: Any
    ) -> Any:
        """``Σ_i <x_w, Vg[min(i, P - 1)],k>``: the reference code's maths (see the module)."""
        index = ops.minimum(ops.maximum(interferers, 0), self.platforms - 1)
        v_g = ops.take(vg_table, index, axis=0)
        v_g = ops.sum(v_g * present[:, :, None, None], axis=1)
        return ops.einsum("bhd,bkd->bhk", x_w, v_g)

    def get_config(self) -> dict[str, object]:
        return {**super().get_config(), **self.settings}


def shared_members(config: Config) -> int:
    """How many ensemble members share this layer's towers: ``training.ensemble`` with
    ``training.ensemble_share=towers``, else 1."""
    t = config.training
    return t.ensemble if t.ensemble_share == "towers" else 1


def build(config: Config, dataset: Dataset, heads: int) -> PitotInteraction:
    """The registry's builder (:mod:`pitot_tf.models.registry`)."""
    m = config.model
    return PitotInteraction(
        platforms=len(dataset.platforms),
        workloads=len(dataset.workloads),
        platform_features=dataset.platforms.features.shape[1],
        workload_features=dataset.workloads.features.shape[1],
        heads=heads,
        activation=m.activation,
        mf_dim=m.mf_dim,
        if_dim=m.if_dim,
        if_slope=m.if_slope,
        interference=m.interference,
        interference_form=m.interference_form,
        workload_tower=m.workload_tower,
        platform_tower=m.platform_tower,
        learned_features=m.learned_features,
        layers=m.layers,
        cold_dropout=m.cold_dropout,
        members=shared_members(config),
        name="pitot",
    )
