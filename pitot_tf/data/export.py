"""A Pitot-format dataset → the raw CSV format that :mod:`pitot_tf.data.preprocess` reads.

Why: it shows the raw format on real data, lets the published dataset be extended with one's
own measurements in the same files, and makes the round trip (export, then preprocess) a test
of the preprocessing. Runtimes are written in the dataset's unit (``us`` for the published
data) with every digit of the stored value; the already-encoded features pass through as
``num:<feature>`` columns, so that preprocessing gives the same features back.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from pitot_tf.data.dataset import Axis, Dataset, load_dataset
from pitot_tf.data.encoders import NAME_COLUMN
from pitot_tf.data.preprocess import SEPARATOR, read_counts
from pitot_tf.errors import DataError

__all__ = ["RAW_FILES", "export_raw", "runs_frame", "feature_frame"]

RAW_FILES = {"runs": "runs.csv", "workloads": "workloads.csv", "platforms": "platforms.csv"}


def export_raw(
    data_dir: str | os.PathLike[str] | None, out: str | os.PathLike[str]
) -> dict[str, Path]:
    """Write ``runs.csv``, ``workloads.csv`` and ``platforms.csv`` for the dataset in
    ``data_dir`` (default ``$PITOT_DATA``, else the packaged published data) to ``out``;
    returns their paths."""
    dataset = load_dataset(data_dir)
    bad = [str(n) for n in dataset.workloads.names if SEPARATOR in str(n)]
    if bad:
        raise DataError(str(dataset.source), f"workload name '{bad[0]}' contains '{SEPARATOR}'")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frames = {
        "runs": runs_frame(dataset),
        "workloads": feature_frame(dataset.workloads),
        "platforms": feature_frame(dataset.platforms),
    }
    paths = {}
    for key, frame in frames.items():
        paths[key] = out / RAW_FILES[key]
        frame.to_csv(paths[key], index=False)
    return paths


def runs_frame(dataset: Dataset) -> pd.DataFrame:
    """One row per stored observation, every objective, runtimes in the dataset's unit (the
    ``unit`` column); a ``count`` column
    (runs averaged per row) is added when the dataset records counts other than 1."""
    counts = read_counts(dataset)
    frames = []
    for name, obs in dataset.objectives.items():
        names = dataset.workloads.names
        corunners = [SEPARATOR.join(row) for row in names[obs.interferers].astype(str)]
        frames.append(pd.DataFrame({
            "workload": names[obs.workload], "platform": dataset.platforms.names[obs.platform],
            "runtime": obs.runtime.astype(np.float64).astype(str), "unit": dataset.unit,
            "interferers": corunners, "status": "ok", "count": counts[name],
        }))
    frame = pd.concat(frames, ignore_index=True)
    if (frame["count"] == 1).all():
        frame = frame.drop(columns="count")
    return frame


def feature_frame(axis: Axis) -> pd.DataFrame:
    """``name`` plus a ``num:<feature>`` column per feature, each value its shortest exact
    float32 text."""
    columns: dict[str, object] = {NAME_COLUMN: axis.names}
    for j, feature in enumerate(axis.feature_names):
        columns[f"num:{feature}"] = axis.features[:, j].astype(np.float32).astype(str)
    return pd.DataFrame(columns)
