"""The reference's Attention baseline (``pitot/attention.py``).

For workload ``w`` on platform ``p`` beside co-runners ``c``, per output head::

    [query ‖ y]      = MLP_query([f_p ‖ f_w])          (attention_dim + heads outputs)
    [key_c ‖ value_c] = MLP_key([f_p ‖ f_c])            (attention_dim + value_dim outputs)
    log t ≈ y + MLP_out(Σ_c value_c · <key_c, query>)   (the last term only with co-runners)

``MLP_query`` and ``MLP_key`` have hidden widths ``model.attention_layers`` ([256, 256]);
``MLP_out`` has ``model.output_layers`` ([32]); the attention is not normalised (no softmax);
``attention_dim`` and ``value_dim`` are 8, as in the reference's preset. The first layers' terms
are computed once per call for every platform and workload and gathered per row
(:class:`FactoredMLP`); keys and values only for filled co-runner slots. Where we still
differ from the reference:

* padding: rows of all objectives share one batch, co-runners padded with ``-1``; padded slots
  are skipped and ``MLP_out`` is added only to rows with at least one co-runner, which is the
  reference's per-objective rule (it adds ``MLP_out`` to every row of an interference
  objective, and every such row has co-runners); in training each objective's rows come as
  their own block (:meth:`Attention.call_blocks`), so keys, values and ``MLP_out`` run on
  exactly the reference's rows and slots;
* the activation is ``model.activation`` (Keras' ``gelu`` is exact; ``jax.nn.gelu`` defaults to
  the tanh approximation);
* initial weights: truncated normal with variance 1/fan_in as in Haiku, not the same draws.
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
class Attention(SideFeatures):
    """``(platform, workload, interferers) → (batch, heads)``; see the module docstring."""

    def __init__(
        self,
        *args: Any,
        layers: list[int] | None = None,
        attention_dim: int = 8,
        value_dim: int = 8,
        output_layers: list[int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        widths = list(layers if layers is not None else [256, 256])
        outs = list(output_layers if output_layers is not None else [32])
        for key, value in dict(layers=widths, attention_dim=attention_dim, value_dim=value_dim,
                               output_layers=outs).items():
            self.settings[key] = value
        self.attention_dim = attention_dim
        f_p, f_w, act = (self.platform_features.shape[1], self.workload_features.shape[1],
                         self.activation_name)
        self.query = FactoredMLP([f_p, f_w], widths, attention_dim + self.heads, act,
                                 name="query")
        self.key_value = FactoredMLP([f_p, f_w], widths, attention_dim + value_dim, act,
                                     name="key_value")
        self.output_mlp = FactoredMLP([value_dim], outs, self.heads, act, name="output")

    def call(self, platform: Any, workload: Any, interferers: Any) -> Any:
        f_p, f_w, a = self.platform_features, self.workload_features, self.attention_dim
        q_p, q_w = self.query.entity_terms([f_p, f_w])
        query_y = self.query.rows(ops.take(q_p, platform, 0) + ops.take(q_w, workload, 0))
        query, prediction = query_y[:, :a], query_y[:, a:]
        rows, co_runner = present_slots(interferers)
        k_p, k_c = self.key_value.entity_terms([f_p, f_w])
        key_value = self.key_value.rows(
            ops.take(k_p, ops.take(platform, rows), 0) + ops.take(k_c, co_runner, 0)
        )
        key, value = key_value[:, :a], key_value[:, a:]
        weight = ops.sum(key * ops.take(query, rows, 0), axis=-1, keepdims=True)
        attended = sum_by_row(value * weight, rows, ops.shape(platform)[0])
        has_co_runner = ops.any(ops.greater_equal(interferers, 0), axis=1, keepdims=True)
        correction = self.output_mlp(attended)
        return prediction + ops.where(has_co_runner, correction, ops.zeros_like(correction))

    def call_blocks(self, blocks: list[Block], training: bool | None = None) -> Any:
        """:meth:`call` on training blocks (:mod:`pitot_tf.models.blocks`): the query MLP runs
        once on every block's rows; keys, values and ``MLP_out`` only for blocks with
        co-runner slots (not the matrix block), on all ``n × j`` slots without compaction."""
        f_p, f_w, a = self.platform_features, self.workload_features, self.attention_dim
        platform, workload = concatenated_rows(blocks)
        q_p, q_w = self.query.entity_terms([f_p, f_w])
        query_y = self.query.rows(ops.take(q_p, platform, 0) + ops.take(q_w, workload, 0))
        if not any(block.slots for block in blocks):
            return query_y[:, a:]
        k_p, k_c = self.key_value.entity_terms([f_p, f_w])
        corrections, start = [], 0
        for block in blocks:
            n = ops.shape(block.platform)[0]
            if block.slots:
                corrections.append(self._block_correction(block, query_y[start : start + n, :a],
                                                           k_p, k_c))
            else:
                corrections.append(ops.zeros((n, self.heads)))
            start += n
        return query_y[:, a:] + ops.concatenate(corrections, axis=0)

    def _block_correction(self, block: Block, query: Any, k_p: Any, k_c: Any) -> Any:
        """``MLP_out(Σ_c value_c · <key_c, query>)`` for the rows of one block with co-runner
        slots, 0 for rows with none."""
        a = self.attention_dim
        co_runner, present = block_slots(block)
        first = ops.expand_dims(ops.take(k_p, block.platform, 0), 1) + ops.take(k_c, co_runner, 0)
        key_value = on_slots(self.key_value, first)
        key, value = key_value[..., :a], key_value[..., a:]
        weight = ops.sum(key * ops.expand_dims(query, 1), axis=-1, keepdims=True) * present
        correction = self.output_mlp(ops.sum(value * weight, axis=1))
        has_co_runner = ops.any(ops.greater(present[..., 0], 0), axis=1, keepdims=True)
        return ops.where(has_co_runner, correction, ops.zeros_like(correction))


def build(config: Config, dataset: Dataset, heads: int) -> Attention:
    """The registry's builder (:mod:`pitot_tf.models.registry`)."""
    m = config.model
    return Attention(
        len(dataset.platforms), len(dataset.workloads), dataset.platforms.features.shape[1],
        dataset.workloads.features.shape[1], heads=heads, activation=m.activation,
        layers=m.attention_layers, attention_dim=m.attention_dim, value_dim=m.value_dim,
        output_layers=m.output_layers, name="attention_model",
    )
