"""One member's parts: the inputs, its interaction layer, its baseline layer and its output.

A single model is one member (:func:`pitot_tf.models.build.build_model`); an ensemble is E of
them in one Keras model (:mod:`pitot_tf.models.ensemble`). Both build from these helpers,
which is why they live below both.
"""

from __future__ import annotations

from typing import Any

import keras

from pitot_tf.config import Config
from pitot_tf.data.dataset import Dataset
from pitot_tf.models.baseline import LinearScaling
from pitot_tf.models.cold_dropout import ColdDropout
from pitot_tf.models.feature_trees import max_nodes
from pitot_tf.models.parts import BASELINE, COLD_DROPOUT
from pitot_tf.models.registry import KINDS, Interaction

INPUTS = ("platform", "workload", "interferers")


def heads(config: Config) -> int:
    """One output per quantile, or a single point prediction."""
    return max(1, len(config.model.quantiles))


def model_inputs() -> dict[str, keras.KerasTensor]:
    """The symbolic inputs every model takes: ``platform`` and ``workload`` indices, and
    ``interferers``, co-runner workload indices padded with ``-1``."""
    return {
        "platform": keras.Input(shape=(), dtype="int32", name="platform"),
        "workload": keras.Input(shape=(), dtype="int32", name="workload"),
        "interferers": keras.Input(shape=(None,), dtype="int32", name="interferers"),
    }


def interaction_for(config: Config, dataset: Dataset, suffix: str = "") -> Interaction:
    """A fresh interaction layer of ``model.kind`` (weights drawn from the current Keras
    seed), its name ending in ``suffix`` (which tells ensemble members apart)."""
    interaction = KINDS[config.model.kind](config, dataset, heads(config))
    if suffix:
        layer: Any = interaction
        settings = layer.get_config()
        interaction = type(layer).from_config({**settings, "name": settings["name"] + suffix})
    interaction.set_features(dataset.platforms.features, dataset.workloads.features)
    return interaction


def baseline_layer(config: Config, dataset: Dataset, name: str = BASELINE) -> LinearScaling:
    """A (not yet fitted) linear-scaling baseline layer."""
    return LinearScaling(
        len(dataset.platforms), len(dataset.workloads), dataset.platforms.features.shape[1],
        dataset.workloads.features.shape[1],
        trainable_scales=config.model.baseline and config.model.baseline_trainable,
        cold_scales=config.model.cold_dropout > 0,
        tree_nodes=(max_nodes(max(len(dataset.platforms), len(dataset.workloads)))
                    if config.model.cold_baseline != "ridge" else 0),
        name=name,
    )


def member_output(config: Config, dataset: Dataset, inputs: dict[str, Any],
                  interaction: Interaction, baseline: LinearScaling, seed: int,
                  suffix: str = "") -> Any:
    """Baseline plus interaction for ``inputs``; with ``model.cold_dropout`` both first take
    the masks of the entities a :class:`ColdDropout` layer (seeded by ``seed``) drops."""
    platform, workload = inputs["platform"], inputs["workload"]
    if config.model.cold_dropout <= 0:
        return [baseline(platform, workload),
                interaction(platform, workload, inputs["interferers"])]
    drop = ColdDropout(len(dataset.platforms), len(dataset.workloads),
                       config.model.cold_dropout, seed, name=COLD_DROPOUT + suffix)
    platform_cold, workload_cold = drop(platform)
    return [baseline(platform, workload, platform_cold, workload_cold),
            interaction(platform, workload, inputs["interferers"], platform_cold,
                        workload_cold)]  # type: ignore[call-arg]
