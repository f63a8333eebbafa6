"""The identity of a cell's result (``sweep_key``) and of a whole sweep (its id).

A finished run is reused only when all that decides its numbers is the same: preset name,
resolved config (less settings that do not change results), data fingerprint, split (file hash,
or "made" with level and replicate) and code version; ``sweep_key`` hashes exactly that (the
preset name so that ``learned/1`` and ``pitot``, which resolve alike, keep their own names). A
sweep's id hashes its cells' keys, the experiment and whether models are logged: the same
command on the same data and code is the same sweep, anywhere, and resumes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pitot_tf.config import Config
from pitot_tf.data.dataset import default_data_dir, load_dataset
from pitot_tf.data.splits import split_path
from pitot_tf.errors import DataError
from pitot_tf.presets import resolve
from pitot_tf.sweep.cells import Cell
from pitot_tf.tracking.fingerprint import data_fingerprint, file_sha256, source_version

#: Config keys that do not change a run's numbers (left out of the key).
IRRELEVANT_KEYS = ("training.progress",)
KEY_CHARS = 32
ID_CHARS = 12


def digest(value: Any, chars: int = KEY_CHARS) -> str:
    """SHA-256 (first ``chars`` hex digits) of ``value`` as canonical JSON."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:chars]


def config_hash(config: Config) -> str:
    """Hash of the resolved config, less :data:`IRRELEVANT_KEYS`."""
    flat = {k: v for k, v in config.flat().items() if k not in IRRELEVANT_KEYS}
    return digest(flat)


def split_identity(splits_dir: str | os.PathLike[str] | None, level: float,
                   replicate: int) -> str:
    """``file:<sha256>`` of the split file, or ``made:level=..,replicate=..`` for a split made
    with the default seed (the seed is in the code, which the key covers by its version)."""
    if splits_dir is None:
        return f"made:level={level:g},replicate={replicate}"
    path = split_path(splits_dir, level, replicate)
    if not Path(path).is_file():
        raise DataError(str(path), "split file not found (layout <dir>/<level>/<replicate>.npz)")
    return f"file:{file_sha256(Path(path))}"


@dataclass
class KeyMaker:
    """Computes ``sweep_key`` for cells, loading each needed dataset once."""

    overrides: Mapping[str, Any]
    data_dir: str | os.PathLike[str] | None = None
    splits_dir: str | os.PathLike[str] | None = None
    code: str = field(default_factory=source_version)
    _fingerprints: dict[tuple[str, ...], str] = field(default_factory=dict, repr=False)

    def fingerprint(self, include: Iterable[str]) -> str:
        """Data fingerprint of the objectives ``include`` (all when empty)."""
        wanted = tuple(include)
        if wanted not in self._fingerprints:
            dataset = load_dataset(default_data_dir(self.data_dir), list(wanted) or None)
            self._fingerprints[wanted] = str(data_fingerprint(dataset)["fingerprint"])
        return self._fingerprints[wanted]

    def key(self, cell: Cell) -> str:
        config = resolve(cell.preset, dict(self.overrides))
        return digest({
            "preset": cell.preset, "config": config_hash(config),
            "data": self.fingerprint(config.objectives.include),
            "split": split_identity(self.splits_dir, cell.level, cell.replicate),
            "level": f"{cell.level:g}", "replicate": cell.replicate, "code": self.code,
        })

    def keys(self, cells: Iterable[Cell]) -> dict[str, str]:
        """``{cell key: sweep_key}``; raises DataError for a missing data or split file."""
        return {cell.key: self.key(cell) for cell in cells}


def sweep_id(cell_keys: Mapping[str, str], experiment: str, log_model: bool) -> str:
    """12 hex digits naming the sweep."""
    return digest({"cells": dict(sorted(cell_keys.items())), "experiment": experiment,
                   "log_model": log_model}, ID_CHARS)
