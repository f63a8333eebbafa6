"""Pitot's rows' tables from towers run on the batch's own entities (``model.tower_rows=batch``).

:func:`~pitot_tf.models.interference.gather_rows` reads each row's tables from the tables of
every platform and workload, which cost a tower pass over both whole axes: cheap for a few
hundred entities, but growing with them (ten times the entities, five times the step).
:func:`batch_rows` instead runs the towers on the rows the batch names: its platforms, its
workloads and, for the interference term, its co-runners (their workload rows in the paper's
form, their clamped platform rows in the reference's). The numbers are the same row for row
(to float32 rounding), and a step's cost depends on the batch, not on the axes.

Rows come as blocks (:mod:`pitot_tf.models.block`): in training one per objective, each with
its own static number of co-runner slots, so a matrix block embeds no co-runner at all; a
plain call is one block. Slots past a block's own are zeros, masked out as padding is.

A training step on an entity block (``training.block_platforms`` and ``block_workloads``,
:mod:`pitot_tf.training.entity_blocks`) passes its :class:`~pitot_tf.models.block.Entities`:
the towers then run on the block's platforms and workloads (and on the co-runners, per slot,
as above) and each row gathers its tables from those, so a step embeds at most ``P + W``
entities and its co-runner slots however many entities the data has and however many times
the batch repeats one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from keras import ops

from pitot_tf.models.block import Block, Entities
from pitot_tf.models.interference import (
    Equation,
    RowTables,
    TowerLayout,
    corunner_rows,
    present_slots,
)
from pitot_tf.models.towers import Tower


@dataclasses.dataclass(frozen=True)
class BatchTowers:
    """What :func:`batch_rows` needs of a Pitot layer: its towers, their output layout, the
    equation and the number of platforms (the reference form clamps co-runners to it)."""

    workload: Tower
    platform: Tower
    layout: TowerLayout
    equation: Equation
    platforms: int


def batch_rows(towers: BatchTowers, blocks: list[Block], interferers: Any,
               platform_cold: Any = None, workload_cold: Any = None,
               entities: Entities | None = None) -> RowTables:
    """The :class:`~pitot_tf.models.interference.RowTables` of ``blocks``' rows (in block
    order; ``interferers`` is their co-runners padded to the widest block, ``(n, J)``), the
    towers run on those rows alone, or on the ``entities`` of the step's block where given;
    ``*_cold`` are the axes' cold-dropout masks."""
    equation, layout = towers.equation, towers.layout
    platform = ops.concatenate([block.platform for block in blocks], axis=0)
    workload = ops.concatenate([block.workload for block in blocks], axis=0)
    if entities is not None:
        platform, workload = entities.platform, entities.workload
    slotted = [block for block in blocks if _has_slots(block)] if equation.interference else []
    corunners = [ops.reshape(corunner_rows(block.interferers, towers.platforms, equation, ops),
                             (-1,)) for block in slotted]
    workload_index = ops.concatenate([workload, *([] if equation.reference else corunners)], 0)
    platform_index = ops.concatenate([platform, *(corunners if equation.reference else [])], 0)
    x_w, workload_bias = layout.workload(towers.workload.embed_rows(workload_index,
                                                                    workload_cold), ops)
    x_p, v_s, v_g, platform_bias = layout.platform(towers.platform.embed_rows(platform_index,
                                                                              platform_cold), ops)
    at_p, at_w = _row_gathers(platform, workload, entities)
    rows = RowTables(x_w=at_w(x_w), x_p=at_p(x_p), v_s=at_p(v_s),
                     platform_bias=None if platform_bias is None else at_p(platform_bias),
                     workload_bias=None if workload_bias is None else at_w(workload_bias))
    if not equation.interference:
        return rows
    present = present_slots(interferers, x_w.dtype, ops)
    p, w = ops.shape(platform)[0], ops.shape(workload)[0]
    if equation.reference:
        return dataclasses.replace(rows, present=present,
                                   v_g=_per_slot(v_g[p:], blocks, interferers))
    return dataclasses.replace(rows, present=present, x_i=_per_slot(x_w[w:], blocks, interferers),
                               v_g=at_p(v_g))


def _row_gathers(platform: Any, workload: Any, entities: Entities | None
                 ) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """Functions from a tower's rows (the ``platform`` or ``workload`` rows first, then the
    co-runners') to the batch rows' own: the first rows as they are, or gathered at the
    rows' positions in the ``entities``."""
    p, w = ops.shape(platform)[0], ops.shape(workload)[0]
    if entities is None:
        return (lambda values: values[:p]), (lambda values: values[:w])
    return ((lambda values: ops.take(values[:p], entities.platform_at, axis=0)),
            (lambda values: ops.take(values[:w], entities.workload_at, axis=0)))


def _has_slots(block: Block) -> bool:
    """Whether a block has co-runner slots (True where that is only known at run time)."""
    return block.interferers.shape[1] is None or block.interferers.shape[1] > 0


def _per_slot(values: Any, blocks: list[Block], interferers: Any) -> Any:
    """``(n, J, …)``: the co-runner rows ``values`` (each slotted block's rows × slots, in
    order) per row and slot, zeros in the slots past a block's own."""
    width, rest = interferers.shape[1], tuple(values.shape[1:])
    if len(blocks) == 1:  # one call: its slots are the width (known or not)
        return ops.reshape(values, (-1, ops.shape(interferers)[1], *rest))
    parts, start = [], 0
    for block in blocks:
        rows, slots = ops.shape(block.platform)[0], block.slots
        part = ops.zeros((rows, 0, *rest), values.dtype)
        if slots:
            part = ops.reshape(values[start : start + rows * slots], (rows, slots, *rest))
            start = start + rows * slots
        parts.append(ops.pad(part, [(0, 0), (0, width - slots), *[(0, 0)] * len(rest)]))
    return ops.concatenate(parts, axis=0)
