"""Snapshot ensembles (Huang et al. 2017, "Snapshot Ensembles: Train 1, get M for free").

``training.snapshots=M`` trains one model for ``training.steps`` steps with a cosine learning
rate restarted ``M`` times (:class:`CosineRestarts`): each cycle of ``L = steps / M`` steps
starts at ``training.learning_rate`` and falls to almost 0 at its last step, so each cycle
ends in a minimum of its own, and the next restart kicks the weights out of it.

With ``M = 1`` that is one cosine decay over the whole run (cosine annealing), a single model
(or ensemble, ``training.ensemble``) that keeps its best validation weights as usual.

With ``M >= 2``, one snapshot per cycle becomes a member: the trainer validates at the end
of every cycle (as well as every ``val_every`` steps), and a cycle's snapshot is its weights
with the best validation loss. That is the trainer's usual best-weights-by-validation
selection, made per cycle rather than over the run; with the learning rate near 0 at the
cycle's end, it is nearly always the end of the cycle (Huang et al.'s snapshot), and a cycle
that overfits towards its end gives its better earlier weights instead.

The members are the *last* ``k`` snapshots: ``training.snapshot_members=k``, or, with its
default 0, the ``k`` whose mean has the lowest validation loss (:func:`last_best`; the
selection by validation carried one step further, from weights to members). Early
snapshots can be much worse than late ones when a cycle is too short for the model to
converge: on the real data at 20,000 steps and ``M = 5`` the first snapshot's test MAPE is
8.2% against 5.2% for the last, and the mean of all five is worse than the last alone
(docs/benchmarks.md, "Ensembles").

The members are loaded into an ``E = k`` ensemble model (:func:`snapshot_ensemble`,
:mod:`pitot_tf.models.ensemble`; a single model when ``k = 1``): its output is the mean of the
snapshots' log runtimes, so conformal calibration, the Keras file, the pyfunc model,
``predict`` and serving treat it as any ensemble. The run's reported best validation loss is
that of the mean, its best step the last snapshot's.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import keras
import numpy as np
from keras import ops

from pitot_tf.config import Config
from pitot_tf.data.dataset import Dataset
from pitot_tf.models import build_model
from pitot_tf.models.parts import model_parts


@keras.saving.register_keras_serializable(package="pitot_tf")
class CosineRestarts(keras.optimizers.schedules.LearningRateSchedule):
    """``rate / 2 · (1 + cos(π · (step mod cycle) / cycle))``: ``rate`` at the first step of
    every cycle (steps ``0, cycle, 2·cycle, …``), its smallest value at each cycle's last step
    (``cycle - 1, 2·cycle - 1, …``), where a snapshot is taken."""

    def __init__(self, rate: float, cycle: int) -> None:
        self.rate, self.cycle = rate, cycle

    def __call__(self, step: Any) -> Any:
        position = ops.mod(ops.cast(step, "float32"), float(self.cycle)) / float(self.cycle)
        return self.rate * 0.5 * (1.0 + ops.cos(math.pi * position))

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate, "cycle": self.cycle}


def cycle_length(config: Config) -> int:
    """Steps per cycle of a snapshot ensemble (validation makes them equal)."""
    return config.training.steps // config.training.snapshots


def cycle_ends(config: Config) -> list[int]:
    """The step counts after which snapshots' cycles end: ``L, 2L, …, steps``."""
    length = cycle_length(config)
    return [length * (k + 1) for k in range(config.training.snapshots)]


def last_best(losses: list[float]) -> int:
    """The ``k`` (1-based) with the lowest of ``losses`` (the validation loss of the mean of
    the last ``k`` snapshots, ``k = 1 …``); the smallest such ``k`` on ties."""
    return int(np.argmin(losses)) + 1


def snapshot_ensemble(model: keras.Model, snapshots: list[list[np.ndarray]], config: Config,
                      dataset: Dataset) -> keras.Model:
    """An ensemble model (one member per snapshot, in order) whose members' baseline and
    interaction hold the weights of ``snapshots`` (``model.get_weights()`` lists of the single
    model ``model``). ``model`` ends with the last snapshot's weights."""
    ensemble = build_model(
        dataclasses.replace(config, training=dataclasses.replace(
            config.training, ensemble=len(snapshots), snapshots=0)), dataset)
    single = model_parts(model).single()
    for member, weights in zip(model_parts(ensemble).members, snapshots, strict=True):
        model.set_weights(weights)
        for source, target in ((single.baseline, member.baseline),
                               (single.interaction, member.interaction)):
            target.set_weights(source.get_weights())
    return ensemble
