"""Model inputs from observation tables: each objective's rows as padded index arrays.

Prediction and validation use one input layout so that a single forward pass serves all
objectives: ``interferers`` is padded with ``-1`` to the widest objective's co-runner count.
Training keeps each objective's own width (one block per objective with a static co-runner
count, :mod:`pitot_tf.models.blocks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pitot_tf.data.dataset import Dataset, Objective


@dataclass(frozen=True)
class Rows:
    """Model inputs and target for some rows of one objective."""

    objective: str
    platform: np.ndarray
    workload: np.ndarray
    interferers: np.ndarray
    log_runtime: np.ndarray

    def __len__(self) -> int:
        return len(self.platform)

    def inputs(self) -> dict[str, np.ndarray]:
        return {
            "platform": self.platform,
            "workload": self.workload,
            "interferers": self.interferers,
        }


def max_interferers(dataset: Dataset) -> int:
    """The widest co-runner count among the dataset's objectives (0 for matrix only)."""
    return max((obs.degree - 1 for obs in dataset.objectives.values()), default=0)


def pad_interferers(interferers: np.ndarray, width: int) -> np.ndarray:
    """Pad ``(n, j)`` co-runner indices to ``(n, width)`` with ``-1`` (no co-runner)."""
    n, j = interferers.shape
    padded = np.full((n, max(width, j)), -1, dtype=np.int32)
    padded[:, :j] = interferers
    return padded


def rows_of(objective: Objective, rows: np.ndarray | None, width: int) -> Rows:
    """Inputs for ``rows`` of ``objective`` (all rows when ``rows`` is None)."""
    obs = objective if rows is None else objective.take(rows)
    return Rows(
        objective.name,
        obs.platform.astype(np.int32),
        obs.workload.astype(np.int32),
        pad_interferers(obs.interferers, width),
        obs.log_runtime.astype(np.float32),
    )


@dataclass(frozen=True)
class Batch:
    """One training step's draw for one model: ``blocks`` (one
    :class:`~pitot_tf.models.block.Block` per objective) and their ``target`` log runtimes in
    block order; for an entity-blocked step (:mod:`pitot_tf.training.entity_blocks`) also
    the block's ``entities`` and ``scale``, each row's loss factor ``(Σ rows,)`` that keeps
    the expected gradient that of unblocked sampling."""

    blocks: list[Any]
    target: Any
    entities: Any = None
    scale: Any = None
