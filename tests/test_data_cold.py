"""Cold-start splits: whole workloads / platforms (or both) held out, never seen in training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pitot_tf.conformal.groups import COLD_BOTH, COLD_PLATFORM, COLD_WORKLOAD, WARM, cold_kinds
from pitot_tf.data.cold import cold_entities, make_cold_split, seen_entities
from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import load_split, save_split
from pitot_tf.errors import DataError


def _entity(dataset: Dataset, objective: str, mode: str) -> np.ndarray:
    obs = dataset.objectives[objective]
    return obs.workload if mode == "cold-workload" else obs.platform


@pytest.mark.parametrize("mode", ["cold-workload", "cold-platform"])
def test_held_out_entities_own_all_their_rows(synth_dataset: Dataset, mode: str) -> None:
    groups = cold_entities(synth_dataset, mode, replicate=1)
    size = len(synth_dataset.workloads if mode == "cold-workload" else synth_dataset.platforms)
    assert sorted(np.concatenate(list(groups.values())).tolist()) == list(range(size))
    split = make_cold_split(synth_dataset, 0.5, replicate=1, mode=mode)
    for name, obs in synth_dataset.objectives.items():
        entity = _entity(synth_dataset, name, mode)
        for part in ("val", "test"):  # every row of a held-out entity, and nothing else
            expected = np.flatnonzero(np.isin(entity, groups[part]))
            np.testing.assert_array_equal(split.rows(name, part), expected)
            assert len(expected) > 0
        train = split.rows(name, "train")
        assert np.isin(entity[train], groups["train"]).all()
        if mode == "cold-workload":  # held-out workloads are not even co-runners in train
            held = np.concatenate([groups["val"], groups["test"]])
            assert not np.isin(obs.interferers[train], held).any()
            assert obs.interferers.shape[1] == 0 or len(train) > 0


def test_level_subsamples_training_rows_only(synth_dataset: Dataset) -> None:
    full = make_cold_split(synth_dataset, 1.0)
    half = make_cold_split(synth_dataset, 0.5)
    for name in synth_dataset.objectives:
        assert len(half.rows(name, "train")) == len(full.rows(name, "train")) // 2
        assert np.isin(half.rows(name, "train"), full.rows(name, "train")).all()
        for part in ("val", "test"):  # same held-out entities at every level
            np.testing.assert_array_equal(half.rows(name, part), full.rows(name, part))


def test_deterministic_and_replicates_differ(synth_dataset: Dataset, tmp_path: Path) -> None:
    first = make_cold_split(synth_dataset, 0.8, replicate=0, seed=3)
    again = make_cold_split(synth_dataset, 0.8, replicate=0, seed=3)
    other = make_cold_split(synth_dataset, 0.8, replicate=1, seed=3)
    np.testing.assert_array_equal(first.rows("mf", "test"), again.rows("mf", "test"))
    assert not np.array_equal(first.rows("mf", "test"), other.rows("mf", "test"))
    loaded = load_split(save_split(first, tmp_path / "0.8" / "0.npz"), synth_dataset)
    for part in ("train", "val", "test"):  # a valid split file: disjoint, in range
        np.testing.assert_array_equal(loaded.rows("if2", part), first.rows("if2", part))


def _both_groups(dataset: Dataset, replicate: int) -> dict[str, dict[str, np.ndarray]]:
    return {axis: cold_entities(dataset, "cold-both", replicate, axis=axis)
            for axis in ("workload", "platform")}


@pytest.mark.parametrize("replicate", [0, 1, 2])
def test_cold_both_keeps_calibration_and_test_entities_apart(
    synth_dataset: Dataset, replicate: int
) -> None:
    """No held-out workload or platform in training rows (as target or co-runner); val and
    test rows share no held-out entity on either axis; train, val, test and the left-out
    rows partition every objective's rows."""
    groups = _both_groups(synth_dataset, replicate)
    held_workloads = np.concatenate([groups["workload"]["val"], groups["workload"]["test"]])
    split = make_cold_split(synth_dataset, 1.0, replicate, mode="cold-both")
    for name, obs in synth_dataset.objectives.items():
        train = split.rows(name, "train")
        assert np.isin(obs.workload[train], groups["workload"]["train"]).all()
        assert np.isin(obs.platform[train], groups["platform"]["train"]).all()
        assert not np.isin(obs.interferers[train], held_workloads).any()
        for part, other in (("val", "test"), ("test", "val")):
            rows = split.rows(name, part)
            assert not np.isin(obs.workload[rows], groups["workload"][other]).any()
            assert not np.isin(obs.platform[rows], groups["platform"][other]).any()
            cold = (np.isin(obs.workload[rows], groups["workload"][part])
                    | np.isin(obs.platform[rows], groups["platform"][part]))
            assert cold.all()
        used = np.concatenate([split.rows(name, part) for part in ("train", "val", "test")])
        assert len(np.unique(used)) == len(used)  # disjoint parts
        unused = np.setdiff1d(np.arange(len(obs)), used)
        mixed = ((np.isin(obs.workload, groups["workload"]["val"])
                  & np.isin(obs.platform, groups["platform"]["test"]))
                 | (np.isin(obs.workload, groups["workload"]["test"])
                    & np.isin(obs.platform, groups["platform"]["val"])))
        beside_held = (np.isin(obs.workload, groups["workload"]["train"])
                       & np.isin(obs.platform, groups["platform"]["train"])
                       & np.isin(obs.interferers, held_workloads).any(axis=1))
        np.testing.assert_array_equal(unused, np.flatnonzero(mixed | beside_held))


