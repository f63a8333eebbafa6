"""The reference's Monolith baseline (``pitot/monolith.py``): MLPs on raw side features.

For workload ``w`` on platform ``p`` beside co-runners ``c``, per output head::

    log t ≈ MLP_alone([f_p ‖ f_w]) + Σ_c MLP_beside([f_p ‖ f_w ‖ f_c])

Both MLPs have the same hidden widths (``model.monolith_layers``, [256, 256] as in the
reference) and the activation after each hidden layer. The maths is the reference's; how it is
computed differs (same values): the first layer's per-entity terms are computed once per call
for all platforms and workloads and gathered per row (:class:`FactoredMLP`), and the co-runner
MLP runs only on filled co-runner slots. Where we still differ from the reference:

* padding: rows of all objectives share one batch, their co-runners padded with ``-1``;
  padded slots are skipped, so a row's value is the reference's for its objective (in
  training each objective's rows come as their own block, :meth:`Monolith.call_blocks`, and
  the co-runner MLP runs on exactly the reference's slots);
* the activation is ``model.activation`` (Keras' ``gelu`` is the exact erf form;
  ``jax.nn.gelu``, the reference's, defaults to the tanh approximation);
* initial weights: truncated normal with variance 1/fan_in as in Haiku, but not the same
  draws (the reference initialises both MLPs from one key, so their later layers start equal).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from pitot_tf.config import Config
from pitot_tf.data.dataset import Dataset
from pitot_tf.models.blocks import Block
from pitot_tf.models.side_features import (
    FactoredMLP,
    SideFeatures,
    block_slots,
    concatenated_rows,
    on_slots,
    present_slots,
    sum_by_row,
)


@keras.saving.register_keras_serializable(package="pitot_tf")
class Monolith(SideFeatures):
    """``(platform, workload, interferers) → (batch, heads)``; see the module docstring."""

    def __init__(self, *args: Any, layers: list[int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        widths = list(layers if layers is not None else [256, 256])
        self.settings["layers"] = widths
        f_p, f_w = self.platform_features.shape[1], self.workload_features.shape[1]
        self.alone = FactoredMLP([f_p, f_w], widths, self.heads, self.activation_name,
                                 name="alone")
        self.beside = FactoredMLP([f_p, f_w, f_w], widths, self.heads, self.activation_name,
                                  name="beside")

    def call(self, platform: Any, workload: Any, interferers: Any) -> Any:
        f_p, f_w = self.platform_features, self.workload_features
        a_p, a_w = self.alone.entity_terms([f_p, f_w])
        prediction = self.alone.rows(ops.take(a_p, platform, 0) + ops.take(a_w, workload, 0))
        rows, co_runner = present_slots(interferers)
        b_p, b_w, b_c = self.beside.entity_terms([f_p, f_w, f_w])
        slot = (
            ops.take(b_p, ops.take(platform, rows), 0)
            + ops.take(b_w, ops.take(workload, rows), 0)
            + ops.take(b_c, co_runner, 0)
        )
        return prediction + sum_by_row(self.beside.rows(slot), rows, ops.shape(platform)[0])

    def call_blocks(self, blocks: list[Block], training: bool | None = None) -> Any:
        """:meth:`call` on training blocks (:mod:`pitot_tf.models.blocks`): the first MLP runs
        once on every block's rows, the co-runner MLP on each block's ``n × j`` slots (none
        for the matrix block), without compaction."""
        f_p, f_w = self.platform_features, self.workload_features
        platform, workload = concatenated_rows(blocks)
        a_p, a_w = self.alone.entity_terms([f_p, f_w])
        prediction = self.alone.rows(ops.take(a_p, platform, 0) + ops.take(a_w, workload, 0))
        if not any(block.slots for block in blocks):
            return prediction
        b_p, b_w, b_c = self.beside.entity_terms([f_p, f_w, f_w])
        corrections = []
        for block in blocks:
            if not block.slots:
                corrections.append(ops.zeros((ops.shape(block.platform)[0], self.heads)))
                continue
            co_runner, present = block_slots(block)
            row = ops.take(b_p, block.platform, 0) + ops.take(b_w, block.workload, 0)
            slot = ops.expand_dims(row, 1) + ops.take(b_c, co_runner, 0)
            corrections.append(ops.sum(on_slots(self.beside, slot) * present, axis=1))
        return prediction + ops.concatenate(corrections, axis=0)


def build(config: Config, dataset: Dataset, heads: int) -> Monolith:
    """The registry's builder (:mod:`pitot_tf.models.registry`)."""
    return Monolith(
        len(dataset.platforms), len(dataset.workloads), dataset.platforms.features.shape[1],
        dataset.workloads.features.shape[1], heads=heads, activation=config.model.activation,
        layers=config.model.monolith_layers, name="monolith",
    )
