"""Search spaces: which config keys a study samples, and from which Optuna distribution.

A space maps dotted config keys to ``{type: ..., ...}``: ``float``, ``int`` and ``categorical``
are Optuna's distributions under the key's own name; ``layers`` (a list of widths) is two
integers ``<key>.depth`` and ``<key>.width`` (every layer gets the same width). An entry must
name a key the preset's model reads, suit the key's type, and both ends of its range must be
valid config values; anything wrong is a ConfigError naming the study file and the key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from pitot_tf.config import Config, field_types, keys_read, read_fields, with_overrides
from pitot_tf.errors import ConfigError


@dataclass(frozen=True)
class Param:
    """A searched config key and the Optuna distribution of each Optuna parameter it takes
    (one, named like the key; ``<key>.depth`` and ``<key>.width`` for layers)."""

    key: str
    distributions: dict[str, BaseDistribution]

    @property
    def is_layers(self) -> bool:
        return f"{self.key}.depth" in self.distributions

    def suggest(self, trial: optuna.Trial) -> Any:
        values = {name: _suggest(trial, name, d) for name, d in self.distributions.items()}
        if self.is_layers:
            return [values[f"{self.key}.width"]] * values[f"{self.key}.depth"]
        return values[self.key]

    def optuna_params(self, value: Any) -> dict[str, Any]:
        """The Optuna parameters that make :meth:`suggest` return ``value``."""
        if not self.is_layers:
            return {self.key: value}
        widths = list(value)
        if not widths or len(set(widths)) != 1:
            raise ConfigError(f"{self.key}={widths} is not {len(widths)} layers of one width, "
                              "so the search space cannot hold it")
        return {f"{self.key}.depth": len(widths), f"{self.key}.width": int(widths[0])}

    def contains(self, value: Any) -> bool:
        try:
            params = self.optuna_params(value)
        except ConfigError:
            return False
        return all(_contains(self.distributions[name], v) for name, v in params.items())

    def endpoints(self) -> list[Any]:
        """Both ends of the range (every choice): each must be a valid config value."""
        if self.is_layers:
            depth, width = (self.distributions[f"{self.key}.{n}"] for n in ("depth", "width"))
            return [[int(width.low)] * int(depth.low),  # type: ignore[attr-defined]
                    [int(width.high)] * int(depth.high)]  # type: ignore[attr-defined]
        distribution = self.distributions[self.key]
        if isinstance(distribution, CategoricalDistribution):
            return list(distribution.choices)
        return [distribution.low, distribution.high]  # type: ignore[attr-defined]


def _suggest(trial: optuna.Trial, name: str, distribution: BaseDistribution) -> Any:
    if isinstance(distribution, FloatDistribution):
        return trial.suggest_float(name, distribution.low, distribution.high,
                                   log=distribution.log, step=distribution.step)
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(name, distribution.low, distribution.high,
                                 log=distribution.log, step=distribution.step)
    assert isinstance(distribution, CategoricalDistribution)
    return trial.suggest_categorical(name, list(distribution.choices))  # type: ignore[arg-type]


def _contains(distribution: BaseDistribution, value: Any) -> bool:
    if isinstance(distribution, CategoricalDistribution):
        return value in distribution.choices
    assert isinstance(distribution, (FloatDistribution, IntDistribution))
    inside = distribution.low - 1e-12 <= float(value) <= distribution.high + 1e-12
    if isinstance(distribution, IntDistribution):
        return inside and (int(value) - distribution.low) % distribution.step == 0
    return inside


def suggest_overrides(trial: optuna.Trial, space: Mapping[str, Param]) -> dict[str, Any]:
    """Sample every key of ``space`` for ``trial``; returns config overrides."""
    return {key: param.suggest(trial) for key, param in space.items()}


def layer_keys() -> tuple[str, ...]:
    """Config keys that hold layer widths: every ``model.*layers`` key of type ``list[int]``
    (so a model kind's new layer key is searchable without being listed here)."""
    return tuple(key for key, kind in field_types().items()
                 if key.startswith("model.") and key.endswith("layers") and kind == list[int])


def parse_space(raw: Any, where: str, base: Config) -> dict[str, Param]:
    """Read and check the ``space`` section of study file ``where`` against config ``base``."""
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(f"{where}: space must be a non-empty mapping of config key to "
                          "distribution")
    defaults = base.flat()
    space: dict[str, Param] = {}
    for key, entry in ((str(k), v) for k, v in raw.items()):
        if key not in defaults:
            _fail(where, key, f"unknown config key '{key}'; `pitot-tf presets show pitot` "
                              "lists the keys")
        if key.startswith("model.") and key.removeprefix("model.") not in keys_read(base.model):
            _fail(where, key, f"the preset's model (model.kind={base.model.kind}, "
                              f"model.baseline={base.model.baseline}) never reads it")
        space[key] = _param(where, key, entry, defaults[key])
        for value in space[key].endpoints():
            try:
                with_overrides(base, {key: value})
            except ConfigError as error:
                _fail(where, key, str(error))
    return space


def _fail(where: str, key: str, message: str) -> NoReturn:
    raise ConfigError(f"{where}: space.{key}: {message}")


def _param(where: str, key: str, entry: Any, default: Any) -> Param:
    if not isinstance(entry, Mapping):
        _fail(where, key, f"must be a mapping like {{type: float, low: 0.1, high: 1}}, "
                          f"got {entry!r}")
    kind, options = entry.get("type"), {k: v for k, v in entry.items() if k != "type"}
    if kind not in ENTRIES:
        _fail(where, key, f"unknown distribution type {kind!r}; use one of {list(ENTRIES)}")
    if kind == "layers" and key not in layer_keys():
        _fail(where, key, f"type layers fits only {layer_keys()}")
    if kind != "layers" and (isinstance(default, list) or kind in ("float", "int") and (
            type(default) is not {"float": float, "int": int}[kind])):
        _fail(where, key, f"type {kind} does not fit this key (its value {default!r} is "
                          f"{type(default).__name__}); use {HINTS[type(default)]}")
    try:
        values: Any = read_fields(ENTRIES[kind], options, f"space.{key}")
        if isinstance(values, Layers):
            return Param(key, {f"{key}.{name}": _pair(where, key, name, pair, values.log)
                               for name, pair in (("depth", values.depth),
                                                  ("width", values.width))})
        if isinstance(values, Choices):
            return Param(key, {key: _categorical(where, key, values.choices)})
        distribution = FloatDistribution if kind == "float" else IntDistribution
        return Param(key, {key: distribution(**dataclasses.asdict(values))})
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from error
    except ValueError as error:  # Optuna's own checks (low <= high, step with log, ...)
        _fail(where, key, str(error))


@dataclass(frozen=True)
class FloatRange:
    low: float
    high: float
    log: bool = False
    step: float | None = None


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int
    log: bool = False
    step: int = 1


@dataclass(frozen=True)
class Layers:
    depth: list[int]
    width: list[int]
    log: bool = True


@dataclass(frozen=True)
class Choices:
    choices: Any


#: What to use instead when an entry's type does not fit its key's value.
HINTS = {list: "type layers (for layer widths)", bool: "type categorical", str: "type categorical",
         int: "type int or categorical", float: "type float or categorical"}
#: The fields of each distribution type (read strictly by :func:`~pitot_tf.config.read_fields`).
ENTRIES: dict[str, type] = {"float": FloatRange, "int": IntRange, "categorical": Choices,
                            "layers": Layers}


def _categorical(where: str, key: str, choices: Any) -> CategoricalDistribution:
    if not isinstance(choices, list) or not choices or not all(
            c is None or isinstance(c, (bool, int, float, str)) for c in choices):
        _fail(where, key, f"choices must be a non-empty list of numbers, strings or booleans, "
                          f"got {choices!r}")
    if len({repr(c) for c in choices}) != len(choices):
        _fail(where, key, f"choices must be distinct, got {choices}")
    return CategoricalDistribution(choices)


def _pair(where: str, key: str, name: str, value: list[int], log: bool) -> IntDistribution:
    if not (len(value) == 2 and 1 <= value[0] <= value[1]):
        _fail(where, key, f"{name} must be [low, high] with integers 1 <= low <= high, "
                          f"got {value!r}")
    return IntDistribution(value[0], value[1], log=log)

