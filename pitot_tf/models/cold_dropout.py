"""Cold dropout: train the towers to predict platforms and workloads from features alone.

An entity that was never measured has side features but no learned free features, and its
linear-scaling term can only come from what its features predict (a ridge regression or a
forest, :mod:`pitot_tf.models.cold_baseline`). A model trained only on measured entities never
saw that input and extrapolates badly. DropoutNet (Volkovs et al., NeurIPS 2017) trains for it:
at every step a random ``rate`` of the platforms and (independently) of the workloads are
treated as cold, whatever row they appear in (as workload or co-runner): their free features
are replaced by zeros (the value a cold entity gets) and their baseline term by the
feature-predicted one. The networks thus learn both the warm and the cold case, and a cold
entity at prediction time gets exactly what it was trained on.

:class:`ColdDropout` draws the two per-entity 0/1 masks once per forward pass, so the towers
and the baseline see the same entities as cold; outside training both masks are zero and the
model computes exactly what it would without the layer. The draws come from the layer's seeded
generator: a run is reproducible.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="pitot_tf")
class ColdDropout(keras.layers.Layer):
    """``(platform indices) → (platform mask (P,), workload mask (W,))``, float 0/1, each
    entry 1 with probability ``rate`` in training, all 0 otherwise."""

    def __init__(self, platforms: int, workloads: int, rate: float, seed: int = 0,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.platforms, self.workloads, self.rate, self.seed = platforms, workloads, rate, seed
        self.generator = keras.random.SeedGenerator(seed)

    def build(self, *shapes: object) -> None:
        self.built = True

    def call(self, platform: Any, training: bool | None = None) -> tuple[Any, Any]:
        if not training:
            return (ops.zeros((self.platforms,), "float32"),
                    ops.zeros((self.workloads,), "float32"))
        draws = keras.random.uniform((self.platforms + self.workloads,), seed=self.generator)
        mask = ops.cast(ops.less(draws, self.rate), "float32")
        return mask[: self.platforms], mask[self.platforms :]

    def compute_output_spec(self, platform: Any, training: bool | None = None) -> Any:
        return (keras.KerasTensor((self.platforms,), "float32"),
                keras.KerasTensor((self.workloads,), "float32"))

    def get_config(self) -> dict[str, object]:
        return {**super().get_config(), "platforms": self.platforms,
                "workloads": self.workloads, "rate": self.rate, "seed": self.seed}
