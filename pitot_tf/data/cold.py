"""Cold-start splits: hold out whole workloads (or platforms), not random cells.

Why: a random split asks "how well do we fill in a cell of a known workload and platform";
cold start asks "how well do we predict a workload (platform) never measured", which only
side features can answer. The entities of the chosen axis are shuffled once per
``(seed, replicate, mode)`` and cut into three groups:

* **test**: a ``holdout`` share of them; every row of every objective whose workload
  (platform) is one of these is a test row;
* **val**: another ``holdout`` share; their rows calibrate the conformal bounds. They are cold
  too, so calibration and test rows are exchangeable and the coverage guarantee holds for
  cold rows (calibrating on warm rows would give too-narrow bounds);
* **train**: the rest; a ``level`` share of their rows (per objective, at random) is train.

For ``cold-workload`` an interference row whose workload is warm but one of whose co-runners is
held out is left out of every part, so that no held-out workload is ever seen in training.
The held-out entities are the same for every level, so levels compare like with like.
"""

from __future__ import annotations

import zlib

import numpy as np

from pitot_tf.data.dataset import Dataset, Objective
from pitot_tf.data.splits import Split
from pitot_tf.errors import DataError

__all__ = ["COLD_MODES", "cold_entities", "left_out_rows", "make_cold_split", "seen_entities"]

COLD_MODES = ("cold-workload", "cold-platform")


def cold_entities(
    dataset: Dataset, mode: str, replicate: int = 0, seed: int = 42, holdout: float = 0.2
) -> dict[str, np.ndarray]:
    """The sorted entity indices of each group: ``{"train", "val", "test"}``."""
    if mode not in COLD_MODES:
        raise DataError("split", f"unknown mode '{mode}' (use {' or '.join(COLD_MODES)})",
                        key="mode")
    size = len(dataset.workloads if mode == "cold-workload" else dataset.platforms)
    held = int(round(holdout * size))
    if not 0.0 < holdout < 0.5 or held < 1 or size - 2 * held < 1:
        raise DataError(
            "split", f"holdout {holdout} of {size} entities must leave at least one for each "
            "of test, val and train (0 < holdout < 0.5)", key="holdout",
        )
    order = np.random.default_rng([seed, replicate, zlib.crc32(mode.encode())]).permutation(size)
    return {
        "test": np.sort(order[:held]),
        "val": np.sort(order[held:2 * held]),
        "train": np.sort(order[2 * held:]),
    }


def make_cold_split(
    dataset: Dataset, level: float, replicate: int = 0, seed: int = 42,
    mode: str = "cold-workload", holdout: float = 0.2,
) -> Split:
    """Hold out whole workloads or platforms (see the module docstring); ``level`` in (0, 1]
    is the share of the training entities' rows that are train."""
    if not 0.0 < level <= 1.0:
        raise DataError("split", f"level must be in (0, 1], got {level}", key="level")
    groups = cold_entities(dataset, mode, replicate, seed, holdout)
    parts = {}
    for name, obs in dataset.objectives.items():
        group = _row_groups(obs, mode, groups)
        pool = np.flatnonzero(group == "train")
        rng = np.random.default_rng(
            [seed, round(level * 10_000), replicate, zlib.crc32(f"{mode}/{name}".encode())]
        )
        keep = int(np.floor(level * len(pool)))
        parts[name] = {
            "train": np.sort(rng.permutation(pool)[:keep]),
            "val": np.flatnonzero(group == "val"),
            "test": np.flatnonzero(group == "test"),
        }
    return Split(parts, level, replicate)


def _row_groups(obs: Objective, mode: str, groups: dict[str, np.ndarray]) -> np.ndarray:
    """``"train"``, ``"val"``, ``"test"`` or ``""`` (unused) for every row of ``obs``."""
    entity = obs.workload if mode == "cold-workload" else obs.platform
    group = np.full(len(obs), "", dtype=object)
    for part in ("train", "val", "test"):
        group[np.isin(entity, groups[part])] = part
    if mode == "cold-workload" and obs.interferers.shape[1]:
        held = np.concatenate([groups["val"], groups["test"]])
        sees_held = np.isin(obs.interferers, held).any(axis=1)
        group[(group == "train") & sees_held] = ""
    return group


def seen_entities(dataset: Dataset, split: Split) -> dict[str, np.ndarray]:
    """Which platforms and workloads (as workload or co-runner) appear in the train rows of
    any objective of ``split``: ``{"platform": (P,) bool, "workload": (W,) bool}``."""
    seen = {"platform": np.zeros(len(dataset.platforms), bool),
            "workload": np.zeros(len(dataset.workloads), bool)}
    for name in split.objectives():
        if name not in dataset.objectives:
            continue
        obs = dataset.objectives[name].take(split.rows(name, "train"))
        seen["platform"][obs.platform] = True
        seen["workload"][obs.workload] = True
        corunners = obs.interferers.ravel()
        seen["workload"][corunners[corunners >= 0]] = True
    return seen


def left_out_rows(dataset: Dataset, split: Split, objective: str) -> np.ndarray:
    """Rows of ``objective`` whose entities are all in training but which are in no part of a
    cold ``split`` at ``level`` < 1: warm rows never trained on, which can calibrate the warm
    group of Mondrian bounds (:func:`pitot_tf.conformal.groups.cold_warm_groups`)."""
    seen = seen_entities(dataset, split)
    obs = dataset.objectives[objective]
    warm = seen["platform"][obs.platform] & seen["workload"][obs.workload]
    if obs.interferers.shape[1]:
        warm &= seen["workload"][obs.interferers].all(axis=1)
    used = np.concatenate([split.rows(objective, part) for part in ("train", "val", "test")])
    warm[used] = False
    return np.flatnonzero(warm)
