"""The trainer: learns synthetic structure, keeps the best weights, is deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from pitot_tf.data.dataset import Dataset, load_dataset
from pitot_tf.data.splits import make_split
from pitot_tf.presets import BUILTIN_PRESETS, resolve
from pitot_tf.training import TrainingDiverged, train
from pitot_tf.training.predict import predict_objective


def _mape(log_true: np.ndarray, log_pred: np.ndarray) -> float:
    return float(np.mean(np.abs(np.exp(log_true - log_pred[:, 0]) - 1)))


def test_reaches_noise_floor(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pitot_tf.data.synth import synthesize_dataset

    dataset = load_dataset(
        synthesize_dataset(tmp_path, platforms=60, workloads=80, noise=0.05, seed=3)
    )
    split = make_split(dataset, 0.8)
    config = resolve(
        "pitot",
        {
            "training.steps": 3000,
            "training.val_every": 500,
            "training.batch": 256,
            "training.progress": False,
            "training.learning_rate": 3e-3,
        },
    )
    result = train(config, dataset, split)
    floor = 0.05 * np.sqrt(2 / np.pi)  # mean |exp(e) - 1| ~ E|e| for e ~ N(0, 0.05^2)
    for objective in ("mf", "if2"):
        log_true, log_pred = predict_objective(
            result.model, dataset, objective, split.rows(objective, "test")
        )
        assert _mape(log_true, log_pred) < 2.5 * floor, objective


def test_best_weights_and_history(
    synth_dataset: Dataset, fast_overrides: dict[str, object]
) -> None:
    split = make_split(synth_dataset, 0.5)
    result = train(resolve("pitot", fast_overrides), synth_dataset, split)
    history = result.history
    assert list(history["step"]) == [20, 40, 60]
    assert {"train_loss", "val_loss", "val_mf_loss", "val_if2_loss"} <= set(history.columns)
    assert result.best_val_loss == pytest.approx(history["val_loss"].min())
    assert result.best_step == int(history.loc[history["val_loss"].idxmin(), "step"])


def test_deterministic(synth_dataset: Dataset, fast_overrides: dict[str, object]) -> None:
    split = make_split(synth_dataset, 0.5)
    runs = [train(resolve("pitot", fast_overrides), synth_dataset, split) for _ in range(2)]
    a, b = (predict_objective(r.model, synth_dataset, "mf")[1] for r in runs)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_validation_callback_can_stop(
    synth_dataset: Dataset, fast_overrides: dict[str, object]
) -> None:
    seen: list[int] = []

    class Stop(Exception):
        pass

    def callback(step: int, loss: float, per_objective: dict[str, float]) -> None:
        seen.append(step)
        assert set(per_objective) == {"mf", "if2"} and np.isfinite(loss)
        if step >= 40:
            raise Stop

    with pytest.raises(Stop):
        train(
            resolve("pitot", fast_overrides),
            synth_dataset,
            make_split(synth_dataset, 0.5),
            callback,
        )
    assert seen == [20, 40]


def test_divergence_is_reported(synth_dataset: Dataset, fast_overrides: dict[str, object]) -> None:
    config = resolve("components/naiveloss", {**fast_overrides, "training.learning_rate": 1e6})
    with pytest.raises(TrainingDiverged, match="loss became"):
        train(config, synth_dataset, make_split(synth_dataset, 0.5))


@pytest.mark.parametrize("preset", sorted(BUILTIN_PRESETS))
def test_every_preset_trains(synth_dataset: Dataset, preset: str) -> None:
    overrides = {
        "training.steps": 4,
        "training.val_every": 2,
        "training.batch": 16,
        "training.progress": False,
    }
    result = train(resolve(preset, overrides), synth_dataset, make_split(synth_dataset, 0.5))
    assert len(result.history) == 2 and np.isfinite(result.best_val_loss)
