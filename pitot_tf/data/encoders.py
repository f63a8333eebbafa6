"""Side-feature encoders: raw platform / workload feature tables → Pitot feature matrices.

A feature table is a CSV with a ``name`` column and one column per raw feature whose header
declares how it is encoded, as ``kind:column`` (the encodings of the reference implementation's
``collect/platforms.py`` and ``preprocess/opcodes.py``):

==============  =====================================================  ========================
kind            encoding                                               feature names
==============  =====================================================  ========================
``count:``      ``log(1 + count)`` (e.g. opcode counts)                 ``column``
``size:``       ``log2(bytes) - offset`` and a presence indicator      ``column``,
                ``±1`` (0 bytes = absent, encoded 0 and -1)            ``column:ind``
``freq_mhz:``   ``ln(MHz) - offset``                                   ``column``
``cat:``        one-hot ``±1`` over the values seen when fitted        ``column=value`` each
``num:``        the number as is (already-encoded features)            ``column``
==============  =====================================================  ========================

Offsets centre the logs like the reference's hand-picked ones: the rounded median over the
fitted rows. Output columns that are constant over the fitted rows carry no information and
are dropped. The fitted encoders are saved beside the dataset (``encoders.json``) so that rows
added later are encoded the same way; a category unseen when fitting encodes as all ``-1``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pitot_tf.data.rawcsv import CsvError, CsvTable, read_csv
from pitot_tf.errors import DataError

__all__ = [
    "KINDS", "NAME_COLUMN", "AxisEncoder", "ColumnEncoder", "fit_axis", "load_encoders",
    "passthrough", "read_feature_table", "save_encoders",
]

KINDS = ("count", "size", "freq_mhz", "cat", "num")
NAME_COLUMN = "name"
ENCODERS_VERSION = 1


@dataclass(frozen=True)
class ColumnEncoder:
    """How one raw column becomes one or more features (see the module docstring)."""

    kind: str
    column: str
    offset: float = 0.0
    categories: tuple[str, ...] = ()

    @property
    def header(self) -> str:
        """The raw table's header for this column, e.g. ``size:l2_size``."""
        return f"{self.kind}:{self.column}"

    def outputs(self) -> list[str]:
        """Names of the features this column produces, before constant ones are dropped."""
        if self.kind == "size":
            return [self.column, f"{self.column}:ind"]
        if self.kind == "cat":
            return [f"{self.column}={value}" for value in self.categories]
        return [self.column]

    def encode(self, table: CsvTable) -> np.ndarray:
        """The ``(rows, len(outputs()))`` float64 encoding of this column of ``table``."""
        if self.kind == "cat":
            values = table.column(self.header)
            table.first_where(values == "", self.header, "empty category")
            return np.where(values[:, None] == np.array(self.categories)[None, :], 1.0, -1.0)
        x = table.numbers(self.header)
        if self.kind == "num":
            return x[:, None]
        if self.kind == "freq_mhz":
            table.first_where(x <= 0, self.header, "frequency must be > 0 MHz, got {value}")
            return (np.log(x) - self.offset)[:, None]
        table.first_where(x < 0, self.header, f"{self.kind} must be >= 0, got {{value}}")
        if self.kind == "count":
            return np.log1p(x)[:, None]
        present = x > 0
        log_size = np.log2(np.where(present, x, 1.0)) - self.offset
        return np.column_stack([np.where(present, log_size, 0.0), np.where(present, 1.0, -1.0)])


def fit_column(kind: str, column: str, table: CsvTable) -> ColumnEncoder:
    """A column encoder with its offset or categories fitted on ``table``'s rows."""
    header = f"{kind}:{column}"
    if kind == "cat":
        return ColumnEncoder(kind, column, categories=tuple(sorted(set(table.column(header)))))
    if kind not in ("size", "freq_mhz"):
        return ColumnEncoder(kind, column)
    x = ColumnEncoder(kind, column).encode(table)[:, 0]  # validates; offset 0
    if kind == "size":
        x = x[table.numbers(header) > 0]
    return ColumnEncoder(kind, column, offset=float(np.round(np.median(x))) if len(x) else 0.0)


