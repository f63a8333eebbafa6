"""Candidate measurements of one entity as index arrays: (platform, co-runner set) rows of a
workload, or (workload, co-runner set) rows of a platform.

A row is an index on the *other* axis than the planned entity's (the platform a workload runs
on, or the workload a platform runs) and a ``(J,)`` vector of co-runner workload indices
(``-1`` for an empty slot, as the model's input), so the same arrays feed the model. Two rows
are the same measurement when their other index and their *set* of co-runners agree (the
order of co-runners does not matter), which :meth:`Rows.keys` captures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rows:
    """``other (n,)`` (platform or workload indices, the axis the planned entity is not) and
    ``interferers (n, J)`` (``-1`` = empty slot), int32."""

    other: np.ndarray
    interferers: np.ndarray

    def __len__(self) -> int:
        return len(self.other)

    def keys(self) -> list[tuple[int, tuple[int, ...]]]:
        """Per row (other index, sorted co-runners): equal keys are the same measurement."""
        return [(int(p), tuple(sorted(int(i) for i in row if i >= 0)))
                for p, row in zip(self.other.tolist(), self.interferers, strict=True)]

    def take(self, index: np.ndarray | Sequence[int]) -> Rows:
        index = np.asarray(index, dtype=np.intp)
        return Rows(self.other[index], self.interferers[index])

    def degree(self) -> np.ndarray:
        """Workloads running at once per row: 1 + its co-runners."""
        return 1 + np.count_nonzero(self.interferers >= 0, axis=1)

    def distinct(self) -> Rows:
        """The rows with duplicates (same key) dropped, first kept."""
        seen: dict[tuple[int, tuple[int, ...]], int] = {}
        for i, key in enumerate(self.keys()):
            seen.setdefault(key, i)
        return self.take(sorted(seen.values()))

    def without(self, measured: Rows) -> Rows:
        """The rows whose key is not among ``measured``'s."""
        taken = set(measured.keys())
        return self.take([i for i, key in enumerate(self.keys()) if key not in taken])


def empty(width: int) -> Rows:
    """No rows, ``width`` co-runner slots."""
    return Rows(np.zeros(0, np.int32), np.zeros((0, width), np.int32))


def candidates(others: int, width: int, co_runner_sets: Sequence[Sequence[int]] = ()
               ) -> Rows:
    """Every index of the other axis (``others`` of them: platforms for a workload's plan,
    workloads for a platform's) alone, and beside each of ``co_runner_sets`` (workload
    indices, at most ``width`` each), without duplicates."""
    sets = [()] + [tuple(s) for s in co_runner_sets]
    slots = np.full((len(sets), width), -1, dtype=np.int32)
    for i, s in enumerate(sets):
        if len(s) > width:
            raise ValueError(f"co-runner set {list(s)} has more than {width} workloads")
        slots[i, : len(s)] = s
    other = np.repeat(np.arange(others, dtype=np.int32), len(sets))
    return Rows(other, np.tile(slots, (others, 1))).distinct()
