"""The Pitot dataset: two axes (platforms, workloads) and one observation table per objective.

A data directory holds ``data.npz`` (the matrix objective ``mf``: each workload alone on a
platform) and any number of ``ifK.npz`` files (``K``-way interference: a workload with ``K-1``
co-runners). Everything is validated on load, so the rest of the library can trust its input.
Runtimes ``t`` are in the dataset's unit (:mod:`pitot_tf.data.units`): the key ``unit`` of
``data.npz`` when present, else microseconds (the published data).
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pitot_tf.data.packaged import published_data_dir
from pitot_tf.data.units import (
    DEFAULT_UNIT,
    UNIT_KEY,
    UNITS,
    canonical_unit,
    log_to_seconds,
    to_seconds,
)
from pitot_tf.errors import DataError

#: The environment variable naming the default data directory.
DATA_ENV = "PITOT_DATA"
MATRIX_FILE = "data.npz"
MATRIX_OBJECTIVE = "mf"
AXES = ("platform", "workload")
_INTERFERENCE_FILE = re.compile(r"^if(\d+)\.npz$")
#: How a zip archive starts: with a file entry, or with the end record when it is empty.
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def default_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: the argument (``--data-dir``), else ``$PITOT_DATA``, else the
    published dataset shipped in the package (:mod:`pitot_tf.data.packaged`), so that every
    command works offline on the data the results are measured on."""
    if data_dir:
        return Path(data_dir)
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else published_data_dir()


@dataclass(frozen=True)
class Axis:
    """One side of the matrix: its row names and side-information features."""

    kind: str
    names: np.ndarray
    features: np.ndarray
    feature_names: np.ndarray

    def __len__(self) -> int:
        return len(self.names)

    def index(self) -> dict[str, int]:
        """Name → row index."""
        return {str(name): i for i, name in enumerate(self.names)}


@dataclass(frozen=True)
class Objective:
    """Observed runtimes of one kind: alone (``mf``) or beside ``degree - 1`` co-runners."""

    name: str
    runtime: np.ndarray
    platform: np.ndarray
    workload: np.ndarray
    interferers: np.ndarray

    @property
    def degree(self) -> int:
        """How many workloads ran at once (1 for the matrix objective)."""
        return int(self.interferers.shape[1]) + 1

    @property
    def log_runtime(self) -> np.ndarray:
        """Natural log of the runtime in the dataset's unit: the regression target."""
        return np.log(self.runtime)

    def __len__(self) -> int:
        return len(self.runtime)

    def take(self, rows: np.ndarray) -> Objective:
        """The same objective restricted to ``rows``."""
        return Objective(
            self.name,
            self.runtime[rows],
            self.platform[rows],
            self.workload[rows],
            self.interferers[rows],
        )


@dataclass(frozen=True)
class Dataset:
    """Axes plus observation tables, keyed by objective name (``mf``, ``if2``, ...), and the
    unit of every runtime in them (``us`` for the published data)."""

    platforms: Axis
    workloads: Axis
    objectives: dict[str, Objective]
    source: Path | None = field(default=None, compare=False)
    unit: str = DEFAULT_UNIT

    def objective_names(self) -> list[str]:
        return list(self.objectives)

    def seconds(self, runtime: np.ndarray) -> np.ndarray:
        """Runtimes in this dataset's unit → seconds."""
        return to_seconds(runtime, self.unit)

    def seconds_from_log(self, log_runtime: np.ndarray) -> np.ndarray:
        """Log runtimes in this dataset's unit (targets, predictions, bounds) → seconds."""
        return log_to_seconds(log_runtime, self.unit)

    def frame(self, objective: str = MATRIX_OBJECTIVE) -> pd.DataFrame:
        """A pandas view of one objective with names resolved, for looking at the data."""
        obs = self.objectives[objective]
        columns: dict[str, object] = {
            "platform": self.platforms.names[obs.platform],
            "workload": self.workloads.names[obs.workload],
        }
        for k in range(obs.interferers.shape[1]):
            columns[f"interferer{k}"] = self.workloads.names[obs.interferers[:, k]]
        columns["runtime_s"] = self.seconds(obs.runtime)
        return pd.DataFrame(columns)

    def summary(self) -> dict[str, object]:
        """Axis sizes, the stored runtime unit, and per objective rows, density, repeated cells
        and runtime range (in seconds)."""
        cells = len(self.platforms) * len(self.workloads)
        per_objective = {}
        for name, obs in self.objectives.items():
            keys = np.column_stack([obs.platform, obs.workload, obs.interferers])
            unique = len(np.unique(keys, axis=0)) if len(obs) else 0
            per_objective[name] = {
                "degree": obs.degree,
                "rows": len(obs),
                "duplicate_rows": len(obs) - unique,
                "density": (len(np.unique(keys[:, :2], axis=0)) / cells if len(obs) else 0.0),
                "runtime_min_s": float(self.seconds(obs.runtime.min())) if len(obs) else None,
                "runtime_max_s": float(self.seconds(obs.runtime.max())) if len(obs) else None,
            }
        return {
            "platforms": len(self.platforms),
            "workloads": len(self.workloads),
            "platform_features": int(self.platforms.features.shape[1]),
            "workload_features": int(self.workloads.features.shape[1]),
            "runtime_unit": self.unit,
            "objectives": per_objective,
        }


