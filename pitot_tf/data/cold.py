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

``cold-both`` holds out workloads *and* platforms: both axes are cut as above (the same
``holdout`` share each, from independent shuffles), and a row goes by the groups of its
workload and platform (an interference row by its target workload, not its co-runners):

* both train: the training pool (less rows with a held-out co-runner, as for cold-workload);
* one train and the other val (test), or both val (test): val (test). The row is of one of
  three kinds (:func:`pitot_tf.conformal.groups.cold_kinds`): a cold workload on a measured
  platform, a measured workload on a cold platform, or a cold workload on a cold platform;
* one val and the other test: unused. Such a row shares an entity with a calibration row *and*
  one with a test row; leaving it out keeps calibration and test entities disjoint on both
  axes, so that swapping the val and test entities swaps the two parts exactly and each kind's
  calibration and test rows are exchangeable over the draw of entities.

Co-runners of val and test rows may be held out (of either part): a new program will run
beside other new programs, and the row's kind is that of its target workload and platform.
Training sees ``(1 - 2 holdout)²`` of the cells (36% at 0.2) against ``1 - 2 holdout`` for
one axis; the same share per axis keeps the three cold kinds comparable in size.
"""

from __future__ import annotations

import zlib

import numpy as np

from pitot_tf.data.dataset import Dataset, Objective
from pitot_tf.data.splits import Split
from pitot_tf.errors import DataError

__all__ = ["AXES", "COLD_MODES", "cold_entities", "left_out_rows", "make_cold_split", "row_groups",
           "seen_entities"]

COLD_MODES = ("cold-workload", "cold-platform", "cold-both")
#: The held-out axis of each single-axis mode; ``cold-both`` holds out both.
AXES = {"cold-workload": ("workload",), "cold-platform": ("platform",),
        "cold-both": ("workload", "platform")}


def cold_entities(
    dataset: Dataset, mode: str, replicate: int = 0, seed: int = 42, holdout: float = 0.2,
    axis: str | None = None,
) -> dict[str, np.ndarray]:
    """The sorted entity indices of each group of ``axis`` (``"workload"`` or ``"platform"``;
    default: the held-out axis of a single-axis mode): ``{"train", "val", "test"}``. Under
    ``cold-both`` each axis has its own shuffle; an axis a mode does not hold out is all
    train."""
    if mode not in COLD_MODES:
        raise DataError("split", f"unknown mode '{mode}' (use {', '.join(COLD_MODES)})",
                        key="mode")
    axes = AXES[mode]
    if axis is None:
        if len(axes) > 1:
            raise DataError("split", f"mode '{mode}' holds out {' and '.join(axes)}: "
                            "name the axis", key="axis")
        axis = axes[0]
    if axis not in ("workload", "platform"):
        raise DataError("split", f"unknown axis '{axis}' (use workload or platform)", key="axis")
    size = len(dataset.workloads if axis == "workload" else dataset.platforms)
    if axis not in axes:
        return {"test": np.zeros(0, np.int64), "val": np.zeros(0, np.int64),
                "train": np.arange(size)}
    held = int(round(holdout * size))
    if not 0.0 < holdout < 0.5 or held < 1 or size - 2 * held < 1:
        raise DataError(
            "split", f"holdout {holdout} of {size} {axis}s must leave at least one for each "
            "of test, val and train (0 < holdout < 0.5)", key="holdout",
        )
    # Single-axis modes keep their original stream (their splits are unchanged).
    stream = mode if len(axes) == 1 else f"{mode}/{axis}"
    order = np.random.default_rng([seed, replicate, zlib.crc32(stream.encode())]).permutation(size)
    return {
        "test": np.sort(order[:held]),
        "val": np.sort(order[held:2 * held]),
        "train": np.sort(order[2 * held:]),
    }


def make_cold_split(
    dataset: Dataset, level: float, replicate: int = 0, seed: int = 42,
    mode: str = "cold-workload", holdout: float = 0.2,
) -> Split:
    """Hold out whole workloads, platforms or both (see the module docstring); ``level`` in
    (0, 1] is the share of the training entities' rows that are train."""
    if not 0.0 < level <= 1.0:
        raise DataError("split", f"level must be in (0, 1], got {level}", key="level")
    groups = {axis: cold_entities(dataset, mode, replicate, seed, holdout, axis)
              for axis in ("workload", "platform")}
    parts = {}
    for name, obs in dataset.objectives.items():
        group = row_groups(obs, groups)
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


def row_groups(obs: Objective, groups: dict[str, dict[str, np.ndarray]]) -> np.ndarray:
    """``"train"``, ``"val"``, ``"test"`` or ``""`` (unused) for every row of ``obs``, from
    the entity groups of each axis (``groups[axis][part]``, :func:`cold_entities`)."""
    workload = _entity_groups(obs.workload, groups["workload"])
    platform = _entity_groups(obs.platform, groups["platform"])
    group = np.full(len(obs), "", dtype=object)
    group[(workload == "train") & (platform == "train")] = "train"
    for part in ("val", "test"):
        group[((workload == part) & np.isin(platform, ["train", part]))
              | ((workload == "train") & (platform == part))] = part
    if obs.interferers.shape[1]:
        held = np.concatenate([groups["workload"]["val"], groups["workload"]["test"]])
        sees_held = np.isin(obs.interferers, held).any(axis=1)
        group[(group == "train") & sees_held] = ""
    return group


def _entity_groups(entity: np.ndarray, groups: dict[str, np.ndarray]) -> np.ndarray:
    """The group (``"train"``, ``"val"``, ``"test"``) of each row's ``entity``."""
    labels = np.full(len(entity), "", dtype=object)
    for part in ("train", "val", "test"):
        labels[np.isin(entity, groups[part])] = part
    return labels


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
