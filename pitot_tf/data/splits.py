"""Train / validation (calibration) / test splits, in the reference implementation's layout.

For a data level ``L`` each objective's rows are shuffled independently; the first
``floor(0.8 L N)`` are train, the next ``floor(0.2 L N)`` validation (which also calibrates the
conformal bounds) and the rest test. Files live at ``<dir>/<level>/<replicate>.npz`` with keys
``<objective>_train``, ``<objective>_val`` and ``<objective>_test`` (row indices).
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pitot_tf.data.dataset import Dataset, has_zip_header
from pitot_tf.errors import DataError

PARTS = ("train", "val", "test")
TRAIN_SHARE = 0.8
DEFAULT_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class Split:
    """Row indices of each part, per objective: ``parts[objective][part]``."""

    parts: dict[str, dict[str, np.ndarray]]
    level: float | None = None
    replicate: int | None = None

    def rows(self, objective: str, part: str) -> np.ndarray:
        return self.parts[objective][part]

    def objectives(self) -> list[str]:
        return list(self.parts)


def level_name(level: float) -> str:
    """The folder name of a level: ``0.5`` → ``"0.5"``."""
    return f"{level:g}"


def split_path(splits_dir: str | os.PathLike[str], level: float, replicate: int) -> Path:
    return Path(splits_dir) / level_name(level) / f"{replicate}.npz"


def check_level(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise DataError("split", f"level must be in (0, 1), got {level}", key="level")
    return float(level)


def _rng(seed: int, level: float, replicate: int, objective: str) -> np.random.Generator:
    """An independent stream per (seed, level, replicate, objective), stable across runs."""
    key = [seed, round(level * 10_000), replicate, zlib.crc32(objective.encode())]
    return np.random.default_rng(key)


def make_split(dataset: Dataset, level: float, replicate: int = 0, seed: int = 42) -> Split:
    """Shuffle each objective's rows and cut them into train, validation and test."""
    level = check_level(level)
    parts = {}
    for name, obs in dataset.objectives.items():
        n = len(obs)
        order = _rng(seed, level, replicate, name).permutation(n)
        n_train = int(np.floor(TRAIN_SHARE * level * n))
        n_val = int(np.floor((1 - TRAIN_SHARE) * level * n))
        parts[name] = {
            "train": np.sort(order[:n_train]),
            "val": np.sort(order[n_train : n_train + n_val]),
            "test": np.sort(order[n_train + n_val :]),
        }
    return Split(parts, level, replicate)


def save_split(split: Split, path: str | os.PathLike[str]) -> Path:
    """Write a split file atomically (a temporary name, renamed when complete)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        f"{obj}_{part}": rows for obj, parts in split.parts.items() for part, rows in parts.items()
    }
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)
    return path


def write_splits(
    dataset: Dataset,
    out: str | os.PathLike[str],
    levels: Sequence[float] = DEFAULT_LEVELS,
    replicates: Iterable[int] = range(5),
    seed: int = 42,
) -> list[Path]:
    """Write ``out/<level>/<replicate>.npz`` for every level and replicate."""
    written = []
    for level in levels:
        for replicate in replicates:
            split = make_split(dataset, level, replicate, seed)
            written.append(save_split(split, split_path(out, level, replicate)))
    return written


def load_split(path: str | os.PathLike[str], dataset: Dataset) -> Split:
    """Read a split file and check it against ``dataset``: known objectives, rows in range,
    parts disjoint. Objectives the dataset has but the file lacks are left out of training."""
    path = Path(path)
    if not path.is_file():
        raise DataError(str(path), "split file not found (make one with `pitot-tf split`)")
    try:
        if not has_zip_header(path):
            raise DataError(str(path), "not a readable split file (truncated or corrupt?): "
                                       "it does not start with a zip header")
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as error:
        raise DataError(str(path), f"not a readable split file (truncated or corrupt?): "
                                   f"{error}") from None
    parts: dict[str, dict[str, np.ndarray]] = {}
    for key, rows in arrays.items():
        objective, _, part = key.rpartition("_")
        if part not in PARTS or not objective:
            raise DataError(str(path), "expected keys <objective>_{train,val,test}", key=key)
        if objective not in dataset.objectives:
            raise DataError(
                str(path),
                f"names objective '{objective}' which the data lacks "
                f"(have {dataset.objective_names()})",
                key=key,
            )
        parts.setdefault(objective, {})[part] = _check_rows(
            path, key, rows, len(dataset.objectives[objective])
        )
    for objective, found in parts.items():
        missing = [p for p in PARTS if p not in found]
        if missing:
            raise DataError(str(path), f"objective '{objective}' lacks part(s) {missing}")
        _check_disjoint(path, objective, found)
    level, replicate = _parse_location(path)
    return Split(parts, level, replicate)


def _check_rows(path: Path, key: str, rows: np.ndarray, size: int) -> np.ndarray:
    if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
        raise DataError(
            str(path), f"expected 1-d integer row indices, got {rows.dtype}{rows.shape}", key=key
        )
    bad = (rows < 0) | (rows >= size)
    if bad.any():
        at = int(np.argmax(bad))
        raise DataError(
            str(path), f"row index {rows[at]} out of range (0 <= i < {size})", key=key, row=at
        )
    return rows.astype(np.int64)


def _check_disjoint(path: Path, objective: str, parts: dict[str, np.ndarray]) -> None:
    for i, first in enumerate(PARTS):
        for second in PARTS[i + 1 :]:
            shared = np.intersect1d(parts[first], parts[second])
            if len(shared):
                at = int(np.flatnonzero(np.isin(parts[second], shared))[0])
                raise DataError(
                    str(path),
                    f"row {shared[0]} is in both {first} and {second}",
                    key=f"{objective}_{second}",
                    row=at,
                )


def _parse_location(path: Path) -> tuple[float | None, int | None]:
    try:
        return float(path.parent.name), int(path.stem)
    except ValueError:
        return None, None
