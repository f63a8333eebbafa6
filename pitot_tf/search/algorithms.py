"""The Optuna sampler and pruner a study file names, built from ``{kind: ..., option: ...}``.

Every option besides ``kind`` is a keyword argument of the Optuna class (its documentation
lists them); each is built once when the study file is read, so a typo names the file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna

from pitot_tf.errors import ConfigError

SAMPLERS: dict[str, Callable[..., optuna.samplers.BaseSampler]] = {
    "tpe": optuna.samplers.TPESampler,
    "random": optuna.samplers.RandomSampler,
    "nsgaii": optuna.samplers.NSGAIISampler,
    "qmc": optuna.samplers.QMCSampler,
}
PRUNERS: dict[str, Callable[..., optuna.pruners.BasePruner]] = {
    "median": optuna.pruners.MedianPruner,
    "percentile": optuna.pruners.PercentilePruner,
    "hyperband": optuna.pruners.HyperbandPruner,
    "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
    "none": optuna.pruners.NopPruner,
}


@dataclass(frozen=True)
class Component:
    """A sampler or pruner: its kind and keyword options."""

    kind: str
    options: dict[str, Any] = field(default_factory=dict)


def parse_component(raw: Any, section: str, where: str) -> Component:
    """``{kind: tpe, seed: 0}`` → Component, checked by building it once."""
    choices = SAMPLERS if section == "sampler" else PRUNERS
    if not isinstance(raw, Mapping) or "kind" not in raw:
        raise ConfigError(f"{where}: {section} must be a mapping with a 'kind' "
                          f"(one of {sorted(choices)})")
    options = {str(k): v for k, v in raw.items() if k != "kind"}
    component = Component(str(raw["kind"]), options)
    if component.kind not in choices:
        raise ConfigError(f"{where}: {section}.kind: unknown {section} '{component.kind}'; "
                          f"use one of {sorted(choices)}")
    try:
        choices[component.kind](**options)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {section}: {error}") from error
    return component


def make_sampler(component: Component, worker: int = 0) -> optuna.samplers.BaseSampler:
    """The sampler; parallel workers get seeds ``seed + worker`` so they do not sample alike."""
    options = dict(component.options)
    if options.get("seed") is not None:
        options["seed"] = int(options["seed"]) + worker
    return SAMPLERS[component.kind](**options)


def make_pruner(component: Component) -> optuna.pruners.BasePruner:
    return PRUNERS[component.kind](**component.options)
