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
"""

from __future__ import annotations

import keras
import numpy as np

from pitot_tf.config import SEED_LIMIT, Config
from pitot_tf.data.dataset import Dataset
from pitot_tf.models.build import baseline_layer, interaction_for, member_output, model_inputs

MEMBER_PREFIX = "member_"


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
    count = config.training.ensemble
    inputs = model_inputs()
    members = []
    for member in range(count):
        suffix = f"_{member}" if member else ""
        keras.utils.set_random_seed(member_seed(config.seed, member))
        interaction = interaction_for(config, dataset, suffix)
        baseline = baseline_layer(config, dataset, f"baseline{suffix}")
        members.append(keras.layers.Add(name=f"{MEMBER_PREFIX}{member}")(member_output(
            config, dataset, inputs, interaction, baseline, member_seed(config.seed, member),
            suffix)))
    output = keras.layers.Average(name="log_runtime")(members)
    return keras.Model(inputs, output, name=f"{config.model.kind}_ensemble")


def member_names(model: keras.Model) -> list[str]:
    """Names of the members' output layers in member order; ``[]`` for a single model."""
    names = [layer.name for layer in model.layers if layer.name.startswith(MEMBER_PREFIX)]
    return sorted(names, key=lambda name: int(name[len(MEMBER_PREFIX):]))


def member_models(model: keras.Model) -> list[keras.Model]:
    """One Keras model per member (sharing ``model``'s layers and weights, so training one
    trains the ensemble); ``[model]`` for a single model."""
    names = member_names(model)
    if not names:
        return [model]
    return [keras.Model(model.input, model.get_layer(name).output, name=name) for name in names]
