"""The trainer: keeps the best weights, is deterministic, and every preset builds and each
distinct graph trains. That training converges is measured by ``benchmarks/convergence.py``."""

from __future__ import annotations

import numpy as np
import pytest
from model_support import resolve_small

from pitot_tf.config import Config
from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import make_split
from pitot_tf.presets import BUILTIN_PRESETS, resolve
from pitot_tf.training import TrainingDiverged, train
from pitot_tf.training.predict import predict_objective


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


#: How a config value bears on the graph a preset trains (:func:`graph_of`). Sizes, rates
#: and run lengths change numbers, not the graph. A count of 0 removes a part (``learned/0``
#: drops a layer, an objective weight of 0 an objective); a value of 1 degenerates one
#: (``interference/1`` a size-one axis, ``components/notrectified`` an ``if_slope`` of 1 a
#: linear term, an ensemble of 1 a single model); a list matters by being empty or not. Any
#: key not named here counts with its exact value, so a new key can add graphs, never hide one.
NUMBERS_ONLY = {
    "model.mf_dim", "model.attention_dim", "model.value_dim", "training.steps",
    "training.val_every", "training.batch", "training.learning_rate", "training.beta_1",
    "training.beta_2", "training.progress", "training.jit_compile", "seed",
}
ZERO_OR_NOT = {
    "model.learned_features", "objectives.interference_weight", "objectives.matrix_weight",
    "model.cold_dropout", "training.weight_decay", "training.snapshots",
    "training.snapshot_members", "training.warmup", "training.decay_steps",
}
ONE_OR_NOT = {"model.if_dim", "model.if_slope", "training.ensemble"}


def graph_of(config: Config) -> tuple[tuple[str, object], ...]:
    """What of ``config`` decides the graph it trains (see :data:`NUMBERS_ONLY`)."""

    def shape(key: str, value: object) -> object:
        if isinstance(value, list):
            return bool(value)
        if key in ZERO_OR_NOT:
            return value != 0
        if key in ONE_OR_NOT:
            return value == 1
        return value

    return tuple(sorted((k, shape(k, v)) for k, v in config.flat().items()
                        if k not in NUMBERS_ONLY))


def one_preset_per_graph() -> list[str]:
    """The first preset (``pitot`` first) of each distinct :func:`graph_of`."""
    graphs: dict[tuple[tuple[str, object], ...], str] = {}
    for preset in sorted(BUILTIN_PRESETS, key=lambda name: (name != "pitot", name)):
        graphs.setdefault(graph_of(resolve(preset)), preset)
    return sorted(graphs.values())


def test_graphs_tell_structure_from_size() -> None:
    pitot = graph_of(resolve("pitot"))
    for same in ("embedding/128", "embedding/4", "interference/16", "learned/16", "weight/2.0"):
        assert graph_of(resolve(same)) == pitot, same
    for other in ("learned/0", "interference/1", "components/notrectified", "components/discard",
                  "components/nobaseline", "conformal/naive", "pitot/ensemble", "pitot/shared",
                  "pitot/cold", "features/blackbox", "baseline/monolith"):
        assert graph_of(resolve(other)) != pitot, other
    assert graph_of(resolve("conformal/naive")) == graph_of(resolve("conformal/optimal"))
    assert graph_of(resolve("pitot", {"training.ensemble": 2})) == graph_of(
        resolve("pitot/ensemble"))


@pytest.mark.parametrize("preset", sorted(BUILTIN_PRESETS))
def test_every_preset_builds(synth_dataset: Dataset, preset: str) -> None:
    """As shipped: the model builds for the data, its baseline fits and one forward pass
    gives a finite prediction per head."""
    from pitot_tf.training import Trainer

    config = resolve(preset, {"training.progress": False})
    split = make_split(synth_dataset, 0.5)
    model = Trainer(config, synth_dataset, split).model
    for objective in ("mf", "if2"):
        rows = split.rows(objective, "test")[:8]
        _, log_pred = predict_objective(model, synth_dataset, objective, rows)
        assert log_pred.shape == (len(rows), max(1, len(config.model.quantiles)))
        assert np.all(np.isfinite(log_pred)), objective


#: Smaller than shipped, the same graph (:func:`graph_of`): a few training steps of each graph.
SMALL = {"model.layers": [16], "model.mf_dim": 8, "model.monolith_layers": [16],
         "model.attention_layers": [16], "model.output_layers": [8]}


@pytest.mark.parametrize("preset", one_preset_per_graph())
def test_each_graph_trains(synth_dataset: Dataset, preset: str) -> None:
    """One preset per distinct graph trains (XLA-compiled, as shipped) to a finite loss."""
    shipped = resolve(preset)
    t = shipped.training
    run = {"training.steps": 4, "training.val_every": 2, "training.batch": 16,
           "training.progress": False, "training.ensemble": min(t.ensemble, 2),
           "training.warmup": min(t.warmup, 1), "training.decay_steps": min(t.decay_steps, 1)}
    config = resolve_small(preset, SMALL, run)
    assert graph_of(config) == graph_of(shipped)
    result = train(config, synth_dataset, make_split(synth_dataset, 0.5))
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