def test_cold_both_rows_have_every_kind(synth_dataset: Dataset) -> None:
    """Training rows are warm; the val and test rows of each objective hold all three cold
    kinds, told apart by which of their workload and platform training never saw."""
    split = make_cold_split(synth_dataset, 1.0, 0, mode="cold-both")
    seen = seen_entities(synth_dataset, split)
    groups = _both_groups(synth_dataset, 0)
    assert seen["workload"].sum() == len(groups["workload"]["train"])
    assert seen["platform"].sum() == len(groups["platform"]["train"])
    for name, obs in synth_dataset.objectives.items():
        assert (cold_kinds(obs, split.rows(name, "train"), seen) == WARM).all()
        for part in ("val", "test"):
            rows = split.rows(name, part)
            kinds = cold_kinds(obs, rows, seen)
            assert set(kinds.tolist()) == {COLD_WORKLOAD, COLD_PLATFORM, COLD_BOTH}
            workload_held = np.isin(obs.workload[rows], groups["workload"][part])
            platform_held = np.isin(obs.platform[rows], groups["platform"][part])
            np.testing.assert_array_equal(kinds == COLD_BOTH, workload_held & platform_held)
            np.testing.assert_array_equal(kinds == COLD_WORKLOAD, workload_held & ~platform_held)


def test_cold_both_reproducible_per_draw(synth_dataset: Dataset) -> None:
    """The same draw gives the same split; another draw other entities on both axes; the
    single-axis modes hold out only their axis."""
    first = make_cold_split(synth_dataset, 1.0, replicate=2, mode="cold-both")
    again = make_cold_split(synth_dataset, 1.0, replicate=2, mode="cold-both")
    for name in synth_dataset.objectives:
        for part in ("train", "val", "test"):
            np.testing.assert_array_equal(first.rows(name, part), again.rows(name, part))
    this, other = _both_groups(synth_dataset, 2), _both_groups(synth_dataset, 3)
    for axis in ("workload", "platform"):
        assert not np.array_equal(this[axis]["test"], other[axis]["test"])
    workload_only = cold_entities(synth_dataset, "cold-workload", axis="platform")
    assert not len(workload_only["test"]) and len(workload_only["train"]) == 16
    with pytest.raises(DataError, match="name the axis"):
        cold_entities(synth_dataset, "cold-both")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "cold-cell"}, "unknown mode 'cold-cell'"),
        ({"holdout": 0.5}, "holdout 0.5"),
        ({"holdout": 0.001}, "holdout 0.001"),
        ({"level": 0.0}, "level must be in"),
    ],
)
def test_bad_arguments(synth_dataset: Dataset, kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"level": 0.5, **kwargs}
    with pytest.raises(DataError, match=message):
        make_cold_split(synth_dataset, **arguments)  # type: ignore[arg-type]
