"""A training batch as blocks: one block of rows per objective, each with a static number of
co-runner slots.

The trainer draws one batch per objective, and every row of an objective of degree ``K`` has
exactly ``K - 1`` co-runners. Passed as one batch padded to the widest objective, a layer
cannot know at trace time which rows have co-runners: it must mask or compact the slots, and
under XLA a ``tf.where`` compaction is padded back to its bound (batch × slots), so the
co-runner branch of a baseline costs as much as if every row had co-runners. Passed as
blocks, the matrix block has no co-runner slots at all and the K-way block exactly ``K - 1``.

An interaction layer may implement ``call_blocks(blocks, training=...)``, returning the
blocks' rows in block order, ``(Σ rows, heads)``; it must equal its ``call`` on the blocks
concatenated and padded with ``-1`` (the tests check this for every kind). A layer without it
gets exactly that: the blocks concatenated, one ``call``. Prediction and serving keep the one
mixed batch (``model(inputs)``); only training uses blocks.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from pitot_tf.models.block import Block, Entities, concatenated
from pitot_tf.models.parts import model_parts

__all__ = ["Block", "Entities", "cold_masks", "concatenated", "interaction_on_blocks",
           "predict_blocks"]


def interaction_on_blocks(layer: Any, blocks: list[Block], training: bool | None = None,
                          cold: tuple[Any, ...] = (), entities: Entities | None = None) -> Any:
    """The interaction ``layer``'s output on ``blocks``, ``(Σ rows, heads)`` in block order:
    its ``call_blocks`` where it has one, else one call on the concatenated blocks (given the
    ``cold`` masks of a model trained with cold dropout, which only Pitot reads: its
    ``call_blocks`` takes them). The ``entities`` of an entity-blocked step go to Pitot's
    ``call_blocks``, the only one that reads them (config validation allows entity blocks
    for Pitot alone)."""
    if entities is not None:
        return layer.call_blocks(blocks, *(cold or (None, None)), training=training,
                                 entities=entities)
    if hasattr(layer, "call_blocks"):
        return layer.call_blocks(blocks, *cold, training=training)
    if cold:
        return layer(*concatenated(blocks), *cold)
    return layer(*concatenated(blocks), training=training)


def cold_masks(drop: Any, platform: Any, training: bool | None) -> tuple[Any, ...]:
    """The platform and workload masks of a model's :class:`ColdDropout` layer ``drop`` for
    this pass (all zero outside training), or ``()`` for a model without one (None)."""
    return tuple(drop(platform, training=training)) if drop is not None else ()


def predict_blocks(model: keras.Model, blocks: list[Block], training: bool | None = None,
                   entities: Entities | None = None) -> Any:
    """``model``'s output on ``blocks``, ``(Σ rows, heads)`` in block order: equal to
    ``model(inputs)`` on the concatenated blocks, but each layer sees the blocks (and Pitot
    the step's ``entities``, if entity-blocked). ``model`` is a single model or one member of
    an ensemble (:func:`pitot_tf.models.ensemble.member_models`), the sum of its baseline and
    interaction."""
    member = model_parts(model).single()
    platform = ops.concatenate([block.platform for block in blocks], axis=0)
    workload = ops.concatenate([block.workload for block in blocks], axis=0)
    cold = cold_masks(member.cold_dropout, platform, training)
    return ops.add(member.baseline(platform, workload, *cold),
                   interaction_on_blocks(member.interaction, blocks, training, cold,
                                                 entities))
