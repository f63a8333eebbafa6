"""What a sweep trains: presets (globs allowed) × levels × replicates, with shared overrides.

A *cell* is one (preset, level, replicate); its text form ``"pitot|0.5|0"`` is what the MLflow
tags carry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pitot_tf.data.splits import DEFAULT_LEVELS, check_level
from pitot_tf.errors import ConfigError
from pitot_tf.presets import expand, resolve

#: Applied to every cell below the user's overrides: the sweep draws its own progress bar.
SWEEP_DEFAULTS: dict[str, Any] = {"training.progress": False}
DEFAULT_REPLICATES: tuple[int, ...] = (0, 1, 2, 3, 4)
_RANGE = re.compile(r"^(\d+)-(\d+)$")
NumberT = TypeVar("NumberT", int, float)


@dataclass(frozen=True, order=True)
class Cell:
    """One training run of the sweep."""

    preset: str
    level: float
    replicate: int

    @property
    def key(self) -> str:
        """``"baseline/monolith|0.5|0"``: unique within a sweep, stable across processes."""
        return f"{self.preset}|{self.level:g}|{self.replicate}"

    @classmethod
    def from_key(cls, key: str) -> Cell:
        preset, level, replicate = key.rsplit("|", 2)
        return cls(preset, float(level), int(replicate))


@dataclass(frozen=True)
class SweepPlan:
    """The validated sweep: expanded preset names, levels, replicates and overrides."""

    presets: tuple[str, ...]
    levels: tuple[float, ...]
    replicates: tuple[int, ...]
    overrides: dict[str, Any] = field(default_factory=dict)

    def cells(self) -> list[Cell]:
        """Every cell, preset-major (so the first results cover whole presets)."""
        return [Cell(p, lv, r) for p in self.presets for lv in self.levels
                for r in self.replicates]

    def cell_overrides(self) -> dict[str, Any]:
        """What every cell's config gets on top of its preset."""
        return {**SWEEP_DEFAULTS, **self.overrides}


def make_plan(
    presets: Iterable[str], levels: Iterable[float | str] | None = None,
    replicates: Iterable[int | str] | None = None, overrides: Mapping[str, Any] | None = None,
) -> SweepPlan:
    """Expand and check everything up front, so that a typo fails before any training:
    unknown presets or config keys, levels outside (0, 1), negative replicates."""
    names = expand(split_words(presets))
    level_list = parse_levels(levels)
    replicate_list = parse_replicates(replicates)
    values = dict(overrides or {})
    for name in names:
        try:
            resolve(name, {**SWEEP_DEFAULTS, **values})
        except ConfigError as error:  # one --set applies to every preset: say which failed
            raise ConfigError(f"preset {name}: {error}") from None
    return SweepPlan(tuple(names), tuple(level_list), tuple(replicate_list), values)


def split_words(items: Iterable[Any]) -> list[str]:
    """``["0 1", "2,3"]`` → ``["0", "1", "2", "3"]``: accept space- or comma-separated items."""
    return [w for item in items for w in re.split(r"[\s,]+", str(item).strip()) if w]


def parse_levels(items: Iterable[float | str] | None) -> list[float]:
    """Levels as given (``0.1 0.5`` or ``0.1,0.5``), default 0.1 … 0.9; each in (0, 1)."""
    levels = [round(check_level(_number(word, float, "--levels")), 6)
              for word in split_words(items or [])]
    return list(dict.fromkeys(levels)) or list(DEFAULT_LEVELS)


def parse_replicates(items: Iterable[int | str] | None) -> list[int]:
    """Replicates as ``0-4``, ``0 1 2`` or ``0,1,2`` (default 0-4); each >= 0."""
    found: list[int] = []
    for word in split_words(items or []):
        low, _, high = word.partition("-") if _RANGE.match(word) else (word, "", word)
        span = range(_number(low, int, "--replicates"), _number(high, int, "--replicates") + 1)
        if not span:
            raise ConfigError(f"--replicates: range '{word}' is empty")
        found += span
    return list(dict.fromkeys(found)) or list(DEFAULT_REPLICATES)


def _number(word: str, kind: type[NumberT], option: str) -> NumberT:
    if kind is int and not word.isdigit():
        raise ConfigError(f"{option}: '{word}' is not a number or a range like 0-4")
    try:
        return kind(word)
    except ValueError:
        raise ConfigError(f"{option}: '{word}' is not a number") from None
