"""Towers: turn every row of one axis (all platforms, or all workloads) into an embedding.

A *hybrid* tower feeds ``[side features ‖ n learned free features]`` through an MLP, so rows
with similar features get similar embeddings and the free features absorb what the features
miss. An *embedding* tower is a free table (no side information; matrix factorization).
:meth:`Tower.embed` embeds the whole axis at once and callers gather by index;
:meth:`Tower.embed_rows` embeds only the rows a batch names (the same numbers, row for row),
which is cheaper once the axis has more rows than the batch.

With ``cold_neutral="zero"`` (a model trained with ``model.cold_dropout``) :meth:`Tower.embed`
takes a per-row mask of "cold" rows whose free part it replaces by zeros: what a row that
training never saw gets (:mod:`pitot_tf.models.cold_dropout`).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from pitot_tf.models.rows import RowWeight


@keras.saving.register_keras_serializable(package="pitot_tf")
class Tower(keras.layers.Layer):
    """Embeds all ``rows`` of an axis into ``out_dim`` numbers each (see :meth:`embed`)."""

    def __init__(
        self,
        rows: int,
        feature_dim: int,
        out_dim: int,
        kind: str = "hybrid",
        learned_features: int = 1,
        layers: tuple[int, ...] | list[int] = (128, 128),
        activation: str = "gelu",
        cold_neutral: str = "mean",
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.rows, self.feature_dim, self.out_dim = rows, feature_dim, out_dim
        self.cold_neutral = cold_neutral
        self.kind, self.learned_features = kind, learned_features
        self.layer_sizes, self.activation = list(layers), activation
        if kind == "hybrid":
            self.features = self.add_weight(
                shape=(rows, feature_dim), initializer="zeros", trainable=False, name="features"
            )
            self.standardize = cold_neutral == "zero"
            if self.standardize:
                self.feature_mean = self.add_weight(
                    shape=(feature_dim,), initializer="zeros", trainable=False,
                    name="feature_mean")
                self.feature_scale = self.add_weight(
                    shape=(feature_dim,), initializer="ones", trainable=False,
                    name="feature_scale")
            self.learned = (
                self.add_weight(
                    shape=(rows, learned_features),
                    initializer=keras.initializers.RandomNormal(0.0, 0.1),
                    name="learned",
                )
                if learned_features
                else None
            )
            self.hidden = [keras.layers.Dense(w, activation=activation) for w in self.layer_sizes]
            # A small last layer starts the interaction near 0, so training starts from the
            # baseline instead of from large random dot products of unnormalized features.
            self.head = keras.layers.Dense(
                out_dim, kernel_initializer=keras.initializers.RandomNormal(0.0, 0.01)
            )
            width = feature_dim + learned_features
            for dense in self.hidden:
                dense.build((None, width))
                width = dense.units
            self.head.build((None, width))
        else:
            self.table = self.add_weight(
                shape=(rows, out_dim),
                initializer=keras.initializers.RandomNormal(0.0, 0.1),
                name="table",
            )

    def set_features(self, features: np.ndarray) -> None:
        """Store the axis' side features (a no-op for an embedding tower)."""
        if self.kind == "hybrid":
            if features.shape != (self.rows, self.feature_dim):
                raise ValueError(f"features {features.shape} != {(self.rows, self.feature_dim)}")
            self.features.assign(features.astype("float32"))
            if self.standardize:
                scale = features.std(axis=0)
                self.feature_mean.assign(features.mean(axis=0).astype("float32"))
                self.feature_scale.assign(np.where(scale > 0, scale, 1.0).astype("float32"))

    def row_weights(self, axis: str) -> list[RowWeight]:
        """This tower's per-row weights, for the ``axis`` (platform or workload) it embeds:
        side features and learned features of a hybrid tower, or an embedding table."""
        neutral = self.cold_neutral
        if self.kind != "hybrid":
            return [RowWeight(self.table, axis, "free", neutral)]
        learned = ([] if self.learned is None
                   else [RowWeight(self.learned, axis, "free", neutral)])
        return [RowWeight(self.features, axis, "features"), *learned]

    def neutral_free(self) -> np.ndarray | None:
        """The free part (one row) that a row never trained gets
        (:meth:`~pitot_tf.models.rows.RowWeight.neutral_row`); None without free weights."""
        free = [row for row in self.row_weights("workload") if row.role == "free"]
        return free[0].neutral_row(np.asarray(free[0].weight.numpy())) if free else None

    def embed_new(self, features: np.ndarray) -> np.ndarray:
        """``(n, out_dim)`` float32 embedding of ``n`` rows known only by their ``features``
        (cold start), as :func:`pitot_tf.models.cold.extend_model` gives them: their free part
        at its neutral value (:meth:`neutral_free`)."""
        neutral = self.neutral_free()
        if self.kind != "hybrid" and neutral is not None:
            return np.repeat(neutral[None], len(features), axis=0).astype(np.float32)
        x = np.asarray(features, dtype=np.float32)
        if self.standardize:
            x = (x - self.feature_mean.numpy()) / self.feature_scale.numpy()
        if neutral is not None:
            x = np.concatenate([x, np.repeat(neutral[None], len(features), axis=0)], axis=1)
        for dense in [*self.hidden, self.head]:
            x = dense(x)
        return np.asarray(ops.convert_to_numpy(x), dtype=np.float32)

    def inputs(self, cold: Any = None, index: Any = None) -> Any:
        """The MLP's input for every row (or the rows at ``index``, ``(n,)``): side features
        and learned features side by side (zeros for the learned features of ``cold`` rows, a
        ``(rows,)`` 0/1 mask over the whole axis)."""
        features = self.features if index is None else ops.take(self.features, index, axis=0)
        if self.standardize:
            features = (features - self.feature_mean) / self.feature_scale
        if self.learned is None:
            return features
        return ops.concatenate([features, _zero_rows(_rows(self.learned, index),
                                                     _rows(cold, index))], axis=-1)

    def embed(self, cold: Any = None) -> Any:
        """``(rows, out_dim)``: the embedding of every row of the axis; ``cold`` (optional
        ``(rows,)`` 0/1 mask) rows embed with their free part at zero."""
        return self.embed_rows(None, cold)

    def embed_rows(self, index: Any, cold: Any = None) -> Any:
        """``(n, out_dim)``: the embedding of the rows at ``index`` (``(n,)``, repeats
        allowed; None: every row, as :meth:`embed`), each as :meth:`embed` gives it; ``cold``
        is :meth:`embed`'s mask over the whole axis."""
        if self.kind != "hybrid":
            return _zero_rows(_rows(self.table, index), _rows(cold, index))
        x = self.inputs(cold, index)
        for dense in self.hidden:
            x = dense(x)
        return self.head(x)

    def get_config(self) -> dict[str, object]:
        return {
            **super().get_config(),
            "rows": self.rows,
            "feature_dim": self.feature_dim,
            "out_dim": self.out_dim,
            "kind": self.kind,
            "learned_features": self.learned_features,
            "layers": self.layer_sizes,
            "activation": self.activation,
            "cold_neutral": self.cold_neutral,
        }


def _zero_rows(values: Any, cold: Any) -> Any:
    """``values`` ``(rows, n)`` with the rows where ``cold`` (``(rows,)`` 0/1) is 1 zeroed."""
    if cold is None:
        return values
    return values * ops.expand_dims(1.0 - ops.cast(cold, values.dtype), -1)


def _rows(values: Any, index: Any) -> Any:
    """``values`` at rows ``index`` (all of it for None; None stays None)."""
    if values is None or index is None:
        return values
    return ops.take(values, index, axis=0)
