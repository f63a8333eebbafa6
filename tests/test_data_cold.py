"""Cold-start splits: whole workloads / platforms held out, never seen in training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pitot_tf.data.cold import cold_entities, make_cold_split
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
