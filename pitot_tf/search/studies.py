"""Study definitions: one YAML file per study in ``studies/`` (or ``$PITOT_STUDIES``).

A file names the preset a study starts from, the search space, the objective metric(s), the
sampler and pruner, the data, fixed overrides and the heartbeat (see ``docs/search.md``). The
study's name is the file name without ``.yaml``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml

from pitot_tf.config import Config, read_fields
from pitot_tf.errors import ConfigError
from pitot_tf.presets import resolve
from pitot_tf.search.algorithms import Component, parse_component
from pitot_tf.search.space import Param, parse_space

METRICS = ("val_loss", "val_mape", "val_width")
SECTIONS = ("description", "preset", "data", "objective", "sampler", "pruner", "overrides",
            "space", "heartbeat")
REQUIRED = ("preset", "data", "objective", "sampler", "pruner", "space")
#: Applied to every trial below the study's own overrides: no progress bars from workers.
SEARCH_DEFAULTS: dict[str, Any] = {"training.progress": False}
T = TypeVar("T")


@dataclass(frozen=True)
class Heartbeat:
    """A running trial beats every ``interval`` s; one silent for ``grace_period`` s is
    failed and re-queued (at most ``max_retry`` times)."""

    interval: int = 60
    grace_period: int = 180
    max_retry: int = 2

    def __post_init__(self) -> None:
        _require(min(self.interval, self.grace_period) >= 1 and self.max_retry >= 0
                 and self.grace_period > self.interval, "heartbeat: interval >= 1, "
                 f"grace_period > interval and max_retry >= 0 are needed, got {self}")


@dataclass(frozen=True)
class StudySpec:
    """A validated study definition."""

    name: str
    path: Path
    preset: str
    level: float
    replicates: tuple[int, ...]
    metrics: tuple[str, ...]
    alpha: float
    sampler: Component
    pruner: Component
    space: dict[str, Param]
    overrides: dict[str, Any] = field(default_factory=dict)
    heartbeat: Heartbeat = field(default_factory=Heartbeat)
    description: str = ""

    @property
    def multi_objective(self) -> bool:
        return len(self.metrics) > 1

    @property
    def metric_names(self) -> list[str]:
        """The objectives as shown everywhere: bound metrics carry their alpha."""
        return [metric_name(m, self.alpha) for m in self.metrics]

    def definition(self) -> dict[str, str]:
        """The study as short readable texts (stored as the Optuna study's user attributes)."""
        overrides = ", ".join(f"{k}={v}" for k, v in self.overrides.items())
        return {
            "preset": self.preset, "level": f"{self.level:g}",
            "replicates": ", ".join(map(str, self.replicates)),
            "objectives": ", ".join(self.metric_names) + " (minimize)",
            "space": ", ".join(self.space), "overrides": overrides or "(none)",
            "sampler": self.sampler.kind, "pruner": self.pruner.kind,
            "study_file": str(self.path), "description": self.description,
        }

    def base_config(self) -> Config:
        """The preset with the fixed overrides: what every trial starts from."""
        return resolve(self.preset, {**SEARCH_DEFAULTS, **self.overrides})

    def default_params(self) -> dict[str, Any]:
        """Optuna params of the preset's own values: the trial enqueued first, so that a study
        starts from the preset and can only improve on it."""
        flat = self.base_config().flat()
        return {name: value for key, param in self.space.items()
                for name, value in param.optuna_params(flat[key]).items()}

    def with_overrides(self, overrides: Mapping[str, Any]) -> StudySpec:
        """This study with ``overrides`` (e.g. from ``--set``) fixed for every trial; keys
        it fixes are no longer searched. Raises ConfigError when a value is invalid."""
        if not overrides:
            return self
        merged = {**self.overrides, **overrides}
        resolve(self.preset, {**SEARCH_DEFAULTS, **merged})
        space = {k: v for k, v in self.space.items() if k not in overrides}
        if not space:
            raise ConfigError(f"{self.path}: the overrides fix every searched key; "
                              "nothing is left to search")
        return replace(self, overrides=merged, space=space)


def metric_name(metric: str, alpha: float) -> str:
    """``val_width`` → ``val_width_0.05`` (and ``val_coverage``); other names unchanged."""
    return f"{metric}_{alpha:g}" if metric in ("val_width", "val_coverage") else metric


def studies_dir() -> Path:
    """Where study files live: ``$PITOT_STUDIES`` or ``studies``."""
    return Path(os.environ.get("PITOT_STUDIES") or "studies")


def list_studies(directory: Path | None = None) -> list[str]:
    root = directory or studies_dir()
    return sorted(p.stem for p in root.glob("*.yaml")) if root.is_dir() else []


def study_file(study: str | os.PathLike[str]) -> Path:
    """A study name (``pitot``) or a path to a YAML file → the file; ConfigError if missing."""
    path = Path(study)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    candidate = studies_dir() / f"{study}.yaml"
    if candidate.is_file():
        return candidate
    known = ", ".join(list_studies()) or "none"
    raise ConfigError(f"unknown study '{study}': no file {candidate} (studies: {known})")


def load_study(study: str | os.PathLike[str]) -> StudySpec:
    """Read and validate a study definition; every problem is a ConfigError naming the file."""
    path = study_file(study)
    where = str(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{where}: not valid YAML ({error})".replace("\n", " ")) from error
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: a study file must be a mapping of sections")
    unknown = sorted(set(raw) - set(SECTIONS))
    missing = [s for s in REQUIRED if s not in raw]
    if unknown or missing:
        raise ConfigError(f"{where}: unknown section(s) {unknown}, missing {missing}; "
                          f"sections are {list(SECTIONS)}")
    return _build(path, where, raw)


def _build(path: Path, where: str, raw: Mapping[str, Any]) -> StudySpec:
    preset = raw["preset"]
    overrides = raw.get("overrides") or {}
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{where}: overrides must be a mapping, got {overrides!r}")
    try:
        base = resolve(str(preset), {**SEARCH_DEFAULTS, **overrides})
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from error
    space = parse_space(raw["space"], where, base)
    both = sorted(set(space) & set(overrides))
    if both:
        raise ConfigError(f"{where}: space.{both[0]}: key is also fixed in overrides")
    data = _read(DataSection, raw["data"], "data", where)
    objective = _read(ObjectiveSection, raw["objective"], "objective", where)
    pruner = parse_component(raw["pruner"], "pruner", where)
    if len(objective.metrics) > 1 and pruner.kind != "none":
        raise ConfigError(f"{where}: pruner: Optuna cannot prune multi-objective studies; "
                          "use {kind: none} and keep the trials short instead")
    spec = StudySpec(
        name=path.stem, path=path, preset=str(preset), level=data.level,
        replicates=tuple(data.replicates), metrics=tuple(objective.metrics),
        alpha=objective.alpha, sampler=parse_component(raw["sampler"], "sampler", where),
        pruner=pruner, space=space, overrides=dict(overrides),
        heartbeat=_read(Heartbeat, raw.get("heartbeat") or {}, "heartbeat", where),
        description=str(raw.get("description") or ""))
    _check_default_inside(spec, base, where)
    return spec


@dataclass(frozen=True)
class DataSection:
    """``data``: the level and the replicates every trial trains on."""

    level: float
    replicates: list[int] = field(default_factory=lambda: [0])

    def __post_init__(self) -> None:
        _require(0 < self.level < 1, f"data.level must be in (0, 1), got {self.level:g}")
        _require(bool(self.replicates) and min(self.replicates) >= 0,
                 f"data.replicates must be a non-empty list of integers >= 0, "
                 f"got {self.replicates}")


@dataclass(frozen=True)
class ObjectiveSection:
    """``objective``: the metrics minimized, and the alpha of the bound metrics."""

    metrics: list[str]
    alpha: float = 0.05

    def __post_init__(self) -> None:
        _require(bool(self.metrics) and set(self.metrics) <= set(METRICS)
                 and len(set(self.metrics)) == len(self.metrics),
                 f"objective.metrics must be distinct names from {METRICS}, got {self.metrics}")
        _require(0 < self.alpha < 1, f"objective.alpha must be in (0, 1), got {self.alpha:g}")


def _read(cls: type[T], raw: Any, section: str, where: str) -> T:
    """Section ``section`` of study file ``where`` as ``cls``; ConfigErrors name the file."""
    try:
        return read_fields(cls, raw, section)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from error


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _check_default_inside(spec: StudySpec, base: Config, where: str) -> None:
    """The preset's own values must lie in the space, since they are the first trial."""
    flat = base.flat()
    try:
        spec.default_params()
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from error
    for key, param in spec.space.items():
        if not param.contains(flat[key]):
            raise ConfigError(f"{where}: space.{key}: the preset's value {flat[key]!r} (the "
                              "first trial) is outside the search space")
