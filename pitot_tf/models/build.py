"""Build any model kind from a config as a Keras functional model.

Every model has the same inputs (``platform`` and ``workload`` indices, and ``interferers``:
co-runner workload indices padded with ``-1``) and one output, ``log_runtime``
``(batch, heads)``: the linear-scaling baseline plus the network's interaction term, whose
layer the kind's builder in :mod:`pitot_tf.models.registry` makes.
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
from pitot_tf.models.registry import KINDS

INPUTS = ("platform", "workload", "interferers")


def heads(config: Config) -> int:
    """One output per quantile, or a single point prediction."""
    return max(1, len(config.model.quantiles))


def build_model(config: Config, dataset: Dataset) -> keras.Model:
    """A fresh (untrained, baseline not yet fitted) model for ``dataset``'s axes."""
    keras.utils.set_random_seed(config.seed)
    platform = keras.Input(shape=(), dtype="int32", name="platform")
    workload = keras.Input(shape=(), dtype="int32", name="workload")
    interferers = keras.Input(shape=(None,), dtype="int32", name="interferers")
    interaction = KINDS[config.model.kind](config, dataset, heads(config))
    interaction.set_features(dataset.platforms.features, dataset.workloads.features)
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
