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
    """With the default XLA-compiled gradient step."""
    split = make_split(synth_dataset, 0.5)
    config = resolve("pitot", {**fast_overrides, "training.jit_compile": True})
    runs = [train(config, synth_dataset, split) for _ in range(2)]
    a, b = (predict_objective(r.model, synth_dataset, "mf")[1] for r in runs)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_xla_trains_the_same_model(
    synth_dataset: Dataset, fast_overrides: dict[str, object]
) -> None:
    """``training.jit_compile`` changes speed, not results: the XLA-compiled and the plain
    gradient step train the same model (measured: log predictions agree to 2e-6), so tests
    that train tiny models without XLA (``fast_overrides``) check the default maths."""
    split = make_split(synth_dataset, 0.5)
    runs = [train(resolve("pitot", {**fast_overrides, "training.jit_compile": jit}),
                  synth_dataset, split) for jit in (True, False)]
    for objective in ("mf", "if2"):
        a, b = (predict_objective(r.model, synth_dataset, objective)[1] for r in runs)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(runs[0].history["val_loss"], runs[1].history["val_loss"],
                               rtol=1e-4)


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
    config = resolve("components/nobaseline", {**fast_overrides, "model.loss": "percent",
                                               "training.learning_rate": 1e6})
    with pytest.raises(TrainingDiverged, match="loss became"):
        train(config, synth_dataset, make_split(synth_dataset, 0.5))


#: Presets that differ from ``pitot`` only by a size or a weight (``learned/0`` drops a
#: layer and ``interference/1`` has a size-one axis, so they stay): the same graph at other
#: sizes, which XLA compiling (a few CPU seconds each) tells nothing that ``pitot`` does not,
#: so they train without it; every other preset trains as shipped, XLA-compiled.
SAME_GRAPH_AS_PITOT = {
    *(f"embedding/{dim}" for dim in (4, 8, 16, 64, 128)),
    *(f"learned/{n}" for n in (1, 2, 8, 16)),
    *(f"interference/{k}" for k in (4, 8, 16)),
    *(f"weight/{w}" for w in (0.1, 0.2, 1.0, 2.0)),
}


def test_same_graph_presets_differ_from_pitot_only_by_numbers() -> None:
    sizes = {"model.mf_dim", "model.learned_features", "model.if_dim"}
    pitot = resolve("pitot").flat()
    for preset in SAME_GRAPH_AS_PITOT:
        changed = {k: v for k, v in resolve(preset).flat().items() if pitot[k] != v}
        assert set(changed) <= {*sizes, "objectives.interference_weight"}, (preset, changed)
        assert all(changed[k] > 1 for k in sizes & set(changed)), (preset, changed)


@pytest.mark.parametrize("preset", sorted(BUILTIN_PRESETS))
def test_every_preset_trains(synth_dataset: Dataset, preset: str) -> None:
    overrides = {
        "training.steps": 4,
        "training.val_every": 2,
        "training.batch": 16,
        "training.progress": False,
        **({"training.jit_compile": False} if preset in SAME_GRAPH_AS_PITOT else {}),
    }
    result = train(resolve(preset, overrides), synth_dataset, make_split(synth_dataset, 0.5))
    assert len(result.history) == 2 and np.isfinite(result.best_val_loss)


def _initial_weights(config, dataset, split):  # type: ignore[no-untyped-def]
    from pitot_tf.training import Trainer

    return [np.array(v.numpy()) for v in Trainer(config, dataset, split).model.trainable_variables]


def test_replicates_start_differently_and_reproducibly(
    synth_dataset: Dataset, fast_overrides: dict[str, object]
) -> None:
    import dataclasses

    from pitot_tf.training.trainer import training_seed

    config = resolve("pitot", fast_overrides)
    split = make_split(synth_dataset, 0.5)
    other = dataclasses.replace(split, replicate=1)
    first, again, second = (_initial_weights(config, synth_dataset, s)
                            for s in (split, split, other))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    seeds = {training_seed(42, level, r) for level in (0.1, 0.5) for r in range(5)}
    assert len(seeds) == 10 and all(0 <= s < 2**24 for s in seeds)
    assert training_seed(42, 0.5, 0) != training_seed(43, 0.5, 0)


def test_a_replicate_trains_bit_reproducibly(
    synth_dataset: Dataset, fast_overrides: dict[str, object]
) -> None:
    split = make_split(synth_dataset, 0.5, replicate=3)
    runs = [train(resolve("pitot", fast_overrides), synth_dataset, split) for _ in range(2)]
    for a, b in zip(runs[0].model.get_weights(), runs[1].model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("trainable", [False, True])
def test_baseline_trains_only_when_trainable(
    synth_dataset: Dataset, fast_overrides: dict[str, object], trainable: bool
) -> None:
    from pitot_tf.training import Trainer

    config = resolve("pitot", {**fast_overrides, "model.baseline_trainable": trainable})
    trainer = Trainer(config, synth_dataset, make_split(synth_dataset, 0.5))
    before = np.array(trainer.model.get_layer("baseline").platform_scale.numpy())
    trainer.fit()
    after = trainer.model.get_layer("baseline").platform_scale.numpy()
    assert (not np.allclose(before, after)) is trainable


def test_an_empty_validation_split_is_an_error(
    synth_dataset: Dataset, fast_overrides: dict[str, object]
) -> None:
    import dataclasses

    from pitot_tf.errors import PitotError

    split = make_split(synth_dataset, 0.5)
    parts = {name: dict(p) for name, p in split.parts.items()}
    parts["if2"]["val"] = parts["if2"]["val"][:0]
    with pytest.raises(PitotError, match="validation split .* objective\\(s\\) if2 is empty"):
        train(resolve("pitot", fast_overrides), synth_dataset,
              dataclasses.replace(split, parts=parts))
