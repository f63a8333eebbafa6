"""A trained Keras Pitot model turned into numpy tables (:class:`NumpyPitot`), once.

Runs both towers over every row, reads the baseline layers' terms and copies what a new workload
or platform needs (each axis' towers' MLP weights and layout, the baselines' feature predictors)
as plain arrays. This is the Keras side of :mod:`pitot_tf.models.numpy_predictor`: it runs when
a model is logged, so that the served model never needs Keras.
"""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np

from pitot_tf.models.baseline import LinearScaling
from pitot_tf.models.fold_in import AXES
from pitot_tf.models.fold_in_tables import parameters, prior_from_rows
from pitot_tf.models.interference import NUMPY_OPS
from pitot_tf.models.numpy_mlp import DenseStack, activation_supported
from pitot_tf.models.numpy_new_rows import FeatureBaseline, NewPlatforms, NewTower, NewWorkloads
from pitot_tf.models.numpy_predictor import NumpyPitot, side_by_side
from pitot_tf.models.parts import MissingPart, model_parts
from pitot_tf.models.pitot import PitotInteraction
from pitot_tf.models.towers import Tower


def numpy_pitot(model: keras.Model) -> NumpyPitot | None:
    """Tables of a model built by :func:`pitot_tf.models.build_model` with Pitot as its
    interaction; None for any other model, or a tower activation numpy does not evaluate
    (:data:`~pitot_tf.models.numpy_mlp.ACTIVATIONS`): the caller then asks the Keras model."""
    try:
        parts = model_parts(model)
    except MissingPart:
        return None
    layers = parts.interactions
    if not all(isinstance(layer, PitotInteraction) for layer in layers):
        return None
    towers = [new_tower(layer) for layer in layers]
    platform_towers = [new_tower(layer, "platform") for layer in layers]
    if any(tower is None for tower in [*towers, *platform_towers]):
        return None
    base = parts.baselines
    pitot = NumpyPitot(
        tables=side_by_side([layer.tables().map(to_numpy) for layer in layers]),
        equation=layers[0].equation,
        platform_scale=np.stack([to_numpy(b.platform_scale) for b in base]),
        workload_scale=np.stack([to_numpy(b.workload_scale) for b in base]),
        offset=np.stack([to_numpy(b.offset) for b in base]),
        new_workloads=NewWorkloads(tuple(t for t in towers if t is not None),
                                   tuple(feature_baseline(b) for b in base),
                                   int(base[0].feature_dims[1])),
        new_platforms=NewPlatforms(tuple(t for t in platform_towers if t is not None),
                                   tuple(feature_baseline(b, "platform") for b in base),
                                   int(base[0].feature_dims[0])),
    )
    return replace(pitot, fold_in_priors={
        axis: prior_from_rows(parameters(pitot, axis), zero_shot_rows(layers, base, axis))
        for axis in AXES})


def zero_shot_rows(layers: tuple[PitotInteraction, ...], baselines: tuple[LinearScaling, ...],
                   axis: str) -> np.ndarray | None:
    """:func:`~pitot_tf.models.fold_in_tables.parameters` of the model's own rows of ``axis``
    from their side features alone (None when a tower has no features)."""
    towers = [layer.workload_tower if axis == "workload" else layer.platform_tower
              for layer in layers]
    if any(tower.kind != "hybrid" for tower in towers):
        return None
    features = np.asarray(towers[0].features.numpy(), dtype=np.float32)
    embeddings, biases = [], []
    for layer, tower in zip(layers, towers, strict=True):
        out = tower.embed_new(features)
        if axis == "workload":
            x_w, bias = layer.tower_layout.workload(out, NUMPY_OPS)
            embeddings.append(np.asarray(x_w)[:, :, 0])
        else:
            x_p, _, _, bias = layer.tower_layout.platform(out, NUMPY_OPS)
            embeddings.append(np.asarray(x_p))
        biases.append(None if bias is None else np.asarray(bias)[:, :, 0])
    scale = np.stack([b.feature_term(axis, features) for b in baselines], axis=1)
    if biases[0] is not None:
        scale = scale + np.concatenate([b for b in biases if b is not None], axis=1)
    return np.concatenate([scale[:, :, None], np.concatenate(embeddings, axis=1)],
                          axis=2).astype(np.float64)


def new_tower(layer: PitotInteraction, axis: str = "workload") -> NewTower | None:
    """The layer's tower of ``axis`` as :meth:`Tower.embed_new` uses it; None if its
    activation has no numpy version."""
    tower: Tower = layer.workload_tower if axis == "workload" else layer.platform_tower
    neutral = tower.neutral_free()
    neutral = None if neutral is None else np.asarray(neutral, np.float32)
    if tower.kind != "hybrid":
        return NewTower(layer.tower_layout, None, neutral)
    if not activation_supported(tower.activation):
        return None
    dense = [*tower.hidden, tower.head]
    mlp = DenseStack(tuple(to_numpy(d.kernel) for d in dense),
                     tuple(to_numpy(d.bias) for d in dense),
                     (*([tower.activation] * len(tower.hidden)), "linear"))
    mean, scale = ((to_numpy(tower.feature_mean), to_numpy(tower.feature_scale))
                   if tower.standardize else (None, None))
    return NewTower(layer.tower_layout, mlp, neutral, mean, scale)


def feature_baseline(layer: LinearScaling, axis: str = "workload") -> FeatureBaseline:
    """The term of ``axis`` a baseline layer gives a new row (``feature_term``)."""
    trees, platform = None, axis == "platform"
    if layer.tree_nodes and float(layer.use_trees.numpy()[0 if platform else 1]) > 0.5:
        trees = to_numpy(layer.platform_trees if platform else layer.workload_trees)
    regression = layer.platform_regression if platform else layer.workload_regression
    return FeatureBaseline(to_numpy(regression), trees)


def to_numpy(value: object) -> np.ndarray:
    """A Keras weight or tensor as a float32 numpy array."""
    return np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float32)
