"""Study definitions: one YAML file per study in ``studies/`` (or ``$PITOT_STUDIES``).

A file names the preset a study starts from, the search space, the objective metric(s), the
sampler and pruner, the data level and replicate(s) it tunes on, fixed overrides applied to
every trial and the heartbeat settings used with database storage. See ``studies/README.md``
and ``docs/search.md``. The study's name is the file name without ``.yaml``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import optuna
import yaml

from pitot_tf.config import Config
from pitot_tf.errors import ConfigError
from pitot_tf.presets import resolve
from pitot_tf.search.algorithms import Component, parse_component
from pitot_tf.search.space import Param, default_params, parse_space

if TYPE_CHECKING:
    from pitot_tf.search.objective import Replicate

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


def _mapping(value: Any, section: str, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: {section} must be a mapping, got {value!r}")
    return {str(k): v for k, v in value.items()}


def _data(raw: Any, where: str) -> tuple[float, tuple[int, ...]]:
    data = _mapping(raw, "data", where)
    unknown = sorted(set(data) - {"level", "replicates"})
    if unknown:
        raise ConfigError(f"{where}: data: unknown key(s) {unknown}; use level and replicates")
    level = data.get("level")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ConfigError(f"{where}: data.level must be a number in (0, 1), got {level!r}")
    replicates = data.get("replicates", [0])
    if not isinstance(replicates, list) or not replicates or not all(
            isinstance(r, int) and not isinstance(r, bool) and r >= 0 for r in replicates):
        raise ConfigError(f"{where}: data.replicates must be a non-empty list of integers "
                          f">= 0, got {replicates!r}")
    return float(level), tuple(replicates)


def _objective(raw: Any, where: str) -> tuple[tuple[str, ...], float]:
    objective = _mapping(raw, "objective", where)
    unknown = sorted(set(objective) - {"metrics", "alpha"})
    if unknown:
        raise ConfigError(f"{where}: objective: unknown key(s) {unknown}; use metrics, alpha")
    metrics = objective.get("metrics")
    if not isinstance(metrics, list) or not metrics or any(m not in METRICS for m in metrics):
        raise ConfigError(f"{where}: objective.metrics must be a non-empty list of {METRICS}, "
                          f"got {metrics!r}")
    if len(set(metrics)) != len(metrics):
        raise ConfigError(f"{where}: objective.metrics has duplicates: {metrics}")
    alpha = objective.get("alpha", 0.05)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ConfigError(f"{where}: objective.alpha must be in (0, 1), got {alpha!r}")
    return tuple(metrics), float(alpha)


def _heartbeat(raw: Any, where: str) -> Heartbeat:
    values = _mapping(raw, "heartbeat", where)
    unknown = sorted(set(values) - {"interval", "grace_period", "max_retry"})
    if unknown:
        raise ConfigError(f"{where}: heartbeat: unknown key(s) {unknown}")
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < (key != "max_retry"):
            raise ConfigError(f"{where}: heartbeat.{key} must be a positive integer, "
                              f"got {value!r}")
    heartbeat = Heartbeat(**values)
    if heartbeat.grace_period <= heartbeat.interval:
        raise ConfigError(f"{where}: heartbeat.grace_period must exceed heartbeat.interval")
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


def describe_study(study: optuna.Study, spec: StudySpec) -> None:
    """Name the study's objectives (the dashboard shows ``val_mape``, not "Objective 0") and
    store its definition as user attributes."""
    with warnings.catch_warnings():  # experimental since Optuna 3.2, stable in use
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(spec.metric_names)
    for key, value in spec.definition().items():
        if study.user_attrs.get(key) != value:
            study.set_user_attr(key, value)


def describe_data(study: optuna.Study, replicates: Sequence[Replicate]) -> None:
    """The data fingerprint, data folder and code version of this invocation, as study user
    attributes (a study resumed with other data or code shows the latest)."""
    from pitot_tf.tracking.fingerprint import code_version, data_fingerprint

    fingerprint = data_fingerprint(replicates[0].dataset)
    values = {"data_fingerprint": fingerprint["fingerprint"],
              "data_dir": str(fingerprint["directory"]), "code_version": code_version()}
    for key, value in values.items():
        if study.user_attrs.get(key) != value:
            study.set_user_attr(key, value)
