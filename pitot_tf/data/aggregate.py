"""Average repeated runs into cells, and merge new cells into an existing objective table.

A cell is a platform, a workload and the *set* of its co-runners (their order does not matter
physically, so ``a;b`` and ``b;a`` are the same cell; the order first seen is stored). Each
cell keeps its mean runtime and ``count``, the number of runs averaged, so that later runs can
be merged in as a weighted mean without the raw runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pitot_tf.data.dataset import MATRIX_OBJECTIVE

__all__ = ["Cells", "aggregate", "merge_cells", "objective_name"]


@dataclass(frozen=True)
class Cells:
    """One objective's table: mean runtime (in the dataset's unit), run count and indices of
    each cell."""

    runtime: np.ndarray
    count: np.ndarray
    platform: np.ndarray
    workload: np.ndarray
    interferers: np.ndarray

    @classmethod
    def empty(cls, corunners: int) -> Cells:
        return cls(
            np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
            np.zeros((0, corunners), np.int64),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays of the objective's npz file (``t``, ``count``, ``i_*``)."""
        arrays = {
            "t": self.runtime.astype(np.float64), "count": self.count.astype(np.int64),
            "i_platform": self.platform.astype(np.int64),
            "i_workload": self.workload.astype(np.int64),
        }
        for k in range(self.interferers.shape[1]):
            arrays[f"i_interference{k}"] = self.interferers[:, k].astype(np.int64)
        return arrays

    def keys(self) -> pd.DataFrame:
        """The cell key of every row: platform, workload, sorted co-runners."""
        ordered = np.sort(self.interferers, axis=1)
        columns = {"p": self.platform, "w": self.workload}
        columns.update({f"c{k}": ordered[:, k] for k in range(ordered.shape[1])})
        return pd.DataFrame(columns)


def objective_name(corunners: int) -> str:
    """``mf`` for runs alone, ``if{K}`` for runs beside ``K - 1`` co-runners."""
    return MATRIX_OBJECTIVE if corunners == 0 else f"if{corunners + 1}"


def aggregate(
    platform: np.ndarray, workload: np.ndarray, corunners: Sequence[Sequence[int]],
    runtime: np.ndarray, count: np.ndarray,
) -> dict[str, Cells]:
    """Group runs by co-runner count and cell; each cell's runtime is the count-weighted mean.

    Cells appear in the order of their first run, so re-reading an exported dataset keeps it.
    """
    sizes = np.array([len(c) for c in corunners], dtype=np.int64)
    tables = {}
    for size in np.unique(sizes):
        rows = np.flatnonzero(sizes == size)
        others = np.array([corunners[int(r)] for r in rows], dtype=np.int64)
        others = others.reshape(len(rows), int(size))
        runs = Cells(runtime[rows], count[rows], platform[rows], workload[rows], others)
        tables[objective_name(int(size))] = _average(runs)
    return tables


def _average(runs: Cells) -> Cells:
    frame = runs.keys()
    keys = list(frame.columns)
    frame["order"] = np.arange(len(frame))
    frame["weighted"] = runs.runtime * runs.count
    frame["count"] = runs.count
    grouped = frame.groupby(keys, sort=False).agg(
        order=("order", "first"), weighted=("weighted", "sum"), count=("count", "sum")
    )
    first = grouped["order"].to_numpy()
    count = grouped["count"].to_numpy(np.int64)
    return Cells(
        grouped["weighted"].to_numpy(np.float64) / count, count, runs.platform[first],
        runs.workload[first], runs.interferers[first],
    )


def merge_cells(old: Cells, new: Cells) -> tuple[Cells, int]:
    """``old`` with ``new`` merged in: matching cells get the weighted mean and summed count
    (the first matching row, if ``old`` repeats a cell), the others are appended after ``old``'s
    rows, which keep their positions. Returns the table and how many old rows were updated."""
    old_keys = old.keys().assign(row=np.arange(len(old.runtime)))
    old_keys = old_keys.drop_duplicates(subset=[c for c in old_keys.columns if c != "row"])
    matched = new.keys().merge(old_keys, how="left", on=[c for c in old_keys if c != "row"])
    rows = matched["row"].to_numpy(np.float64)
    hit = ~np.isnan(rows)
    target = rows[hit].astype(np.int64)
    runtime, count = old.runtime.astype(np.float64).copy(), old.count.copy()
    total = count[target] + new.count[hit]
    runtime[target] = (runtime[target] * count[target] + new.runtime[hit] * new.count[hit]) / total
    count[target] = total
    fresh = ~hit
    merged = Cells(
        np.concatenate([runtime, new.runtime[fresh]]), np.concatenate([count, new.count[fresh]]),
        np.concatenate([old.platform, new.platform[fresh]]),
        np.concatenate([old.workload, new.workload[fresh]]),
        np.concatenate([old.interferers, new.interferers[fresh]]),
    )
    return merged, int(hit.sum())
