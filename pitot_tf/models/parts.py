"""One accessor for a model's parts: :func:`model_parts` gives them as named attributes.

Every model that :func:`pitot_tf.models.build_model` builds is, per member (one for a single
model), a linear-scaling baseline plus an interaction layer, summed; a model trained with cold
dropout also has a :class:`ColdDropout` layer per member. An ensemble
(:mod:`pitot_tf.models.ensemble`) names member ``e``'s output layer ``member_<e>`` and its
layers with the suffix ``_<e>`` (none for member 0, which keeps the single model's names);
with shared towers its members share one interaction layer, member ``e`` reading its columns
through the slice layer ``head_<e>``. Those names are the convention this module owns: code
that needs a part asks for it here instead of scanning ``model.layers`` or naming layers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import keras

from pitot_tf.errors import PitotError
from pitot_tf.models.baseline import LinearScaling
from pitot_tf.models.cold_dropout import ColdDropout
from pitot_tf.models.pitot import PitotInteraction

BASELINE = "baseline"
COLD_DROPOUT = "cold_dropout"
MEMBER_PREFIX = "member_"
HEAD_PREFIX = "head_"
_MEMBER = re.compile(rf"^{MEMBER_PREFIX}(\d+)$")
_SUFFIX = re.compile(r"_(\d+)$")


class MissingPart(PitotError, ValueError):
    """The model has no such part (another model kind, or not one of pitot-tf's models)."""


def member_suffix(member: int) -> str:
    """The suffix of member ``member``'s layer names: none for member 0, else ``_<member>``."""
    return f"_{member}" if member else ""


@dataclass(frozen=True)
class Member:
    """One member's parts (a single model's, for a model of one): its output is
    ``baseline + interaction`` (through ``head``, its columns, when the towers are shared)."""

    baseline: LinearScaling
    interaction: Any
    head: Any = None  # its slice of the shared interaction's output (shared towers)
    cold_dropout: ColdDropout | None = None


@dataclass(frozen=True)
class ModelParts:
    """A model's parts by name (:func:`model_parts`): its members' parts and, for an
    ensemble, their output layers ``member_<e>`` (``()`` for a single model)."""

    name: str
    members: tuple[Member, ...]
    outputs: tuple[keras.layers.Layer, ...] = ()

    @property
    def member_names(self) -> tuple[str, ...]:
        """The members' output layer names in member order (``()`` for a single model)."""
        return tuple(layer.name for layer in self.outputs)

    @property
    def baseline(self) -> LinearScaling:
        """Member 0's baseline (the single model's)."""
        return self.members[0].baseline

    @property
    def interaction(self) -> Any:
        """Member 0's interaction layer (the single model's, or the shared one)."""
        return self.members[0].interaction

    @property
    def baselines(self) -> tuple[LinearScaling, ...]:
        return tuple(member.baseline for member in self.members)

    @property
    def interactions(self) -> tuple[Any, ...]:
        """Every interaction layer once, in member order (one when the towers are shared)."""
        found: dict[int, Any] = {}
        for member in self.members:
            found.setdefault(id(member.interaction), member.interaction)
        return tuple(found.values())

    @property
    def shared(self) -> bool:
        """Whether the members share their towers (one interaction, a head per member)."""
        return self.members[0].head is not None

    def pitot(self) -> PitotInteraction:
        """Member 0's Pitot interaction layer (its towers: ``.workload_tower``,
        ``.platform_tower``); MissingPart for another model kind."""
        layer = self.interaction
        if not isinstance(layer, PitotInteraction):
            raise MissingPart(f"model {self.name!r} is not a Pitot model (its interaction "
                              f"layer {layer.name!r} is a {type(layer).__name__})")
        return layer

    def single(self) -> Member:
        """The parts of a single model or of one member of an ensemble
        (:func:`pitot_tf.models.ensemble.member_models`); MissingPart for a whole ensemble."""
        if len(self.members) != 1:
            raise MissingPart(f"model {self.name!r} is an ensemble of {len(self.members)} "
                              "members, not one baseline plus one interaction layer")
        if self.shared:
            raise MissingPart(f"model {self.name!r} is a member of an ensemble with shared "
                              "towers (see pitot_tf.models.ensemble.shared_member_outputs)")
        return self.members[0]


def model_parts(model: keras.Model) -> ModelParts:
    """``model``'s parts (see the module); MissingPart where the layers do not make one."""
    layers = {layer.name: layer for layer in model.layers}
    indices = sorted(int(m.group(1)) for m in map(_MEMBER.match, layers) if m)
    if not indices:
        return ModelParts(model.name, (_single_member(model),))
    interactions = _interactions(model)
    if not interactions:
        raise MissingPart(f"model {model.name!r} has no interaction layer")
    members = tuple(_member(model, layers, interactions, e) for e in indices)
    return ModelParts(model.name, members, tuple(layers[f"{MEMBER_PREFIX}{e}"] for e in indices))


def _single_member(model: keras.Model) -> Member:
    """The parts of a model without member layers: exactly one of each."""
    baselines = [layer for layer in model.layers if isinstance(layer, LinearScaling)]
    interactions = _interactions(model)
    if len(baselines) != 1 or len(interactions) != 1:
        raise MissingPart(f"model {model.name!r} is not one baseline plus one interaction "
                          f"layer ({len(baselines)} baselines, {len(interactions)} "
                          "interaction layers)")
    drops = [layer for layer in model.layers if isinstance(layer, ColdDropout)]
    return Member(baselines[0], interactions[0], cold_dropout=drops[0] if drops else None)


def _interactions(model: keras.Model) -> list[Any]:
    """The layers that declare row weights, less the baselines: the interaction layers
    (:class:`pitot_tf.models.registry.Interaction`)."""
    return [layer for layer in model.layers
            if hasattr(layer, "row_weights") and not isinstance(layer, LinearScaling)]


def _member(model: keras.Model, layers: dict[str, Any], interactions: list[Any],
            e: int) -> Member:
    """Member ``e``'s parts, found by the names of the module's convention."""
    suffix = member_suffix(e)
    baseline = layers.get(BASELINE + suffix)
    if not isinstance(baseline, LinearScaling):
        raise MissingPart(f"model {model.name!r} has no baseline layer "
                          f"{BASELINE + suffix!r} for member {e}")
    head = layers.get(f"{HEAD_PREFIX}{e}")
    if head is not None or len(interactions) == 1:
        interaction = interactions[0]
    else:
        own = [layer for layer in interactions if _suffix_of(layer.name) == e]
        if len(own) != 1:
            raise MissingPart(f"model {model.name!r} has {len(own)} interaction layers "
                              f"for member {e}")
        interaction = own[0]
    drop = layers.get(COLD_DROPOUT + suffix)
    return Member(baseline, interaction, head, drop if isinstance(drop, ColdDropout) else None)


def _suffix_of(name: str) -> int:
    """The member index that a layer name's suffix gives (0 without one)."""
    match = _SUFFIX.search(name)
    return int(match.group(1)) if match else 0
