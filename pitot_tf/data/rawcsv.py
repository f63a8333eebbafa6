"""Read raw CSV tables (measurements, feature tables) with their line numbers kept.

Why: a user's hand-made CSV is the most error-prone input of the library, so every error names
the file, the line (as an editor shows it, header = line 1) and the column. Cells are kept as
strings; each consumer parses the columns it needs with :meth:`CsvTable.numbers` and friends.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from pitot_tf.errors import DataError

__all__ = ["CsvError", "CsvTable", "member", "read_csv"]


class CsvError(DataError):
    """A bad cell or header of a CSV file: ``file: line N, column 'c': what is wrong``."""

    def __init__(self, file: str | os.PathLike[str], line: int, column: str, message: str) -> None:
        super().__init__(str(file), message, key=column, row=line)
        self.line, self.column = line, column
        self.args = (f"{file}: line {line}, column '{column}': {message}",)


@dataclass(frozen=True)
class CsvTable:
    """The cells of a CSV file as stripped strings, one array per column, plus line numbers."""

    path: Path
    header: tuple[str, ...]
    cells: dict[str, np.ndarray]
    lines: np.ndarray

    def __len__(self) -> int:
        return len(self.lines)

    def has(self, column: str) -> bool:
        return column in self.cells

    def column(self, column: str) -> np.ndarray:
        """The stripped string cells of ``column`` (an object array)."""
        if column not in self.cells:
            raise CsvError(self.path, 1, column, f"missing column (header has {list(self.header)})")
        return self.cells[column]

    def error(self, row: int, column: str, message: str) -> CsvError:
        """An error about the cell of table row ``row`` (0-based) in ``column``."""
        return CsvError(self.path, int(self.lines[row]), column, message)

    def take(self, rows: np.ndarray) -> CsvTable:
        """The table restricted to ``rows`` (a boolean mask or indices), line numbers kept."""
        return CsvTable(
            self.path, self.header, {k: v[rows] for k, v in self.cells.items()}, self.lines[rows]
        )

    def numbers(self, column: str) -> np.ndarray:
        """``column`` parsed as finite float64; the first empty or non-numeric cell raises."""
        text = self.column(column)
        values = pd.to_numeric(pd.Series(text, dtype=object), errors="coerce").to_numpy(float)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.argmax(bad))
            raise self.error(row, column, f"expected a finite number, got '{text[row]}'")
        return values

    def first_where(self, bad: np.ndarray, column: str, message: str) -> None:
        """Raise ``message`` (``{value}`` is the cell) at the first row where ``bad`` holds."""
        if bad.any():
            row = int(np.argmax(bad))
            raise self.error(row, column, message.format(value=self.column(column)[row]))


def member(values: np.ndarray, allowed: Collection[str]) -> np.ndarray:
    """Boolean mask of ``values`` in ``allowed`` (hash lookups: ``np.isin`` sorts objects)."""
    allowed = allowed if isinstance(allowed, (set, frozenset, dict)) else set(allowed)
    return np.fromiter((value in allowed for value in values), dtype=bool, count=len(values))


def read_csv(path: str | os.PathLike[str], required: Sequence[str] = ()) -> CsvTable:
    """Read a comma-separated file with a header line; blank lines are skipped.

    Raises :class:`DataError` if the file is missing or empty and :class:`CsvError` for a
    missing or repeated column or a line with the wrong number of fields.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(str(path), "file not found")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        header, rows, lines = _read_rows(path, handle)
    _check_header(path, header, required)
    table = np.array(rows, dtype=object).reshape(len(rows), len(header))
    cells = {name: table[:, i] for i, name in enumerate(header)}
    return CsvTable(path, header, cells, np.array(lines, dtype=np.int64))


def _read_rows(
    path: Path, handle: TextIO
) -> tuple[tuple[str, ...], list[list[str]], list[int]]:
    """The header, the non-blank rows (stripped) and the line each row starts on."""
    reader = csv.reader(handle)
    header = tuple(name.strip() for name in next(reader, []))
    if not header:
        raise DataError(str(path), "empty file (expected a header line)")
    rows: list[list[str]] = []
    lines: list[int] = []
    start = reader.line_num + 1
    for fields in reader:
        if fields and any(field.strip() for field in fields):
            if len(fields) != len(header):
                raise CsvError(
                    path, start, header[min(len(fields), len(header)) - 1],
                    f"expected {len(header)} fields like the header, got {len(fields)}",
                )
            rows.append([field.strip() for field in fields])
            lines.append(start)
        start = reader.line_num + 1
    return header, rows, lines


def _check_header(path: Path, header: tuple[str, ...], required: Sequence[str]) -> None:
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise CsvError(path, 1, name, "column appears twice in the header")
        seen.add(name)
    for name in required:
        if name not in seen:
            raise CsvError(path, 1, name, f"missing column (header has {list(header)})")
