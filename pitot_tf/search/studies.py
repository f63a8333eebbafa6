"""Study definitions: one YAML file per study in ``studies/`` (or ``$PITOT_STUDIES``).

A file names the preset a study starts from, the search space, the objective metric(s), the
sampler and pruner, the data level and replicate(s) it tunes on, fixed overrides applied to
every trial and the heartbeat settings used with database storage. See ``studies/README.md``
and ``docs/search.md``. The study's name is the file name without ``.yaml``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from pitot_tf.config import Config
from pitot_tf.errors import ConfigError
from pitot_tf.presets import resolve
from pitot_tf.search.algorithms import Component, parse_component
from pitot_tf.search.space import Param, default_params, parse_space

METRICS = ("val_loss", "val_mape", "val_width")
SECTIONS = ("description", "preset", "data", "objective", "sampler", "pruner", "overrides",
            "space", "heartbeat")
REQUIRED = ("preset", "data", "objective", "sampler", "pruner", "space")
#: Applied to every trial below the study's own overrides: no progress bars from workers.
SEARCH_DEFAULTS: dict[str, Any] = {"training.progress": False}


@dataclass(frozen=True)
class Heartbeat:
    """Database storage only: a running trial beats every ``interval`` s; one silent for
    ``grace_period`` s is failed and re-queued (at most ``max_retry`` times)."""

    interval: int = 60
    grace_period: int = 180
    max_retry: int = 2


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
    def directions(self) -> list[Literal["minimize", "maximize"]]:
        """Every metric is an error or a width: all are minimized."""
        return ["minimize"] * len(self.metrics)

    @property
    def multi_objective(self) -> bool:
        return len(self.metrics) > 1

    @property
    def metric_names(self) -> list[str]:
        """The objectives as the dashboard, the terminal and MLflow name them: ``val_loss``,
        ``val_mape``, ``val_width_0.05`` (bound metrics carry their alpha)."""
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
        """Optuna params of the preset's own values: the trial enqueued first."""
        return default_params(self.space, self.base_config())

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
    overrides = _mapping(raw.get("overrides") or {}, "overrides", where)
    try:
        base = resolve(str(preset), {**SEARCH_DEFAULTS, **overrides})
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from error
    space = parse_space(raw["space"], where, base)
    both = sorted(set(space) & set(overrides))
    if both:
        raise ConfigError(f"{where}: space.{both[0]}: key is also fixed in overrides")
    level, replicates = _data(raw["data"], where)
    metrics, alpha = _objective(raw["objective"], where)
    pruner = parse_component(raw["pruner"], "pruner", where)
    if len(metrics) > 1 and pruner.kind != "none":
        raise ConfigError(f"{where}: pruner: Optuna cannot prune multi-objective studies; "
                          "use {kind: none} and keep the trials short instead")
    spec = StudySpec(
        name=path.stem, path=path, preset=str(preset), level=level, replicates=replicates,
        metrics=metrics, alpha=alpha, sampler=parse_component(raw["sampler"], "sampler", where),
        pruner=pruner, space=space, overrides=overrides,
        heartbeat=_heartbeat(raw.get("heartbeat") or {}, where),
        description=str(raw.get("description") or ""))
    _check_default_inside(spec, base, where)
    return spec


def _mapping(value: Any, section: str, where: str, keys: set[str] | None = None
             ) -> dict[str, Any]:
    """A section's mapping; ConfigError if it is not one or has keys outside ``keys``."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: {section} must be a mapping, got {value!r}")
    unknown = sorted(set(map(str, value)) - keys) if keys is not None else []
    if unknown:
        raise ConfigError(f"{where}: {section}: unknown key(s) {unknown}; use {sorted(keys or [])}")
    return {str(k): v for k, v in value.items()}


def _require(ok: bool, where: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{where}: {message}")


def _fraction(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0 < value < 1


def _data(raw: Any, where: str) -> tuple[float, tuple[int, ...]]:
    data = _mapping(raw, "data", where, {"level", "replicates"})
    level: Any = data.get("level")
    replicates = data.get("replicates", [0])
    _require(_fraction(level), where, f"data.level must be a number in (0, 1), got {level!r}")
    _require(isinstance(replicates, list) and bool(replicates) and all(
        isinstance(r, int) and not isinstance(r, bool) and r >= 0 for r in replicates), where,
        f"data.replicates must be a non-empty list of integers >= 0, got {replicates!r}")
    return float(level), tuple(replicates)


def _objective(raw: Any, where: str) -> tuple[tuple[str, ...], float]:
    objective = _mapping(raw, "objective", where, {"metrics", "alpha"})
    metrics: Any = objective.get("metrics")
    alpha = objective.get("alpha", 0.05)
    _require(isinstance(metrics, list) and bool(metrics) and all(m in METRICS for m in metrics),
             where, f"objective.metrics must be a non-empty list of {METRICS}, got {metrics!r}")
    _require(len(set(metrics)) == len(metrics), where,
             f"objective.metrics has duplicates: {metrics}")
    _require(_fraction(alpha), where, f"objective.alpha must be in (0, 1), got {alpha!r}")
    return tuple(metrics), float(alpha)


def _heartbeat(raw: Any, where: str) -> Heartbeat:
    values = _mapping(raw, "heartbeat", where, {"interval", "grace_period", "max_retry"})
    for key, value in values.items():
        _require(not isinstance(value, bool) and isinstance(value, int)
                 and value >= (key != "max_retry"), where,
                 f"heartbeat.{key} must be a positive integer, got {value!r}")
    heartbeat = Heartbeat(**values)
    _require(heartbeat.grace_period > heartbeat.interval, where,
             "heartbeat.grace_period must exceed heartbeat.interval")
    return heartbeat


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
