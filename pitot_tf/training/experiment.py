"""What one training run needs, resolved from user-facing names: a preset and overrides, a
data directory, and a level/replicate (from split files when given, else made on the fly)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pitot_tf.config import Config
from pitot_tf.data.dataset import Dataset, default_data_dir, load_dataset
from pitot_tf.data.splits import Split, check_level, load_split, make_split, split_path
from pitot_tf.presets import resolve

DEFAULT_SPLIT_SEED = 42


@dataclass
class Experiment:
    """A resolved run: config, data, split (and the split file, if one was read)."""

    preset: str
    config: Config
    dataset: Dataset
    split: Split
    level: float
    replicate: int
    split_file: Path | None = None


def prepare(
    preset: str = "pitot",
    overrides: dict[str, Any] | None = None,
    level: float = 0.5,
    replicate: int = 0,
    data_dir: str | os.PathLike[str] | None = None,
    splits_dir: str | os.PathLike[str] | None = None,
    steps: int | None = None,
) -> Experiment:
    """Resolve the config (``steps`` is a shortcut for ``training.steps``), load the data and
    the split. Raises :class:`~pitot_tf.errors.PitotError` subclasses on any bad input."""
    values = dict(overrides or {})
    if steps is not None:
        values["training.steps"] = steps
    config = resolve(preset, values)
    level = check_level(level)
    dataset = load_dataset(default_data_dir(data_dir), config.objectives.include or None)
    if splits_dir is not None:
        path = split_path(splits_dir, level, replicate)
        split = load_split(path, dataset)
        return Experiment(preset, config, dataset, split, level, replicate, path)
    split = make_split(dataset, level, replicate, DEFAULT_SPLIT_SEED)
    return Experiment(preset, config, dataset, split, level, replicate)