@dataclass(frozen=True)
class AxisEncoder:
    """The encoders of one feature table and the features kept (non-constant when fitted)."""

    axis: str
    columns: tuple[ColumnEncoder, ...]
    features: tuple[str, ...] = field(default=())

    def encode(self, table: CsvTable) -> np.ndarray:
        """The ``(rows, len(features))`` float32 feature matrix of ``table``'s rows."""
        known = {c.header for c in self.columns} | {NAME_COLUMN}
        for header in table.header:
            if header not in known:
                raise CsvError(
                    table.path, 1, header,
                    f"not a column of the dataset's saved {self.axis} encoders "
                    f"(expected {sorted(known)})",
                )
        encoded = [c.encode(table) for c in self.columns]
        full = np.concatenate(encoded, axis=1) if encoded else np.zeros((len(table), 0))
        names = [name for c in self.columns for name in c.outputs()]
        index = {name: i for i, name in enumerate(names)}
        return full[:, [index[name] for name in self.features]].astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [
                {"kind": c.kind, "column": c.column, "offset": c.offset,
                 "categories": list(c.categories)}
                for c in self.columns
            ],
            "features": list(self.features),
        }

    @classmethod
    def from_dict(cls, axis: str, data: Mapping[str, Any]) -> AxisEncoder:
        """Inverse of :meth:`to_dict`; an unknown kind raises ``ValueError``."""
        unknown = [c["kind"] for c in data["columns"] if c["kind"] not in KINDS]
        if unknown:
            raise ValueError(f"unknown {axis} column kind(s) {unknown}")
        columns = tuple(
            ColumnEncoder(
                str(c["kind"]), str(c["column"]), float(c.get("offset", 0.0)),
                tuple(str(v) for v in c.get("categories", ())),
            )
            for c in data["columns"]
        )
        return cls(axis, columns, tuple(str(f) for f in data["features"]))


def fit_axis(axis: str, table: CsvTable) -> AxisEncoder:
    """Fit every ``kind:column`` of a feature table and drop the constant features."""
    columns = tuple(fit_column(kind, column, table) for kind, column in _parse_header(table))
    names = [name for c in columns for name in c.outputs()]
    _check_unique_outputs(table, columns)
    draft = AxisEncoder(axis, columns, tuple(names))
    full = draft.encode(table)
    varies = (full != full[:1]).any(axis=0) if len(full) else np.zeros(len(names), bool)
    kept = tuple(name for name, keep in zip(names, varies, strict=True) if keep)
    return AxisEncoder(axis, columns, kept)


def passthrough(axis: str, feature_names: Sequence[str]) -> AxisEncoder:
    """``num:`` encoders for already-encoded features (a dataset without ``encoders.json``)."""
    return AxisEncoder(
        axis, tuple(ColumnEncoder("num", str(n)) for n in feature_names),
        tuple(str(n) for n in feature_names),
    )


def read_feature_table(path: str | os.PathLike[str], axis: str) -> CsvTable:
    """Read a feature table: unique non-empty names and ``kind:column`` headers.

    Workload names may not contain ``;``, which separates co-runners in measurement files.
    """
    table = read_csv(path, [NAME_COLUMN])
    names = table.column(NAME_COLUMN)
    table.first_where(names == "", NAME_COLUMN, f"empty {axis} name")
    if axis == "workload":
        bad = np.array([";" in str(name) for name in names], dtype=bool)
        table.first_where(bad, NAME_COLUMN, "workload name '{value}' contains ';'")
    seen: set[str] = set()
    repeated = np.zeros(len(table), dtype=bool)
    for row, name in enumerate(names):
        repeated[row] = name in seen
        seen.add(name)
    table.first_where(repeated, NAME_COLUMN, f"{axis} '{{value}}' appears twice")
    _parse_header(table)
    return table


def _parse_header(table: CsvTable) -> list[tuple[str, str]]:
    """``(kind, column)`` for every header but ``name``; an unknown kind raises."""
    parsed = []
    for header in table.header:
        if header == NAME_COLUMN:
            continue
        kind, sep, column = header.partition(":")
        if not sep or kind not in KINDS or not column:
            raise CsvError(
                table.path, 1, header,
                "feature columns are named kind:column with kind one of "
                + ", ".join(f"{k}:" for k in KINDS),
            )
        parsed.append((kind, column))
    return parsed


def _check_unique_outputs(table: CsvTable, columns: Sequence[ColumnEncoder]) -> None:
    seen: dict[str, str] = {}
    for c in columns:
        for name in c.outputs():
            if name in seen:
                raise CsvError(
                    table.path, 1, c.header, f"feature '{name}' also made by '{seen[name]}'"
                )
            seen[name] = c.header


def save_encoders(path: str | os.PathLike[str], encoders: Mapping[str, AxisEncoder]) -> Path:
    """Write ``{"version": 1, "platform": {...}, "workload": {...}}`` as JSON."""
    path = Path(path)
    data: dict[str, Any] = {"version": ENCODERS_VERSION}
    data.update({axis: encoder.to_dict() for axis, encoder in encoders.items()})
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


def load_encoders(path: str | os.PathLike[str]) -> dict[str, AxisEncoder]:
    """Read what :func:`save_encoders` wrote; a malformed file raises :class:`DataError`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        if data.get("version") != ENCODERS_VERSION:
            raise DataError(str(path), f"unsupported version {data.get('version')!r}")
        return {
            axis: AxisEncoder.from_dict(axis, data[axis]) for axis in ("platform", "workload")
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise DataError(str(path), f"not a readable encoders file: {error!r}") from None
