"""Build any model kind from a config as a Keras functional model.

Every model has the same inputs (``platform`` and ``workload`` indices, and ``interferers``:
co-runner workload indices padded with ``-1``) and one output, ``log_runtime``
``(batch, heads)``: the linear-scaling baseline plus the network's interaction term, whose
layer the kind's builder in :mod:`pitot_tf.models.registry` makes. With
``training.ensemble=E > 1`` the output is the mean of E members' outputs
(:mod:`pitot_tf.models.ensemble`).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from pitot_tf.config import Config
from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import Split
from pitot_tf.models.baseline import LinearScaling, fit_linear_scaling
from pitot_tf.models.cold_baseline import fit_feature_terms
from pitot_tf.models.cold_dropout import ColdDropout
from pitot_tf.models.feature_trees import max_nodes
from pitot_tf.models.parts import BASELINE, COLD_DROPOUT, model_parts
from pitot_tf.models.registry import KINDS, Interaction

INPUTS = ("platform", "workload", "interferers")


def heads(config: Config) -> int:
    """One output per quantile, or a single point prediction."""
    return max(1, len(config.model.quantiles))


def model_inputs() -> dict[str, keras.KerasTensor]:
    """The symbolic inputs every model takes (see the module docstring)."""
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


def build_model(config: Config, dataset: Dataset) -> keras.Model:
    """A fresh (untrained, baseline not yet fitted) model for ``dataset``'s axes; an
    ensemble of ``training.ensemble`` members when that is above 1."""
    if config.training.ensemble > 1:
        from pitot_tf.models.ensemble import build_ensemble

        return build_ensemble(config, dataset)
    keras.utils.set_random_seed(config.seed)
    inputs = model_inputs()
    interaction = interaction_for(config, dataset)
    baseline = baseline_layer(config, dataset)
    output = keras.layers.Add(name="log_runtime")(
        member_output(config, dataset, inputs, interaction, baseline, config.seed))
    return keras.Model(inputs, output, name=f"{config.model.kind}")


def baseline_rows(config: Config, split: Split) -> np.ndarray:
    """The matrix rows the baseline is fitted on: train only (``model.baseline_fit=train``,
    so that the validation rows stay unseen for conformal calibration), or train and
    validation as the reference does (``train+val``)."""
    parts = ["train", "val"] if config.model.baseline_fit == "train+val" else ["train"]
    return np.concatenate([split.rows("mf", part) for part in parts])


def fit_baseline(model: keras.Model, config: Config, dataset: Dataset, split: Split) -> None:
    """Fit the linear-scaling baseline ``offset + a_p + b_w`` on :func:`baseline_rows` of the
    matrix objective; with ``model.baseline=false`` it is 0 everywhere (the reference's
    ``C̄ = 0``: the network predicts log runtime on its own).

    Platforms or workloads with none of those rows (cold start) get the baseline term that
    their side features predict (``model.cold_baseline``, :mod:`pitot_tf.models.cold_baseline`),
    which is also the term cold dropout gives a dropped row.
    """
    mf = dataset.objectives["mf"]
    rows = baseline_rows(config, split)
    # One layer, or one per ensemble member: each starts from the same fit.
    layers = model_parts(model).baselines
    shape = (len(dataset.platforms), len(dataset.workloads))
    if not (config.model.baseline and len(rows)):
        for layer in layers:
            layer.set_values(np.zeros(shape[0]), np.zeros(shape[1]), 0.0)
        return
    log_t = mf.log_runtime[rows]
    offset = float(log_t.mean())
    platform, workload = mf.platform[rows], mf.workload[rows]
    a, b = fit_linear_scaling(log_t - offset, platform, workload, shape)
    fits = []  # per axis
    for scale, index, axis in ((a, platform, dataset.platforms), (b, workload, dataset.workloads)):
        observed = np.bincount(index, minlength=len(axis)) > 0
        fit = fit_feature_terms(config.model.cold_baseline, scale, axis.features, observed,
                                layers[0].tree_nodes, config.seed)
        scale[~observed] = fit.terms[~observed]
        fits.append(fit)
    for layer in layers:
        layer.set_values(a, b, offset, fits[0].regression, fits[1].regression)
        if layer.tree_nodes:
            layer.set_trees([fit.trees for fit in fits], [fit.use_trees for fit in fits])
        if layer.cold_scales:
            layer.set_cold_scales(fits[0].terms, fits[1].terms)
