"""Build any model kind from a config as a Keras functional model.

Every model has the same inputs (``platform`` and ``workload`` indices, and ``interferers``:
co-runner workload indices padded with ``-1``) and one output, ``log_runtime``
``(batch, heads)``: the linear-scaling baseline plus the network's interaction term, whose
layer the kind's builder in :mod:`pitot_tf.models.registry` makes (one member's parts are
in :mod:`pitot_tf.models.member`). With ``training.ensemble=E > 1`` the output is the mean of
E members' outputs (:mod:`pitot_tf.models.ensemble`).
"""

from __future__ import annotations

import keras
import numpy as np

from pitot_tf.config import Config
from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import Split
from pitot_tf.models.baseline import fit_linear_scaling
from pitot_tf.models.cold_baseline import fit_feature_terms
from pitot_tf.models.ensemble import build_ensemble
from pitot_tf.models.member import baseline_layer, interaction_for, member_output, model_inputs
from pitot_tf.models.parts import model_parts


def build_model(config: Config, dataset: Dataset) -> keras.Model:
    """A fresh (untrained, baseline not yet fitted) model for ``dataset``'s axes; an
    ensemble of ``training.ensemble`` members when that is above 1."""
    if config.training.ensemble > 1:
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
