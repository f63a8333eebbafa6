"""Search spaces: which config keys a study samples, and from which distribution.

A space maps dotted config keys (``model.mf_dim``) to a distribution. Optuna parameter names
are the config keys themselves, except ``layers`` (a list of widths), sampled as two integers
``<key>.depth`` and ``<key>.width`` (every layer gets the same width). Every entry is checked
when the study file is read: the key must exist, the distribution must suit the key's type and
both ends of the range must be valid config values; anything wrong is a ConfigError naming
the study file and the key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import optuna

from pitot_tf.config import Config, field_types, keys_read, with_overrides
from pitot_tf.errors import ConfigError

PARAM_TYPES = ("float", "int", "categorical", "layers")
_FIELDS = {
    "float": {"type", "low", "high", "log", "step"},
    "int": {"type", "low", "high", "log", "step"},
    "categorical": {"type", "choices"},
    "layers": {"type", "depth", "width", "log"},
}
Scalar = None | bool | int | float | str


@dataclass(frozen=True)
class FloatParam:
    """A real-valued key sampled uniformly (or log-uniformly) in ``[low, high]``."""

    key: str
    low: float
    high: float
    log: bool = False
    step: float | None = None

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        return {self.key: trial.suggest_float(self.key, self.low, self.high, log=self.log,
                                              step=self.step)}

    def optuna_params(self, value: Any) -> dict[str, Any]:
        return {self.key: float(value)}

    def contains(self, value: Any) -> bool:
        return self.low - 1e-12 <= float(value) <= self.high + 1e-12


@dataclass(frozen=True)
class IntParam:
    """An integer key sampled in ``[low, high]`` (log-uniformly when ``log``)."""

    key: str
    low: int
    high: int
    log: bool = False
    step: int = 1

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        return {self.key: trial.suggest_int(self.key, self.low, self.high, log=self.log,
                                            step=self.step)}

    def optuna_params(self, value: Any) -> dict[str, Any]:
        return {self.key: int(value)}

    def contains(self, value: Any) -> bool:
        return self.low <= int(value) <= self.high and (int(value) - self.low) % self.step == 0


@dataclass(frozen=True)
class CategoricalParam:
    """A key chosen among ``choices`` (scalars: numbers, strings, booleans)."""

    key: str
    choices: tuple[Scalar, ...]

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        return {self.key: trial.suggest_categorical(self.key, list(self.choices))}

    def optuna_params(self, value: Any) -> dict[str, Any]:
        return {self.key: value}

    def contains(self, value: Any) -> bool:
        return value in self.choices


@dataclass(frozen=True)
class LayersParam:
    """A list of layer widths: ``depth`` layers of one ``width`` (log-uniform by default)."""

    key: str
    depth: tuple[int, int]
    width: tuple[int, int]
    log: bool = True

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        depth = trial.suggest_int(f"{self.key}.depth", *self.depth)
        width = trial.suggest_int(f"{self.key}.width", *self.width, log=self.log)
        return {self.key: [width] * depth}

    def optuna_params(self, value: Any) -> dict[str, Any]:
        widths = list(value)
        if not widths or len(set(widths)) != 1:
            raise ConfigError(f"{self.key}={widths} is not {len(widths)} layers of one width, "
                              "so the search space cannot hold it")
        return {f"{self.key}.depth": len(widths), f"{self.key}.width": int(widths[0])}

    def contains(self, value: Any) -> bool:
        widths = list(value)
        return (bool(widths) and len(set(widths)) == 1
                and self.depth[0] <= len(widths) <= self.depth[1]
                and self.width[0] <= widths[0] <= self.width[1])


Param = FloatParam | IntParam | CategoricalParam | LayersParam


def suggest_overrides(trial: optuna.Trial, space: Mapping[str, Param]) -> dict[str, Any]:
    """Sample every key of ``space`` for ``trial``; returns config overrides."""
    overrides: dict[str, Any] = {}
    for param in space.values():
        overrides.update(param.suggest(trial))
    return overrides


def default_params(space: Mapping[str, Param], config: Config) -> dict[str, Any]:
    """Optuna parameters that reproduce ``config``'s values of the searched keys (the trial
    enqueued first, so that a study starts from the preset and can only improve on it)."""
    flat = config.flat()
    params: dict[str, Any] = {}
    for key, param in space.items():
        params.update(param.optuna_params(flat[key]))
    return params


def parse_space(raw: Any, where: str, base: Config) -> dict[str, Param]:
    """Read and check the ``space`` section of study file ``where`` against config ``base``."""
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(f"{where}: space must be a non-empty mapping of config key to "
                          "distribution")
    defaults = base.flat()
    space: dict[str, Param] = {}
    for key, entry in raw.items():
        if key not in defaults:
            _fail(where, str(key), f"unknown config key '{key}'; `pitot-tf presets show pitot` "
                                   "lists the keys")
        if key.startswith("model.") and key.removeprefix("model.") not in keys_read(base.model):
            _fail(where, str(key), f"the preset's model (model.kind={base.model.kind}, "
                                   f"model.baseline={base.model.baseline}) never reads it")
        space[key] = _parse_entry(where, key, entry, defaults[key])
        _check_values(where, space[key], base)
    return space


def _fail(where: str, key: str, message: str) -> NoReturn:
    raise ConfigError(f"{where}: space.{key}: {message}")


def layer_keys() -> tuple[str, ...]:
    """Config keys that hold layer widths: every ``model.*layers`` key of type ``list[int]``
    (so a model kind's new layer key is searchable without being listed here)."""
    return tuple(key for key, kind in field_types().items()
                 if key.startswith("model.") and key.endswith("layers") and kind == list[int])


def _parse_entry(where: str, key: str, entry: Any, default: Any) -> Param:
    if not isinstance(entry, Mapping):
        _fail(where, key, f"must be a mapping like {{type: float, low: 0.1, high: 1}}, "
                          f"got {entry!r}")
    kind = entry.get("type")
    if kind not in PARAM_TYPES:
        _fail(where, key, f"unknown distribution type {kind!r}; use one of {PARAM_TYPES}")
    unknown = sorted(set(entry) - _FIELDS[kind])
    if unknown:
        _fail(where, key, f"unknown field(s) {unknown} for type {kind}; valid: "
                          f"{sorted(_FIELDS[kind])}")
    if kind == "float":
        return _float_param(where, key, entry, default)
    if kind == "int":
        return _int_param(where, key, entry, default)
    if kind == "categorical":
        return _categorical_param(where, key, entry, default)
    return _layers_param(where, key, entry)


def _number(where: str, key: str, field: str, value: Any) -> float:
    """A float from YAML (which reads ``1e-4`` without a dot as a string)."""
    if isinstance(value, bool):
        _fail(where, key, f"{field} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        _fail(where, key, f"{field} must be a number, got {value!r}")
    if not math.isfinite(number):
        _fail(where, key, f"{field} must be finite, got {value!r}")
    return number


def _integer(where: str, key: str, field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(where, key, f"{field} must be an integer, got {value!r}")
    return value


def _flag(where: str, key: str, field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        _fail(where, key, f"{field} must be true or false, got {value!r}")
    return value


def _check_range(where: str, key: str, low: float, high: float, log: bool) -> None:
    if low > high:
        _fail(where, key, f"low {low:g} > high {high:g}")
    if log and low <= 0:
        _fail(where, key, f"a log scale needs low > 0, got {low:g}")


def _float_param(where: str, key: str, entry: Mapping[str, Any], default: Any) -> FloatParam:
    if isinstance(default, bool) or not isinstance(default, float):
        _fail(where, key, f"type float does not fit this key (its value {default!r} is "
                          f"{type(default).__name__}); use {_hint(default)}")
    low = _number(where, key, "low", entry.get("low"))
    high = _number(where, key, "high", entry.get("high"))
    log = _flag(where, key, "log", entry.get("log", False))
    step = entry.get("step")
    step_value = None if step is None else _number(where, key, "step", step)
    _check_range(where, key, low, high, log)
    if step_value is not None and (log or step_value <= 0):
        _fail(where, key, "step must be > 0 and cannot be combined with log")
    return FloatParam(key, low, high, log, step_value)


def _int_param(where: str, key: str, entry: Mapping[str, Any], default: Any) -> IntParam:
    if isinstance(default, bool) or not isinstance(default, int):
        _fail(where, key, f"type int does not fit this key (its value {default!r} is "
                          f"{type(default).__name__}); use {_hint(default)}")
    low = _integer(where, key, "low", entry.get("low"))
    high = _integer(where, key, "high", entry.get("high"))
    log = _flag(where, key, "log", entry.get("log", False))
    step = _integer(where, key, "step", entry.get("step", 1))
    _check_range(where, key, low, high, log)
    if step < 1 or (log and step != 1):
        _fail(where, key, "step must be >= 1, and 1 with log")
    return IntParam(key, low, high, log, step)


def _categorical_param(
    where: str, key: str, entry: Mapping[str, Any], default: Any
) -> CategoricalParam:
    if isinstance(default, list):
        _fail(where, key, f"categorical choices cannot be lists; use {_hint(default)}")
    choices = entry.get("choices")
    if not isinstance(choices, list) or not choices:
        _fail(where, key, f"choices must be a non-empty list, got {choices!r}")
    for choice in choices:
        if choice is not None and not isinstance(choice, (bool, int, float, str)):
            _fail(where, key, f"choice {choice!r} is not a number, string or boolean")
    if len({repr(c) for c in choices}) != len(choices):
        _fail(where, key, f"choices must be distinct, got {choices}")
    return CategoricalParam(key, tuple(choices))


def _pair(where: str, key: str, field: str, value: Any) -> tuple[int, int]:
    if not isinstance(value, list) or len(value) != 2:
        _fail(where, key, f"{field} must be [low, high], got {value!r}")
    low, high = (_integer(where, key, field, v) for v in value)
    if low < 1:
        _fail(where, key, f"{field} low must be >= 1, got {low}")
    _check_range(where, key, low, high, False)
    return low, high


def _layers_param(where: str, key: str, entry: Mapping[str, Any]) -> LayersParam:
    keys = layer_keys()
    if key not in keys:
        _fail(where, key, f"type layers fits only {keys}")
    depth = _pair(where, key, "depth", entry.get("depth"))
    width = _pair(where, key, "width", entry.get("width"))
    return LayersParam(key, depth, width, _flag(where, key, "log", entry.get("log", True)))


def _hint(default: Any) -> str:
    if isinstance(default, list):
        return "type layers (for layer widths)"
    if isinstance(default, bool) or isinstance(default, str):
        return "type categorical"
    return "type int or categorical" if isinstance(default, int) else "type float or categorical"


def _endpoints(param: Param) -> list[Any]:
    if isinstance(param, CategoricalParam):
        return list(param.choices)
    if isinstance(param, LayersParam):
        return [[param.width[0]] * param.depth[0], [param.width[1]] * param.depth[1]]
    return [param.low, param.high]


def _check_values(where: str, param: Param, base: Config) -> None:
    """Both ends of the range (every choice) must be values the config accepts."""
    for value in _endpoints(param):
        try:
            with_overrides(base, {param.key: value})
        except ConfigError as error:
            _fail(where, param.key, str(error))
