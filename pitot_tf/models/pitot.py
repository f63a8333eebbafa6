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
(:mod:`pitot_tf.models.ensemble`). A single model is the ``E = 1`` case: ``call`` takes one
path for both, :func:`pitot_tf.models.interference.row_term` on the rows' tables, the
function the numpy serving predictor evaluates too.

Where the rows' tables come from (``tower_rows``, the config's ``model.tower_rows``): ``all``
runs both towers over every platform and workload and gathers the batch's rows from those
tables (cheapest when the axes have fewer rows than a batch names); ``batch`` runs the towers
on the rows the batch names (its platforms, workloads and co-runners, repeats included), so
that a step costs the same however many entities the data has; ``auto`` takes ``batch`` when
the batch's size is known when the step is traced and names fewer tower rows than the axes
hold, else ``all``. Both give the same numbers (to float32 rounding).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from pitot_tf.config import TOWER_ROWS, Config
from pitot_tf.data.dataset import Dataset
from pitot_tf.models.batch_rows import BatchTowers, batch_rows
from pitot_tf.models.block import Block, Entities, concatenated
from pitot_tf.models.interference import (
    Equation,
    PitotTables,
    TowerLayout,
    gather_rows,
    row_term,
)
from pitot_tf.models.rows import RowWeight
from pitot_tf.models.towers import Tower


@keras.saving.register_keras_serializable(package="pitot_tf")
class PitotInteraction(keras.layers.Layer):
    """Everything but the baseline: ``(platform, workload, interferers) → (batch, members ·
    heads)``.

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
        tower_rows: str = "auto",
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        if tower_rows not in TOWER_ROWS:
            raise ValueError(f"tower_rows must be one of {TOWER_ROWS}, got {tower_rows!r}")
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
            tower_rows=tower_rows,
        )
        self.tower_rows, self.platforms, self.workloads = tower_rows, platforms, workloads
        if members > 1 and cold_dropout > 0:
            raise ValueError("shared-tower members (members > 1) do not support cold dropout")
        self.members, self.heads = members, heads
        # Trained for cold start, each tower also gives every row a bias per head, added to
        # the output: a direct path from an entity's features to its log runtime, which the
        # product <x_w, x_p> of two towers (each starting near 0) learns only slowly.
        self.tower_layout = TowerLayout(members, heads, mf_dim, if_dim, bias=cold_dropout > 0)
        self.equation = Equation(interference == "model", interference_form == "reference",
                                 if_slope)
        shared: dict[str, Any] = dict(
            learned_features=learned_features, layers=layers, activation=activation,
            cold_neutral="zero" if cold_dropout > 0 else "mean",
        )
        self.workload_tower = Tower(workloads, workload_features,
                                    self.tower_layout.workload_width, workload_tower,
                                    name="workload_tower", **shared)
        self.platform_tower = Tower(platforms, platform_features,
                                    self.tower_layout.platform_width, platform_tower,
                                    name="platform_tower", **shared)

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

    def tables(self, platform_cold: Any = None, workload_cold: Any = None) -> PitotTables:
        """Every row's tables (:class:`~pitot_tf.models.interference.PitotTables`, with a
        member axis); the ``*_cold`` masks (training with cold dropout) embed those rows as
        cold rows."""
        return PitotTables.from_towers(self.workload_tower.embed(workload_cold),
                                       self.platform_tower.embed(platform_cold),
                                       self.tower_layout, ops)

    def embeddings(self) -> tuple[Any, Any, Any, Any]:
        """Member 0's workload ``x_w (W, heads, d)``, and platform ``x_p (P, d)``, ``Vs`` and
        ``Vg (P, k, d)``."""
        tables = self.tables()
        return tables.x_w[:, 0], tables.x_p[:, 0], tables.v_s[:, 0], tables.v_g[:, 0]

    def call(self, platform: Any, workload: Any, interferers: Any,
             platform_cold: Any = None, workload_cold: Any = None) -> Any:
        """``(batch, members · heads)``: the equation of the module
        (:func:`~pitot_tf.models.interference.row_term`) on the rows' tables, computed as
        ``tower_rows`` says (:meth:`on_batch`)."""
        if self.on_batch(platform, interferers):
            rows = batch_rows(self.batch_towers(), [Block(platform, workload, interferers)],
                              interferers, platform_cold, workload_cold)
        else:
            rows = gather_rows(self.tables(platform_cold, workload_cold), self.equation,
                               platform, workload, interferers, ops)
        return row_term(rows, self.equation, ops)

    def call_blocks(self, blocks: list[Block], platform_cold: Any = None,
                    workload_cold: Any = None, training: bool | None = None,
                    entities: Entities | None = None) -> Any:
        """:meth:`call` on the blocks concatenated (:mod:`pitot_tf.models.blocks`); with the
        towers on the batch's rows, a block embeds only its own co-runner slots; given the
        step's ``entities`` (an entity-blocked step), the towers run on those."""
        platform, workload, interferers = concatenated(blocks)
        cold = (platform_cold, workload_cold)
        if entities is None and not self.on_batch(platform, interferers, blocks):
            if platform_cold is None:
                return self(platform, workload, interferers, training=training)
            return self(platform, workload, interferers, *cold, training=training)
        return row_term(batch_rows(self.batch_towers(), blocks, interferers, *cold, entities),
                        self.equation, ops)

    def on_batch(self, platform: Any, interferers: Any, blocks: list[Block] | None = None
                 ) -> bool:
        """Whether this call runs the towers on the batch's rows
        (:func:`~pitot_tf.models.batch_rows.batch_rows`) rather than on every entity:
        ``tower_rows`` ``batch``, or ``auto`` with a batch whose sizes are known at trace time
        and that names fewer tower rows (a row per platform, workload and co-runner slot, of
        each of the ``blocks`` where the rows come as blocks) than both axes hold."""
        if self.tower_rows != "auto":
            return self.tower_rows == "batch"
        parts = [(b.platform, b.interferers) for b in blocks] if blocks else [(platform,
                                                                               interferers)]
        sizes = [(rows.shape[0], slots.shape[1]) for rows, slots in parts]
        if any(n is None or j is None for n, j in sizes):
            return False
        tower_rows = sum(2 * n + (n * j if self.equation.interference else 0) for n, j in sizes)
        return tower_rows < self.platforms + self.workloads

    def batch_towers(self) -> BatchTowers:
        return BatchTowers(self.workload_tower, self.platform_tower, self.tower_layout,
                           self.equation, self.platforms)

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
        tower_rows=config.model.tower_rows,
        name="pitot",
    )
