"""Your own measurements → a dataset in the Pitot format (``data.npz`` + ``ifK.npz``).

Input is a long-format CSV with one row per run (``workload, platform, runtime, unit``, and
optionally ``interferers``: co-runner workload names separated by ``;``, empty for none;
``status``: ``ok`` / ``failed`` / ``timeout``; ``count``: the row is already the mean of that
many runs) plus a platform and a workload feature table (see :mod:`pitot_tf.data.encoders`).

Runs that failed or timed out are dropped and counted. Repeated runs of a cell (platform,
workload and the *set* of co-runners) are averaged, and the number of runs is kept as the extra
key ``count``. Runtimes are stored in microseconds (the unit of the published data) and the
unit is recorded as the key ``unit`` of ``data.npz``; appending keeps the dataset's unit. Axes
hold only the platforms and workloads that were measured, in the order of their feature table.
``append_to`` adds measurements to an existing dataset: its rows, names, indices and features
stay where they are, new names are appended and encoded with the saved encoders, and runs of
cells it already has update those cells' means.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pitot_tf.data.aggregate import Cells, aggregate, merge_cells
from pitot_tf.data.dataset import (
    MATRIX_FILE,
    MATRIX_OBJECTIVE,
    Dataset,
    interference_files,
    load_dataset,
)
from pitot_tf.data.encoders import (
    AxisEncoder,
    fit_axis,
    load_encoders,
    passthrough,
    read_feature_table,
    save_encoders,
)
from pitot_tf.data.rawcsv import CsvTable, member, read_csv
from pitot_tf.data.units import DEFAULT_UNIT, UNIT_KEY, UNITS, canonical_unit, convert
from pitot_tf.errors import ConfigError, DataError

__all__ = ["PreprocessSummary", "preprocess", "read_runs", "ENCODERS_FILE", "UNITS", "STORED_UNIT"]

#: The unit a new dataset's runtimes are stored in: that of the published data.
STORED_UNIT = DEFAULT_UNIT
STATUSES = ("ok", "failed", "timeout")
RUN_COLUMNS = ("workload", "platform", "runtime", "unit")
SEPARATOR = ";"
ENCODERS_FILE = "encoders.json"


@dataclass(frozen=True)
class Runs:
    """The successful runs of a measurement file, validated; rows match ``table``'s rows.
    ``runtime`` is in ``unit``."""

    table: CsvTable
    platform: np.ndarray
    workload: np.ndarray
    corunners: list[list[str]]
    runtime: np.ndarray
    count: np.ndarray
    unit: str = STORED_UNIT


@dataclass(frozen=True)
class AxisData:
    """One axis being built: names, encoded features, encoder, and what changed."""

    names: list[str]
    features: np.ndarray
    encoder: AxisEncoder
    new: int = 0
    unused: int = 0


@dataclass(frozen=True)
class Base:
    """An existing dataset being appended to: axes, cells and runtime unit."""

    axes: dict[str, AxisData]
    cells: dict[str, Cells]
    unit: str


@dataclass(frozen=True)
class PreprocessSummary:
    """What :func:`preprocess` read, dropped and wrote."""

    out: str
    appended_to: str | None
    runs_read: int
    runs_kept: int
    dropped: dict[str, int]
    platforms: int
    workloads: int
    new_platforms: int
    new_workloads: int
    unused_platforms: int
    unused_workloads: int
    objectives: dict[str, dict[str, int]]
    unit: str = STORED_UNIT

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def lines(self) -> list[str]:
        """A human-readable report, one fact per line."""
        dropped = ", ".join(f"{n} {status}" for status, n in self.dropped.items()) or "none"
        verb = f"appended to {self.appended_to} →" if self.appended_to else "wrote"
        lines = [
            f"{verb} {self.out} (runtimes stored in {self.unit})",
            f"  runs: {self.runs_read} read, {self.runs_kept} kept, dropped {dropped}",
            f"  platforms: {self.platforms} ({self.new_platforms} new, "
            f"{self.unused_platforms} in the table but never measured: left out)",
            f"  workloads: {self.workloads} ({self.new_workloads} new, "
            f"{self.unused_workloads} in the table but never measured: left out)",
        ]
        for name, info in self.objectives.items():
            lines.append(
                f"  {name:>4}: {info['rows']} rows ({info['new_rows']} new, "
                f"{info['updated_rows']} updated) from {info['runs']} runs"
            )
        return lines


def preprocess(
    runs: str | os.PathLike[str],
    workloads: str | os.PathLike[str] | None,
    platforms: str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
    append_to: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
) -> PreprocessSummary:
    """Build (or extend, with ``append_to``) a Pitot dataset in ``out`` from raw measurements.

    The feature tables are required for a new dataset; when appending they are only needed for
    names the dataset lacks. Writes ``data.npz``, one ``ifK.npz`` per co-runner count present
    and ``encoders.json``, runtimes in :data:`STORED_UNIT` (or in ``append_to``'s unit),
    recorded in ``data.npz``. An ``out`` that already holds a dataset needs ``overwrite`` (or
    to be ``append_to`` itself). Bad input raises :class:`DataError` naming file, line and column.
    """
    if append_to is None and (workloads is None or platforms is None):
        raise ConfigError("preprocess: --workloads and --platforms are needed for a new dataset")
    out = Path(out)
    in_place = append_to is not None and out.resolve() == Path(append_to).resolve()
    if (out / MATRIX_FILE).exists() and not (overwrite or in_place):
        raise DataError(str(out), "already holds a dataset; pass --overwrite or another --out")
    base = load_base(append_to) if append_to is not None else None
    unit = base.unit if base else STORED_UNIT
    measured, counts = read_runs(runs, unit)
    axes = {
        "platform": resolve_axis(
            "platform", measured, [("platform", measured.platform, None)], platforms, base
        ),
        "workload": resolve_axis("workload", measured, _workload_refs(measured), workloads, base),
    }
    new_cells = aggregate(*_indices(measured, axes), measured.runtime, measured.count)
    old_cells = base.cells if base else {}
    cells, stats = _combine(old_cells, new_cells)
    write_dataset(out, axes, cells, unit)
    return PreprocessSummary(
        str(out), str(append_to) if append_to is not None else None,
        counts["read"], counts["ok"], {s: counts[s] for s in STATUSES[1:] if counts[s]},
        len(axes["platform"].names), len(axes["workload"].names),
        axes["platform"].new, axes["workload"].new,
        axes["platform"].unused, axes["workload"].unused, stats, unit,
    )


def read_runs(
    path: str | os.PathLike[str], unit: str = STORED_UNIT
) -> tuple[Runs, dict[str, int]]:
    """The validated ``ok`` runs of a measurement file (runtimes converted to ``unit``) and
    how many runs had each status."""
    table = read_csv(path, RUN_COLUMNS)
    status = np.array(
        [s.lower() for s in table.column("status")] if table.has("status") else ["ok"] * len(table),
        dtype=object,
    )
    known = member(status, STATUSES)
    if not known.all():
        row = int(np.argmax(~known))
        raise table.error(
            row, "status", f"unknown status '{status[row]}' (use {', '.join(STATUSES)})"
        )
    counts = {s: int((status == s).sum()) for s in STATUSES}
    counts["read"] = len(table)
    return _parse_runs(table.take(status == "ok"), unit), counts


def _parse_runs(table: CsvTable, stored: str) -> Runs:
    for column in ("workload", "platform"):
        table.first_where(table.column(column) == "", column, f"empty {column} name")
    runtime = table.numbers("runtime")
    table.first_where(runtime <= 0, "runtime", "runtime must be > 0, got '{value}'")
    unit = np.array([canonical_unit(u) or "" for u in table.column("unit")], dtype=object)
    table.first_where(unit == "", "unit", "unknown unit '{value}' (use ns, us, ms or s)")
    factor = {u: float(convert(1.0, u, stored)) for u in set(unit)}
    scale = np.array([factor[u] for u in unit], dtype=np.float64)
    count = np.ones(len(table), dtype=np.int64)
    if table.has("count"):
        raw = table.numbers("count")
        table.first_where((raw < 1) | (raw != np.round(raw)), "count", "count must be an "
                          "integer >= 1 (runs averaged in this row), got '{value}'")
        count = raw.astype(np.int64)
    corunners = [_split_corunners(table, row) for row in range(len(table))]
    return Runs(
        table, table.column("platform"), table.column("workload"), corunners,
        runtime * scale, count, stored,
    )


def _split_corunners(table: CsvTable, row: int) -> list[str]:
    if not table.has("interferers"):
        return []
    text = table.column("interferers")[row]
    if not text:
        return []
    names = [name.strip() for name in text.split(SEPARATOR)]
    if "" in names:
        raise table.error(row, "interferers", f"empty co-runner name in '{text}'")
    return names


NameRefs = Sequence[tuple[str, np.ndarray, "np.ndarray | None"]]


def _workload_refs(runs: Runs) -> NameRefs:
    """(column, names, table row of each name or None for row i) of every workload mention."""
    rows = np.array([r for r, names in enumerate(runs.corunners) for _ in names], dtype=np.int64)
    flat = np.array([name for names in runs.corunners for name in names], dtype=object)
    return [("workload", runs.workload, None), ("interferers", flat, rows)]


def resolve_axis(
    axis: str, runs: Runs, refs: NameRefs, table_path: str | os.PathLike[str] | None,
    base: Base | None,
) -> AxisData:
    """The axis after adding every name the runs mention (an unknown name raises)."""
    old = base.axes[axis] if base else None
    table = read_feature_table(table_path, axis) if table_path is not None else None
    known = set(old.names if old else []) | set(table.column("name") if table else [])
    where = f"{table_path}" if table else "the dataset (pass a feature table for new names)"
    used: set[str] = set()
    for column, mentioned, rows in refs:
        missing = ~member(mentioned, known)
        if missing.any():
            at = int(np.argmax(missing))
            row = int(rows[at]) if rows is not None else at
            raise runs.table.error(
                row, column, f"unknown {axis} '{mentioned[at]}' (not in {where})"
            )
        used.update(mentioned)
    if table is None:
        assert old is not None
        return old
    old_names = set(old.names) if old else set()
    table_names = table.column("name")
    new = table.take(member(table_names, used - old_names))
    encoder = old.encoder if old else fit_axis(axis, new)
    features = encoder.encode(new)
    if old:
        features = np.concatenate([old.features, features])
    unused = int((~member(table_names, used | old_names)).sum())
    names = (old.names if old else []) + [str(n) for n in new.column("name")]
    return AxisData(names, features, encoder, len(new), unused)


def _indices(
    runs: Runs, axes: dict[str, AxisData]
) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
    """Platform, workload and co-runner indices of every run."""
    platform = {name: i for i, name in enumerate(axes["platform"].names)}
    workload = {name: i for i, name in enumerate(axes["workload"].names)}
    return (
        np.array([platform[p] for p in runs.platform], dtype=np.int64),
        np.array([workload[w] for w in runs.workload], dtype=np.int64),
        [[workload[c] for c in names] for names in runs.corunners],
    )


def _combine(
    old: dict[str, Cells], new: dict[str, Cells]
) -> tuple[dict[str, Cells], dict[str, dict[str, int]]]:
    """Old cells updated and extended by new ones, plus per-objective counts for the summary."""
    combined: dict[str, Cells] = {}
    stats: dict[str, dict[str, int]] = {}
    for name in sorted(set(old) | set(new), key=_objective_order):
        runs = int(new[name].count.sum()) if name in new else 0
        if name in old and name in new:
            combined[name], updated = merge_cells(old[name], new[name])
        else:
            combined[name], updated = (old[name] if name in old else new[name]), 0
        rows = len(combined[name].runtime)
        new_rows = rows - (len(old[name].runtime) if name in old else 0)
        stats[name] = {"rows": rows, "new_rows": new_rows, "updated_rows": updated, "runs": runs}
    return combined, stats


def _objective_order(name: str) -> int:
    return 1 if name == MATRIX_OBJECTIVE else int(name[2:])


def load_base(data_dir: str | os.PathLike[str]) -> Base:
    """An existing dataset's axes (with encoders), cells (with run counts) and runtime unit,
    to append to."""
    dataset = load_dataset(data_dir)
    saved = Path(data_dir) / ENCODERS_FILE
    encoders = load_encoders(saved) if saved.is_file() else None
    axes = {}
    for axis in (dataset.platforms, dataset.workloads):
        features = [str(f) for f in axis.feature_names]
        encoder = encoders[axis.kind] if encoders else passthrough(axis.kind, features)
        if list(encoder.features) != features:
            raise DataError(str(saved), f"{axis.kind} features differ from those of {MATRIX_FILE}")
        axes[axis.kind] = AxisData([str(n) for n in axis.names], axis.features, encoder)
    counts = read_counts(dataset)
    cells = {
        name: Cells(obs.runtime, counts[name], obs.platform, obs.workload, obs.interferers)
        for name, obs in dataset.objectives.items()
    }
    return Base(axes, cells, dataset.unit)


def read_counts(dataset: Dataset) -> dict[str, np.ndarray]:
    """Runs averaged in each row, per objective: the files' ``count`` keys, else ones."""
    root = dataset.source if dataset.source is not None else Path(".")
    files = {MATRIX_OBJECTIVE: root / MATRIX_FILE}
    files.update({f"if{k}": path for k, path in interference_files(root)})
    return {name: _read_count(files[name], len(obs)) for name, obs in dataset.objectives.items()}


def _read_count(path: Path, rows: int) -> np.ndarray:
    """The ``count`` key of an objective file (runs per row), or ones if it has none."""
    with np.load(path, allow_pickle=False) as archive:
        if "count" not in archive.files:
            return np.ones(rows, dtype=np.int64)
        count = archive["count"]
    if count.shape != (rows,) or not np.issubdtype(count.dtype, np.integer) or (count < 1).any():
        raise DataError(str(path), f"expected {rows} integers >= 1", key="count")
    return count.astype(np.int64)


def write_dataset(
    out: Path, axes: dict[str, AxisData], cells: dict[str, Cells], unit: str = STORED_UNIT
) -> list[Path]:
    """Write ``data.npz`` (with the runtime ``unit``), ``ifK.npz`` per degree and
    ``encoders.json`` (stale ``ifK`` gone) into a temporary folder beside ``out``, check that
    it loads, then rename it into place, so that a crash leaves the old dataset or the new
    one, never a mix (other files in ``out`` are carried over as hard links). Returns the
    paths written, inside ``out``."""
    out = out.absolute()
    staging = out.with_name(f".{out.name}.new-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        names = _write_files(staging, axes, cells, unit)
        load_dataset(staging)  # what we wrote must load
        _carry_over(out, staging, names)
        _swap_into_place(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out / name for name in names if name != ENCODERS_FILE]


def _write_files(folder: Path, axes: dict[str, AxisData], cells: dict[str, Cells],
                 unit: str) -> list[str]:
    matrix = cells.get(MATRIX_OBJECTIVE) or Cells.empty(0)
    arrays: dict[str, np.ndarray] = matrix.arrays()
    for axis, data in axes.items():
        arrays[f"d_{axis}"] = data.features.astype(np.float32)
        arrays[f"n_{axis}"] = np.array(data.names, dtype=str)
        arrays[f"f_{axis}"] = np.array(data.encoder.features, dtype=str)
    arrays[UNIT_KEY] = np.array(unit)
    written = [_save_npz(folder / MATRIX_FILE, arrays)]
    for name, table in cells.items():
        if name != MATRIX_OBJECTIVE:
            written.append(_save_npz(folder / f"{name}.npz", table.arrays()))
    save_encoders(folder / ENCODERS_FILE, {a: d.encoder for a, d in axes.items()})
    return [path.name for path in written] + [ENCODERS_FILE]


def _carry_over(out: Path, staging: Path, written: list[str]) -> None:
    """Hard-link (or copy) every entry of ``out`` that is not part of the dataset into
    ``staging``; the old data and interference files are left behind."""
    if not out.is_dir():
        return
    dataset_files = {MATRIX_FILE, ENCODERS_FILE, *(p.name for _, p in interference_files(out))}
    for entry in out.iterdir():
        if entry.name in dataset_files or entry.name in written:
            continue
        target = staging / entry.name
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, target, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(str(entry), str(target))


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)


def _swap_into_place(staging: Path, out: Path) -> None:
    """Two renames: ``out`` aside, ``staging`` to ``out``; then the old folder is removed."""
    if not out.exists():
        staging.rename(out)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)
    return path