def load_dataset(
    data_dir: str | os.PathLike[str] | None = None, objectives: Iterable[str] | None = None
) -> Dataset:
    """Load and validate ``data.npz`` and every ``ifK.npz`` in ``data_dir``.

    ``objectives`` limits which tables are loaded (``mf`` is always needed for the axes).
    Any problem raises :class:`DataError` naming the file, key and first offending row.
    """
    root = default_data_dir(data_dir)
    if not root.is_dir():
        raise DataError(
            str(root),
            "data directory not found; pass --data-dir or set PITOT_DATA "
            "(or create one with `pitot-tf data fetch` or `pitot-tf data synth`)",
        )
    matrix = _read_npz(root / MATRIX_FILE)
    platforms = _load_axis(root / MATRIX_FILE, matrix, "platform")
    workloads = _load_axis(root / MATRIX_FILE, matrix, "workload")
    sizes = {"platform": len(platforms), "workload": len(workloads)}
    wanted = set(objectives) if objectives is not None else None
    tables = {
        MATRIX_OBJECTIVE: _load_objective(root / MATRIX_FILE, matrix, MATRIX_OBJECTIVE, 1, sizes)
    }
    for degree, path in interference_files(root):
        name = f"if{degree}"
        if wanted is None or name in wanted:
            tables[name] = _load_objective(path, _read_npz(path), name, degree, sizes)
    if wanted is not None:
        missing = sorted(wanted - set(tables))
        if missing:
            raise DataError(str(root), f"objective(s) {missing} not found; have {list(tables)}")
        tables = {k: v for k, v in tables.items() if k in wanted or k == MATRIX_OBJECTIVE}
    return Dataset(platforms, workloads, tables, root, _load_unit(root / MATRIX_FILE, matrix))


def interference_files(root: Path) -> list[tuple[int, Path]]:
    """``(K, path)`` for each ``ifK.npz`` in ``root``, in increasing K."""
    found = []
    for path in root.iterdir():
        match = _INTERFERENCE_FILE.match(path.name)
        if match and int(match.group(1)) >= 2:
            found.append((int(match.group(1)), path))
    return sorted(found)


def has_zip_header(path: Path) -> bool:
    """Whether the file starts like a zip archive (every npz does). ``np.load`` takes any other
    file for a pickle and would blame ``allow_pickle``, which misleads for a corrupt file."""
    with open(path, "rb") as handle:
        return handle.read(4) in _ZIP_MAGIC


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read every array of an npz eagerly, turning IO and format errors into DataError."""
    if not path.is_file():
        raise DataError(str(path), "file not found")
    try:
        if not has_zip_header(path):
            raise DataError(str(path), "not a readable npz file (truncated or corrupt?): "
                                       "it does not start with a zip header")
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as error:
        raise DataError(
            str(path), f"not a readable npz file (truncated or corrupt?): {error}"
        ) from None


def _load_unit(path: Path, arrays: dict[str, np.ndarray]) -> str:
    """The dataset's runtime unit: ``data.npz``'s ``unit`` key, else the published data's."""
    if UNIT_KEY not in arrays:
        return DEFAULT_UNIT
    value = arrays[UNIT_KEY]
    unit = canonical_unit(str(value)) if value.ndim == 0 and value.dtype.kind == "U" else None
    if unit is None:
        raise DataError(str(path), f"runtime unit must be one of {', '.join(UNITS)} (a 0-d "
                                   f"string), got {value.tolist()!r}", key=UNIT_KEY)
    return unit


