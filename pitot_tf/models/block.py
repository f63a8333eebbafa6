"""One block of training rows (:mod:`pitot_tf.models.blocks` says why training passes rows
as blocks), and the blocks as one batch; here, below every layer, so that interaction layers
can take blocks without importing the model accessors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keras import ops


@dataclass(frozen=True)
class Block:
    """Rows of one objective: ``platform`` and ``workload`` ``(n,)``, and ``interferers``
    ``(n, j)`` with ``j`` known at trace time (0 for the matrix objective; ``-1`` marks an
    empty slot, which training blocks never have)."""

    platform: Any
    workload: Any
    interferers: Any

    @property
    def slots(self) -> int:
        """Co-runner slots per row (static)."""
        return int(self.interferers.shape[1])


@dataclass(frozen=True)
class Entities:
    """A training step's entity block (:mod:`pitot_tf.training.entity_blocks`): the
    ``platform`` ``(P,)`` and ``workload`` ``(W,)`` indices that the towers run on, and, for
    each row of the step's blocks in block order, where its platform and workload sit among
    them (``platform_at`` and ``workload_at``, ``(Σ rows,)``)."""

    platform: Any
    workload: Any
    platform_at: Any
    workload_at: Any


def concatenated(blocks: list[Block]) -> tuple[Any, Any, Any]:
    """``(platform, workload, interferers)`` of all blocks in order, co-runners padded with
    ``-1`` to the widest block (the one-batch layout that ``model(inputs)`` takes)."""
    width = max(block.slots for block in blocks)
    padded = []
    for block in blocks:
        interferers = ops.cast(block.interferers, "int32")
        if block.slots < width:
            fill = ops.full((ops.shape(interferers)[0], width - block.slots), -1, "int32")
            interferers = ops.concatenate([interferers, fill], axis=1)
        padded.append(interferers)
    return (
        ops.concatenate([block.platform for block in blocks], axis=0),
        ops.concatenate([block.workload for block in blocks], axis=0),
        ops.concatenate(padded, axis=0),
    )
