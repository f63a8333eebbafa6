"""Ensembles: E independently initialised members in one Keras model.

``training.ensemble=E`` builds one functional model with the usual inputs and, per member
``e``, a linear-scaling baseline layer (``baseline`` for member 0, ``baseline_<e>`` for the
others; all start from the same least-squares fit, and are trained with their member when
``model.baseline_trainable``), an interaction network initialised from the member's own seed
(:func:`member_seed`), and an ``Add`` layer ``member_<e>`` (the member's own log-runtime
prediction). The model's output ``log_runtime`` is the mean of the members' log runtimes, so
``predict``, conformal calibration, the Keras file and the pyfunc use the ensemble as they
would a single model.

The trainer trains each member on its own loss (the loss minimized is the sum of the members'
losses, never the loss of the mean): :func:`member_models` gives one Keras model per member,
sharing the ensemble's layers: each member is exactly a single model, and no weight is shared.
Member 0's layers keep the single model's names (``baseline``, ``pitot``) and seed, so tools
that look at "the" network (t-SNE of embeddings, the baseline's sizes) see member 0.

With ``training.ensemble_share=towers`` (:func:`build_shared_ensemble`) the members share one
Pitot interaction layer ``pitot`` whose towers' hidden layers and learned features are common
and whose towers' output layers hold one block per member (``members=E``,
:mod:`pitot_tf.models.pitot`); member ``e`` is its own baseline plus its own columns of that
layer's output (a :class:`MemberSlice` ``head_<e>``). The trainer draws one batch per step for
all members and runs the shared layer once (:func:`shared_member_outputs`); the loss is still
the sum of the members' own losses, so the shared layers get the sum of their gradients.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from pitot_tf.config import SEED_LIMIT, Config
from pitot_tf.data.dataset import Dataset
from pitot_tf.models.blocks import Block, Entities, interaction_on_blocks
from pitot_tf.models.member import (
    baseline_layer,
    heads,
    interaction_for,
    member_output,
    model_inputs,
)
from pitot_tf.models.parts import BASELINE, HEAD_PREFIX, MEMBER_PREFIX, member_suffix, model_parts


@keras.saving.register_keras_serializable(package="pitot_tf")
class MemberSlice(keras.layers.Layer):
    """Member ``member``'s ``heads`` columns of a shared interaction's ``(batch, E · heads)``
    output."""

    def __init__(self, member: int, heads: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.member, self.heads = member, heads

    def call(self, values: Any) -> Any:
        return values[:, self.member * self.heads : (self.member + 1) * self.heads]

    def compute_output_shape(self, shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (shape[0], self.heads)

    def get_config(self) -> dict[str, object]:
        return {**super().get_config(), "member": self.member, "heads": self.heads}


def member_seed(seed: int, member: int) -> int:
    """Member ``member``'s seed (initial weights and batch draws): ``seed`` itself for member
    0 (which thus starts as the single model would), a derived seed below
    :data:`~pitot_tf.config.SEED_LIMIT` for the others."""
    if member == 0:
        return seed
    state = np.random.SeedSequence([seed, member]).generate_state(1, np.uint32)[0]
    return int(state) % SEED_LIMIT


def build_ensemble(config: Config, dataset: Dataset) -> keras.Model:
    """A fresh ensemble of ``config.training.ensemble`` members (see the module)."""
    if config.training.ensemble_share == "towers":
        return build_shared_ensemble(config, dataset)
    count = config.training.ensemble
    inputs = model_inputs()
    members = []
    for member in range(count):
        suffix = member_suffix(member)
        keras.utils.set_random_seed(member_seed(config.seed, member))
        interaction = interaction_for(config, dataset, suffix)
        baseline = baseline_layer(config, dataset, BASELINE + suffix)
        members.append(keras.layers.Add(name=f"{MEMBER_PREFIX}{member}")(member_output(
            config, dataset, inputs, interaction, baseline, member_seed(config.seed, member),
            suffix)))
    output = keras.layers.Average(name="log_runtime")(members)
    return keras.Model(inputs, output, name=f"{config.model.kind}_ensemble")


def build_shared_ensemble(config: Config, dataset: Dataset) -> keras.Model:
    """A fresh ensemble whose members share their towers (see the module)."""
    inputs = model_inputs()
    keras.utils.set_random_seed(config.seed)
    interaction = interaction_for(config, dataset)
    shared = interaction(inputs["platform"], inputs["workload"], inputs["interferers"])
    members = []
    for member in range(config.training.ensemble):
        baseline = baseline_layer(config, dataset, BASELINE + member_suffix(member))
        head = MemberSlice(member, heads(config), name=f"{HEAD_PREFIX}{member}")(shared)
        members.append(keras.layers.Add(name=f"{MEMBER_PREFIX}{member}")(
            [baseline(inputs["platform"], inputs["workload"]), head]))
    output = keras.layers.Average(name="log_runtime")(members)
    return keras.Model(inputs, output, name=f"{config.model.kind}_shared_ensemble")


def shared_member_outputs(model: keras.Model, blocks: list[Block],
                          training: bool | None = None,
                          entities: Entities | None = None) -> list[Any]:
    """Each member's output ``(Σ rows, heads)`` on ``blocks`` (in block order) for a model of
    :func:`build_shared_ensemble`: the shared interaction runs once (on the step's
    ``entities``, if entity-blocked)."""
    parts = model_parts(model)
    shared = interaction_on_blocks(parts.interaction, blocks, training, entities=entities)
    platform = keras.ops.concatenate([block.platform for block in blocks], axis=0)
    workload = keras.ops.concatenate([block.workload for block in blocks], axis=0)
    return [keras.ops.add(member.baseline(platform, workload), member.head(shared))
            for member in parts.members]


def is_shared(model: keras.Model) -> bool:
    """Whether ``model`` is an ensemble with shared towers (:func:`build_shared_ensemble`)."""
    return model_parts(model).shared


def member_names(model: keras.Model) -> list[str]:
    """Names of the members' output layers in member order; ``[]`` for a single model."""
    return list(model_parts(model).member_names)


def member_models(model: keras.Model) -> list[keras.Model]:
    """One Keras model per member (sharing ``model``'s layers and weights, so training one
    trains the ensemble); ``[model]`` for a single model."""
    outputs = model_parts(model).outputs
    if not outputs:
        return [model]
    return [keras.Model(model.input, layer.output, name=layer.name) for layer in outputs]
