"""The data a study tunes on: one (dataset, split) per replicate, loaded once per worker."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import Split
from pitot_tf.search.studies import SEARCH_DEFAULTS, StudySpec
from pitot_tf.training.experiment import prepare

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Replicate:
    """One replicate's data and split (from a split file when one was given)."""

    index: int
    dataset: Dataset
    split: Split
    split_file: Path | None


def load_tuning_data(spec: StudySpec, data_dir: PathLike | None = None,
                     splits_dir: PathLike | None = None) -> list[Replicate]:
    """Dataset and split for every replicate of the study, at its level."""
    overrides = {**SEARCH_DEFAULTS, **spec.overrides}
    replicates = []
    for replicate in spec.replicates:
        experiment = prepare(spec.preset, overrides, spec.level, replicate, data_dir, splits_dir)
        replicates.append(Replicate(replicate, experiment.dataset, experiment.split,
                                    experiment.split_file))
    return replicates
