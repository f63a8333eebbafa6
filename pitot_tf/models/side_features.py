"""Shared parts of the networks that read raw side features (the reference's baselines).

Both baselines are MLPs on a concatenation of entity feature rows, such as
``[platform features ‖ workload features]``. The first Dense layer of such an MLP is
``W_p f_p + W_w f_w + b``: a sum of one term per entity. :class:`FactoredMLP` computes each
term for every entity of the axis once per call (``F_P W_p`` is ``platforms × width``) and
gathers them per row, so that a batch of rows pays only for the layers after the first.
:func:`present_slots` lists the co-runner slots that are filled, so that co-runner branches run
on those slots alone and not on padding. In training, rows come as blocks with a static number
of slots each (:mod:`pitot_tf.models.blocks`; :func:`block_slots`, :func:`on_slots`): no
compaction is needed, and the matrix block has no co-runner slots at all.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from pitot_tf.models.blocks import Block
from pitot_tf.models.rows import RowWeight

# Haiku's default (the reference): truncated normal with standard deviation 1/sqrt(fan_in).
_INIT = "lecun_normal"


@keras.saving.register_keras_serializable(package="pitot_tf")
class FactoredMLP(keras.layers.Layer):
    """An MLP on ``[part_0 ‖ part_1 ‖ …]`` (parts of ``part_dims`` features) with hidden
    ``widths``, the activation after each hidden layer, and ``out`` linear outputs.

    Use :meth:`entity_terms` once per step, gather its tables by each row's entity indices,
    add them, and pass the sum to :meth:`rows`. Equal to the plain MLP on the concatenation.
    """

    def __init__(
        self, part_dims: list[int], widths: list[int], out: int, activation: str = "gelu",
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.part_dims, self.widths, self.out = list(part_dims), list(widths), out
        self.activation_name = activation
        self.activation = keras.activations.get(activation)
        sizes = [*self.widths, out]
        self.first_kernel = self.add_weight(
            shape=(sum(self.part_dims), sizes[0]), initializer=_INIT, name="first_kernel"
        )
        self.first_bias = self.add_weight(shape=(sizes[0],), initializer="zeros", name="first_bias")
        self.rest = [
            keras.layers.Dense(
                size, activation=activation if i < len(sizes) - 2 else None,
                kernel_initializer=_INIT, name=f"{self.name}_dense_{i + 1}",
            )
            for i, size in enumerate(sizes[1:])
        ]
        width = sizes[0]
        for dense in self.rest:
            dense.build((None, width))
            width = dense.units

    def build(self, *shapes: object, **named_shapes: object) -> None:
        """Every weight exists from ``__init__``."""
        self.built = True

    def entity_terms(self, tables: list[Any]) -> list[Any]:
        """``table_i @ W_i`` for each part: every entity's first-layer term, ``(N_i, width)``."""
        terms, start = [], 0
        for table, dim in zip(tables, self.part_dims, strict=True):
            terms.append(ops.matmul(table, self.first_kernel[start : start + dim]))
            start += dim
        return terms

    def rows(self, first: Any) -> Any:
        """The MLP's output from the summed per-row first-layer terms (bias not included)."""
        x = first + self.first_bias
        if self.rest:
            x = self.activation(x)
        for dense in self.rest:
            x = dense(x)
        return x

    def call(self, *parts: Any) -> Any:
        """The plain MLP on the concatenated ``parts`` (per row; for tests and clarity)."""
        return self.rows(ops.matmul(ops.concatenate(list(parts), axis=-1), self.first_kernel))

    def get_config(self) -> dict[str, object]:
        return {
            **super().get_config(), "part_dims": self.part_dims, "widths": self.widths,
            "out": self.out, "activation": self.activation_name,
        }


def present_slots(interferers: Any) -> tuple[Any, Any]:
    """Filled co-runner slots of ``(B, J)`` indices padded with ``-1``: the row of each
    ``(S,)`` and its co-runner ``(S,)``, in row order."""
    where = tf.where(ops.greater_equal(interferers, 0))
    return ops.cast(where[:, 0], "int32"), tf.gather_nd(interferers, where)


def sum_by_row(values: Any, rows: Any, batch: Any) -> Any:
    """``(batch, …)``: the sum of ``values`` ``(S, …)`` over the slots of each row."""
    return tf.math.unsorted_segment_sum(values, rows, batch)


def block_slots(block: Block) -> tuple[Any, Any]:
    """A block's co-runners as indices safe to gather (empty slots read row 0) and the
    ``(n, j, 1)`` float mask of filled slots, which zeroes what empty slots add."""
    interferers = block.interferers
    present = ops.cast(ops.greater_equal(interferers, 0), "float32")
    return ops.maximum(interferers, 0), ops.expand_dims(present, -1)


def on_slots(mlp: FactoredMLP, first: Any) -> Any:
    """``mlp.rows`` on ``(n, j, width)`` per-slot first-layer sums: ``(n, j, out)``, run as
    one ``(n·j, width)`` batch."""
    n, j = ops.shape(first)[0], ops.shape(first)[1]
    out = mlp.rows(ops.reshape(first, (-1, ops.shape(first)[2])))
    return ops.reshape(out, (n, j, -1))


def concatenated_rows(blocks: list[Block]) -> tuple[Any, Any]:
    """Every block's ``platform`` and ``workload`` indices, in block order."""
    return (ops.concatenate([b.platform for b in blocks], axis=0),
            ops.concatenate([b.workload for b in blocks], axis=0))


@keras.saving.register_keras_serializable(package="pitot_tf")
class SideFeatures(keras.layers.Layer):
    """Base for interaction layers that read raw side features: stores both feature tables
    (non-trainable, set by :meth:`set_features`) and the sizes every kind shares."""

    def __init__(
        self,
        platforms: int,
        workloads: int,
        platform_features: int,
        workload_features: int,
        heads: int = 1,
        activation: str = "gelu",
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.settings: dict[str, object] = dict(
            platforms=platforms,
            workloads=workloads,
            platform_features=platform_features,
            workload_features=workload_features,
            heads=heads,
            activation=activation,
        )
        self.heads, self.activation_name = heads, activation
        self.platform_features = self.add_weight(
            shape=(platforms, platform_features),
            initializer="zeros",
            trainable=False,
            name="platform_features",
        )
        self.workload_features = self.add_weight(
            shape=(workloads, workload_features),
            initializer="zeros",
            trainable=False,
            name="workload_features",
        )

    def build(self, *shapes: object, **named_shapes: object) -> None:
        """All weights exist from ``__init__``."""
        self.built = True

    def set_features(self, platform: np.ndarray, workload: np.ndarray) -> None:
        self.platform_features.assign(platform.astype("float32"))
        self.workload_features.assign(workload.astype("float32"))

    def row_weights(self) -> list[RowWeight]:
        return [
            RowWeight(self.platform_features, "platform", "features"),
            RowWeight(self.workload_features, "workload", "features"),
        ]

    def get_config(self) -> dict[str, object]:
        return {**super().get_config(), **self.settings}
