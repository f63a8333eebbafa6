"""The paper's comparison models: a monolithic MLP and an attention network.

Both read the same side features as Pitot but have no factorized structure; the plain
matrix factorization baseline is Pitot with free embeddings (preset ``baseline/factorization``).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops


def _mlp(widths: list[int], out: int, activation: str, name: str) -> keras.Sequential:
    layers: list[keras.layers.Layer] = [
        keras.layers.Dense(w, activation=activation) for w in widths
    ]
    return keras.Sequential([*layers, keras.layers.Dense(out)], name=name)


@keras.saving.register_keras_serializable(package="pitot_tf")
class SideFeatures(keras.layers.Layer):
    """Base for models that look up raw side features: stores both feature tables."""

    def __init__(
        self,
        platforms: int,
        workloads: int,
        platform_features: int,
        workload_features: int,
        heads: int = 1,
        activation: str = "gelu",
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.settings: dict[str, object] = dict(
            platforms=platforms,
            workloads=workloads,
            platform_features=platform_features,
            workload_features=workload_features,
            heads=heads,
            activation=activation,
        )
        self.platform_features = self.add_weight(
            shape=(platforms, platform_features),
            initializer="zeros",
            trainable=False,
            name="platform_features",
        )
        self.workload_features = self.add_weight(
            shape=(workloads, workload_features),
            initializer="zeros",
            trainable=False,
            name="workload_features",
        )

    def build(self, *shapes: object, **named_shapes: object) -> None:
        """All weights exist from ``__init__``; sub-networks build on their first call."""
        self.built = True

    def set_features(self, platform: np.ndarray, workload: np.ndarray) -> None:
        self.platform_features.assign(platform.astype("float32"))
        self.workload_features.assign(workload.astype("float32"))

    def lookup(self, platform: object, workload: object, interferers: object) -> tuple[object, ...]:
        """Features of the platform ``(B, Fp)``, workload ``(B, Fw)``, co-runners ``(B, J, Fw)``
        and a ``(B, J)`` mask of which co-runner slots are filled."""
        present = ops.cast(ops.greater_equal(interferers, 0), "float32")
        return (
            ops.take(self.platform_features, platform, axis=0),
            ops.take(self.workload_features, workload, axis=0),
            ops.take(self.workload_features, ops.maximum(interferers, 0), axis=0),
            present,
        )

    def get_config(self) -> dict[str, object]:
        return {**super().get_config(), **self.settings}


@keras.saving.register_keras_serializable(package="pitot_tf")
class Monolith(SideFeatures):
    """An MLP on ``[platform ‖ workload]`` features, plus a second MLP on
    ``[platform ‖ workload ‖ co-runner]`` for each co-runner, summed in."""

    def __init__(self, *args: object, layers: list[int] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        widths = list(layers or [256, 256])
        self.settings["layers"] = widths
        heads, activation = int(self.settings["heads"]), str(self.settings["activation"])  # type: ignore[call-overload]
        self.alone = _mlp(widths, heads, activation, "alone")
        self.beside = _mlp(widths, heads, activation, "beside")

    def call(self, platform: object, workload: object, interferers: object) -> Any:
        f_p, f_w, f_i, present = self.lookup(platform, workload, interferers)
        prediction = self.alone(ops.concatenate([f_p, f_w], axis=-1))
        slots = ops.shape(f_i)[1]
        pair = ops.concatenate(
            [ops.repeat(ops.expand_dims(ops.concatenate([f_p, f_w], -1), 1), slots, 1), f_i], -1
        )
        slowdown = self.beside(pair) * ops.expand_dims(present, -1)
        return prediction + ops.sum(slowdown, axis=1)


@keras.saving.register_keras_serializable(package="pitot_tf")
class Attention(SideFeatures):
    """Tokens for the platform, the workload and each co-runner (MLP embeddings of their
    features); the workload token attends over all of them; an MLP reads the result."""

    def __init__(
        self,
        *args: object,
        layers: list[int] | None = None,
        attention_dim: int = 8,
        value_dim: int = 8,
        output_layers: list[int] | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        widths, outs = list(layers or [256, 256]), list(output_layers or [32])
        for key, value in dict(
            layers=widths, attention_dim=attention_dim, value_dim=value_dim, output_layers=outs
        ).items():
            self.settings[key] = value
        heads, activation = int(self.settings["heads"]), str(self.settings["activation"])  # type: ignore[call-overload]
        self.embed_platform = _mlp(widths[:-1], widths[-1], activation, "embed_platform")
        self.embed_workload = _mlp(widths[:-1], widths[-1], activation, "embed_workload")
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=1, key_dim=attention_dim, value_dim=value_dim, name="attention"
        )
        self.readout = _mlp(outs, heads, activation, "readout")

    def call(self, platform: object, workload: object, interferers: object) -> Any:
        f_p, f_w, f_i, present = self.lookup(platform, workload, interferers)
        t_p = ops.expand_dims(self.embed_platform(f_p), 1)
        t_workloads = self.embed_workload(ops.concatenate([ops.expand_dims(f_w, 1), f_i], axis=1))
        t_w = t_workloads[:, :1]
        tokens = ops.concatenate([t_p, t_workloads], axis=1)
        always = ops.ones_like(ops.sum(present, axis=1, keepdims=True))  # platform and workload
        mask = ops.concatenate([always, always, present], axis=1)
        mask = ops.expand_dims(ops.cast(mask, "bool"), 1)
        attended = self.attention(t_w, tokens, attention_mask=mask)
        return self.readout(ops.concatenate([attended[:, 0], t_w[:, 0], t_p[:, 0]], axis=-1))
