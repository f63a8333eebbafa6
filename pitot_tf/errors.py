"""Errors a user can act on: each names the thing at fault and what is wrong with it.

The CLI prints these as one line (no traceback unless ``--debug``) and exits non-zero;
anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class PitotError(Exception):
    """Base class for errors caused by the user's input rather than by a bug."""


class DataError(PitotError):
    """Invalid dataset or split file; names the file, the key (field) and the first bad row."""

    def __init__(
        self, file: str, message: str, key: str | None = None, row: int | None = None
    ) -> None:
        self.file, self.key, self.row, self.reason = file, key, row, message
        where = file
        if key is not None:
            where += f": key '{key}'"
        if row is not None:
            where += f", row {row}"
        super().__init__(f"{where}: {message}")


class ConfigError(PitotError):
    """Unknown preset, unknown config key, wrong value type or out-of-range value."""


class ConformalError(PitotError):
    """A miscoverage level the calibration set cannot support, or outside (0, 1)."""


class PredictionError(PitotError):
    """A prediction request the model cannot answer (unknown name, wrong feature size)."""


class PlanningError(PitotError):
    """A measurement plan that cannot be made: a bad budget, strategy, entity or measured
    file (names the file, row and field)."""
