"""The learning rate over a run: constant, warm-up / stable / decay, or cosine restarts.

By default the rate is ``training.learning_rate`` at every step. ``training.warmup=W`` ramps
it up linearly over the first ``W`` steps (``rate · (s + 1) / W`` at step ``s``) and
``training.decay_steps=D`` brings it down linearly to almost 0 over the last ``D`` steps
(``rate · (steps - s) / D``): a warm-up, stable, decay schedule
(:class:`WarmupStableDecay`). A warm-up lets a run use a higher rate than it could start
with: the first steps from the least-squares baseline move the towers' small initial weights
in large, badly scaled steps otherwise. A short decay at the end settles the weights after
steps at a high rate. ``pitot/fast`` uses both (docs/benchmarks.md, "Time to accuracy").

``training.snapshots`` has its own cosine schedule (:mod:`pitot_tf.training.snapshots`), which
config validation keeps apart from this one.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from pitot_tf.config import Config
from pitot_tf.training.snapshots import CosineRestarts, cycle_length


@keras.saving.register_keras_serializable(package="pitot_tf")
class WarmupStableDecay(keras.optimizers.schedules.LearningRateSchedule):
    """``rate · min(1, (s + 1) / warmup, (steps - s) / decay_steps)`` at step ``s`` (0-based;
    a term whose length is 0 is left out): linear up, flat, linear down to ``rate /
    decay_steps`` at the last step."""

    def __init__(self, rate: float, steps: int, warmup: int = 0, decay_steps: int = 0) -> None:
        self.rate, self.steps = rate, steps
        self.warmup, self.decay_steps = warmup, decay_steps

    def __call__(self, step: Any) -> Any:
        step = ops.cast(step, "float32")
        factor = ops.convert_to_tensor(1.0, "float32")
        if self.warmup:
            factor = ops.minimum(factor, (step + 1.0) / float(self.warmup))
        if self.decay_steps:
            factor = ops.minimum(factor, (float(self.steps) - step) / float(self.decay_steps))
        return self.rate * ops.maximum(factor, 0.0)

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate, "steps": self.steps, "warmup": self.warmup,
                "decay_steps": self.decay_steps}


def learning_rate(config: Config) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The optimizer's learning rate for ``config``: a constant unless a warm-up, a decay or
    snapshots ask for a schedule."""
    t = config.training
    if t.snapshots:
        return CosineRestarts(t.learning_rate, cycle_length(config))
    if t.warmup or t.decay_steps:
        return WarmupStableDecay(t.learning_rate, t.steps, t.warmup, t.decay_steps)
    return t.learning_rate
