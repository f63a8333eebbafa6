"""Build any model kind from a config as a Keras functional model.

Every model has the same inputs (``platform`` and ``workload`` indices, and ``interferers``:
co-runner workload indices padded with ``-1``) and one output, ``log_runtime``
``(batch, heads)``: the linear-scaling baseline plus the network's interaction term.
"""

from __future__ import annotations

import keras
import numpy as np

from pitot_tf.config import Config
from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import Split
from pitot_tf.models.baseline import (
    LinearScaling,
    fit_from_features,
    fit_linear_scaling,
    predict_from_features,
)
from pitot_tf.models.baselines import Attention, Monolith
from pitot_tf.models.pitot import PitotInteraction

INPUTS = ("platform", "workload", "interferers")


def heads(config: Config) -> int:
    """One output per quantile, or a single point prediction."""
    return max(1, len(config.model.quantiles))


def _interaction(config: Config, dataset: Dataset) -> keras.layers.Layer:
    m = config.model
    sizes = dict(
        platforms=len(dataset.platforms),
        workloads=len(dataset.workloads),
        platform_features=dataset.platforms.features.shape[1],
        workload_features=dataset.workloads.features.shape[1],
        heads=heads(config),
        activation=m.activation,
    )
    if m.kind == "monolith":
        layer: keras.layers.Layer = Monolith(**sizes, layers=m.monolith_layers, name="monolith")
    elif m.kind == "attention":
        layer = Attention(
            **sizes,
            layers=m.attention_layers,
            attention_dim=m.attention_dim,
            value_dim=m.value_dim,
            output_layers=m.output_layers,
            name="attention_model",
        )
    else:
        return PitotInteraction(
            **sizes,
            mf_dim=m.mf_dim,
            if_dim=m.if_dim,
            if_slope=m.if_slope,
            interference=m.interference,
            workload_tower=m.workload_tower,
            platform_tower=m.platform_tower,
            learned_features=m.learned_features,
            layers=m.layers,
            name="pitot",
        )
    layer.set_features(dataset.platforms.features, dataset.workloads.features)
    return layer


def build_model(config: Config, dataset: Dataset) -> keras.Model:
    """A fresh (untrained, baseline not yet fitted) model for ``dataset``'s axes."""
    keras.utils.set_random_seed(config.seed)
    platform = keras.Input(shape=(), dtype="int32", name="platform")
    workload = keras.Input(shape=(), dtype="int32", name="workload")
    interferers = keras.Input(shape=(None,), dtype="int32", name="interferers")
    interaction = _interaction(config, dataset)
    if isinstance(interaction, PitotInteraction):
        interaction.workload_tower.set_features(dataset.workloads.features)
        interaction.platform_tower.set_features(dataset.platforms.features)
    baseline = LinearScaling(
        len(dataset.platforms), len(dataset.workloads), dataset.platforms.features.shape[1],
        dataset.workloads.features.shape[1], name="baseline",
    )
    output = keras.layers.Add(name="log_runtime")(
        [baseline(platform, workload), interaction(platform, workload, interferers)]
    )
    return keras.Model(
        {"platform": platform, "workload": workload, "interferers": interferers},
        output,
        name=f"{config.model.kind}",
    )


def fit_baseline(model: keras.Model, config: Config, dataset: Dataset, split: Split) -> None:
    """Fit the linear-scaling baseline on the train and validation rows of the matrix
    objective (as the reference does); without it, use only the mean log runtime.

    Platforms or workloads with none of those rows (cold start) get the baseline term that a
    ridge regression on their side features predicts.
    """
    mf = dataset.objectives["mf"]
    rows = np.concatenate([split.rows("mf", "train"), split.rows("mf", "val")])
    log_t = mf.log_runtime[rows]
    offset = float(log_t.mean()) if len(rows) else 0.0
    layer = model.get_layer("baseline")
    shape = (len(dataset.platforms), len(dataset.workloads))
    if not (config.model.baseline and len(rows)):
        layer.set_values(np.zeros(shape[0]), np.zeros(shape[1]), offset)
        return
    platform, workload = mf.platform[rows], mf.workload[rows]
    a, b = fit_linear_scaling(log_t - offset, platform, workload, shape)
    coefs = []
    for scale, index, axis in ((a, platform, dataset.platforms), (b, workload, dataset.workloads)):
        observed = np.bincount(index, minlength=len(axis)) > 0
        coef = fit_from_features(scale, axis.features, observed)
        scale[~observed] = predict_from_features(coef, axis.features[~observed])
        coefs.append(coef)
    layer.set_values(a, b, offset, *coefs)
