"""What a sweep trains: presets (globs allowed) × levels × replicates, with shared overrides.

A *cell* is one (preset, level, replicate); its text form ``"pitot|0.5|0"`` is what the MLflow
tags carry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pitot_tf.data.splits import DEFAULT_LEVELS, check_level
from pitot_tf.errors import ConfigError
from pitot_tf.presets import expand, resolve

#: Applied to every cell below the user's overrides: the sweep draws its own progress bar.
SWEEP_DEFAULTS: dict[str, Any] = {"training.progress": False}
DEFAULT_REPLICATES: tuple[int, ...] = (0, 1, 2, 3, 4)


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
    presets: Iterable[str], levels: Iterable[float] | None = None,
    replicates: Iterable[int] | None = None, overrides: Mapping[str, Any] | None = None,
) -> SweepPlan:
    """Expand and check everything up front, so that a typo fails before any training:
    unknown presets or config keys, levels outside (0, 1), negative replicates. Levels default
    to 0.1 … 0.9 and replicates to 0-4; repeats are dropped."""
    names, values = expand(list(presets)), dict(overrides or {})
    for name in names:
        try:
            resolve(name, {**SWEEP_DEFAULTS, **values})
        except ConfigError as error:  # one --set applies to every preset: say which failed
            raise ConfigError(f"preset {name}: {error}") from None
    level_list = dict.fromkeys(round(check_level(float(v)), 6) for v in levels or DEFAULT_LEVELS)
    replicate_list = dict.fromkeys(int(r) for r in replicates or DEFAULT_REPLICATES)
    if min(replicate_list) < 0:
        raise ConfigError(f"replicates must be >= 0, got {list(replicate_list)}")
    return SweepPlan(tuple(names), tuple(level_list), tuple(replicate_list), values)