def _require(path: Path, arrays: dict[str, np.ndarray], key: str) -> np.ndarray:
    if key not in arrays:
        raise DataError(str(path), f"missing key (file has {sorted(arrays)})", key=key)
    return arrays[key]


def _load_axis(path: Path, arrays: dict[str, np.ndarray], kind: str) -> Axis:
    features = _require(path, arrays, f"d_{kind}")
    names = _require(path, arrays, f"n_{kind}")
    feature_names = _require(path, arrays, f"f_{kind}")
    if features.ndim != 2 or not np.issubdtype(features.dtype, np.number):
        raise DataError(
            str(path),
            f"expected a 2-d numeric array, got {features.dtype}{features.shape}",
            key=f"d_{kind}",
        )
    if names.shape != (features.shape[0],):
        raise DataError(
            str(path),
            f"{names.shape[0] if names.ndim else 0} names but d_{kind} has "
            f"{features.shape[0]} rows",
            key=f"n_{kind}",
        )
    if feature_names.shape != (features.shape[1],):
        raise DataError(
            str(path),
            f"{feature_names.size} feature names but d_{kind} has {features.shape[1]} columns",
            key=f"f_{kind}",
        )
    bad = ~np.isfinite(features).all(axis=1)
    if bad.any():
        raise DataError(
            str(path), "feature is NaN or infinite", key=f"d_{kind}", row=int(np.argmax(bad))
        )
    return Axis(kind, names.astype(str), features.astype(np.float32), feature_names.astype(str))


def _load_objective(
    path: Path, arrays: dict[str, np.ndarray], name: str, degree: int, sizes: dict[str, int]
) -> Objective:
    runtime = _require(path, arrays, "t")
    if runtime.ndim != 1 or not np.issubdtype(runtime.dtype, np.number):
        raise DataError(
            str(path), f"expected a 1-d numeric array, got {runtime.dtype}{runtime.shape}", key="t"
        )
    runtime = runtime.astype(np.float64)
    bad = ~(np.isfinite(runtime) & (runtime > 0))
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            str(path), f"runtime must be finite and positive, got {runtime[row]}", key="t", row=row
        )
    platform = _index(path, arrays, "i_platform", len(runtime), sizes["platform"], "platform")
    workload = _index(path, arrays, "i_workload", len(runtime), sizes["workload"], "workload")
    interferers = (
        np.stack(
            [
                _index(
                    path, arrays, f"i_interference{k}", len(runtime), sizes["workload"], "workload"
                )
                for k in range(degree - 1)
            ],
            axis=1,
        )
        if degree > 1
        else np.zeros((len(runtime), 0), dtype=np.int64)
    )
    return Objective(name, runtime, platform, workload, interferers)


def _index(
    path: Path, arrays: dict[str, np.ndarray], key: str, rows: int, size: int, axis: str
) -> np.ndarray:
    values = _require(path, arrays, key)
    if values.shape != (rows,):
        raise DataError(
            str(path), f"has shape {values.shape}, expected ({rows},) like 't'", key=key
        )
    if not np.issubdtype(values.dtype, np.integer):
        if np.issubdtype(values.dtype, np.floating):
            bad = ~np.isfinite(values) | (values != np.round(values))
            row = int(np.argmax(bad)) if bad.any() else 0
            raise DataError(
                str(path),
                f"index must be an integer, got {values[row]} ({values.dtype})",
                key=key,
                row=row,
            )
        raise DataError(str(path), f"index must be an integer array, got {values.dtype}", key=key)
    bad = (values < 0) | (values >= size)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            str(path),
            f"index {values[row]} is not a valid {axis} (0 <= i < {size})",
            key=key,
            row=row,
        )
    return values.astype(np.int64)
