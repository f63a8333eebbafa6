"""Weight averaging (``training.ema``): validation scores and the run keeps the moving average
of the weights, while training goes on from the raw weights."""

from __future__ import annotations

import numpy as np
import pytest

from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import make_split
from pitot_tf.errors import ConfigError
from pitot_tf.presets import resolve
from pitot_tf.training.trainer import Trainer, TrainResult

FAST = {"training.steps": 40, "training.val_every": 20, "training.batch": 32,
        "training.progress": False, "training.jit_compile": False, "model.layers": [16],
        "model.mf_dim": 8, "training.learning_rate": 1e-2}
MOMENTUM = 0.9


def _fit(dataset: Dataset, ema: float, **more: object) -> tuple[Trainer, TrainResult]:
    trainer = Trainer(resolve("pitot", {**FAST, "training.ema": ema, **more}), dataset,
                      make_split(dataset, 0.5))
    return trainer, trainer.fit()


def test_ema_is_validated() -> None:
    for bad in (-0.1, 1.0):
        with pytest.raises(ConfigError, match=r"training.ema must be in \[0, 1\)"):
            resolve("pitot", {"training.ema": bad})
    assert resolve("pitot", {"training.ema": 0.999}).training.ema == 0.999


def test_ema_keeps_the_average_and_trains_the_raw_weights(synth_dataset: Dataset) -> None:
    _, plain = _fit(synth_dataset, 0.0)
    trainer, averaged = _fit(synth_dataset, MOMENTUM)
    # The same training trajectory (the raw weights come back after each validation) ...
    np.testing.assert_allclose(averaged.history["train_loss"], plain.history["train_loss"],
                               rtol=1e-5)
    # ... but validation scores other (the averaged) weights, and those are what is kept.
    assert not np.allclose(averaged.history["val_loss"], plain.history["val_loss"])
    kept = trainer.weighted(trainer.validation_losses())
    assert kept == pytest.approx(averaged.best_val_loss, rel=1e-5)


def test_the_kept_weights_are_the_optimizers_average(synth_dataset: Dataset) -> None:
    """One validation, at the end: the model ends holding the moving average."""
    trainer, _ = _fit(synth_dataset, MOMENTUM, **{"training.val_every": FAST["training.steps"]})
    average = trainer.optimizer._model_variables_moving_average
    assert average
    for variable, mean in zip(trainer.model.trainable_variables, average, strict=True):
        np.testing.assert_allclose(variable.numpy(), mean.numpy(), rtol=1e-6, atol=1e-7)
