"""Splits: the reference's sizes, disjointness, determinism and the file round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pitot_tf.data.dataset import Dataset, load_dataset
from pitot_tf.data.splits import load_split, make_split, save_split, split_path, write_splits
from pitot_tf.errors import DataError


def test_sizes_follow_reference_scheme(real_data_dir: Path) -> None:
    dataset = load_dataset(real_data_dir)
    split = make_split(dataset, 0.5, 0)
    n = 53_637
    assert len(split.rows("mf", "train")) == int(np.floor(0.8 * 0.5 * n))
    assert len(split.rows("mf", "val")) == int(np.floor(0.2 * 0.5 * n))
    assert sum(len(split.rows("if2", p)) for p in ("train", "val", "test")) == 98_957


@pytest.mark.parametrize("level", [0.1, 0.5, 0.9])
def test_parts_disjoint_and_cover(synth_dataset: Dataset, level: float) -> None:
    split = make_split(synth_dataset, level, 2)
    for name, obs in synth_dataset.objectives.items():
        rows = np.concatenate([split.rows(name, p) for p in ("train", "val", "test")])
        assert np.array_equal(np.sort(rows), np.arange(len(obs)))


def test_deterministic_per_seed_and_replicate(synth_dataset: Dataset) -> None:
    a, b = make_split(synth_dataset, 0.3, 1, seed=7), make_split(synth_dataset, 0.3, 1, seed=7)
    c = make_split(synth_dataset, 0.3, 2, seed=7)
    assert np.array_equal(a.rows("mf", "train"), b.rows("mf", "train"))
    assert not np.array_equal(a.rows("mf", "train"), c.rows("mf", "train"))


def test_file_round_trip(synth_dataset: Dataset, tmp_path: Path) -> None:
    written = write_splits(synth_dataset, tmp_path, [0.2, 0.5], range(2), seed=3)
    assert split_path(tmp_path, 0.5, 1) in written
    loaded = load_split(split_path(tmp_path, 0.5, 1), synth_dataset)
    original = make_split(synth_dataset, 0.5, 1, seed=3)
    assert loaded.level == 0.5 and loaded.replicate == 1
    for name in synth_dataset.objectives:
        for part in ("train", "val", "test"):
            assert np.array_equal(loaded.rows(name, part), original.rows(name, part))
    with np.load(split_path(tmp_path, 0.5, 1)) as archive:
        assert set(archive.files) == {
            f"{o}_{p}" for o in ("mf", "if2") for p in ("train", "val", "test")
        }


def _write(path: Path, **arrays: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def test_overlapping_rows_rejected(synth_dataset: Dataset, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "0.5" / "0.npz",
        mf_train=np.array([0, 1, 2]),
        mf_val=np.array([3, 2]),
        mf_test=np.array([4]),
    )
    with pytest.raises(DataError, match=r"key 'mf_val', row 1: row 2 is in both train and val"):
        load_split(path, synth_dataset)


def test_out_of_range_rows_rejected(synth_dataset: Dataset, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "s.npz",
        mf_train=np.array([0, 10**7]),
        mf_val=np.array([3]),
        mf_test=np.array([4]),
    )
    with pytest.raises(DataError, match=r"key 'mf_train', row 1: row index 10000000 out of range"):
        load_split(path, synth_dataset)


def test_unknown_objective_rejected(synth_dataset: Dataset, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "s.npz", if4_train=np.array([0]), if4_val=np.array([1]), if4_test=np.array([2])
    )
    with pytest.raises(DataError, match="names objective 'if4' which the data lacks"):
        load_split(path, synth_dataset)


def test_bad_level() -> None:
    from pitot_tf.data.splits import check_level

    for level in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(DataError, match="level must be in"):
            check_level(level)


def test_saved_split_survives_interruption(synth_dataset: Dataset, tmp_path: Path) -> None:
    path = save_split(make_split(synth_dataset, 0.5), tmp_path / "0.5" / "0.npz")
    assert [p.name for p in path.parent.iterdir()] == ["0.npz"]
