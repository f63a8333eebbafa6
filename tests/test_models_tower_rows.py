"""``model.tower_rows``: running Pitot's towers on the batch's rows gives what running them on
every entity gives, for both interference forms, quantile heads, cold dropout, ensembles (own
and shared towers) and 2- and 3-way rows; predictions, gradients and a short training run."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf
from model_support import three_way_dataset

from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import make_split
from pitot_tf.errors import ConfigError
from pitot_tf.models import build_model
from pitot_tf.models.blocks import Block, concatenated
from pitot_tf.models.parts import model_parts
from pitot_tf.models.pitot import PitotInteraction
from pitot_tf.presets import resolve
from pitot_tf.training import train
from pitot_tf.training.predict import objective_rows

SMALL = {"training.steps": 20, "training.val_every": 10, "training.batch": 32,
         "training.progress": False, "training.jit_compile": False,
         "model.layers": [16], "model.mf_dim": 4, "model.if_dim": 2}
REFERENCE = {"model.interference_form": "reference"}
SHARED = {"training.ensemble_share": "towers"}
VARIANTS: dict[str, dict[str, Any]] = {
    "paper": {},
    "reference-quantiles": {**REFERENCE, "model.quantiles": [0.5, 0.9]},
    "cold-dropout": {"model.cold_dropout": 0.3},
    "ignore": {"model.interference": "ignore"},
    "embedding": {"model.workload_tower": "embedding", "model.platform_tower": "hybrid"},
    "ensemble-reference": {**REFERENCE, "training.ensemble": 2},
    "shared-reference-quantiles": {**SHARED, **REFERENCE, "training.ensemble": 2,
                                   "model.quantiles": [0.1, 0.5, 0.9]},
}
OBJECTIVES = ("mf", "if2", "if3")


@pytest.fixture(scope="module")
def three_way(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """Synthetic data with matrix, 2-way and 3-way objectives."""
    return three_way_dataset(tmp_path_factory.mktemp("tower-rows"))


def pair(dataset: Dataset, overrides: dict[str, Any]) -> tuple[keras.Model, keras.Model]:
    """The same model with ``tower_rows`` ``all`` and ``batch``, on the same random weights
    (large enough that the interaction and interference terms matter)."""
    models = [build_model(resolve("pitot", {**SMALL, **overrides, "model.tower_rows": rows}),
                          dataset) for rows in ("all", "batch")]
    rng = np.random.default_rng(0)
    weights = [w + rng.normal(0.0, 0.3, w.shape).astype(w.dtype) if w.dtype.kind == "f" else w
               for w in models[0].get_weights()]
    for model in models:
        model.set_weights(weights)
    return models[0], models[1]


def inputs_of(dataset: Dataset, objective: str) -> dict[str, np.ndarray]:
    return objective_rows(dataset, objective).inputs()


def pitot_layers(model: keras.Model) -> tuple[PitotInteraction, ...]:
    return model_parts(model).interactions


@pytest.mark.parametrize("variant", VARIANTS)
def test_same_predictions_both_ways(three_way: Dataset, variant: str) -> None:
    every, batch = pair(three_way, VARIANTS[variant])
    for objective in OBJECTIVES:
        inputs = inputs_of(three_way, objective)
        layer = pitot_layers(batch)[0]
        assert layer.on_batch(inputs["platform"], inputs["interferers"])
        assert not pitot_layers(every)[0].on_batch(inputs["platform"], inputs["interferers"])
        expected = np.asarray(every(inputs, training=False))
        found = np.asarray(batch(inputs, training=False))
        assert found.shape == expected.shape
        np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-5)
    if VARIANTS[variant].get("model.interference") != "ignore":  # the co-runners count
        inputs = inputs_of(three_way, "if3")
        alone = {**inputs, "interferers": np.full_like(inputs["interferers"], -1)}
        moved = np.abs(np.asarray(batch(inputs)) - np.asarray(batch(alone)))
        assert moved.mean() > 1e-3


def test_cold_rows_the_same_both_ways(three_way: Dataset) -> None:
    every, batch = pair(three_way, VARIANTS["cold-dropout"])
    rng = np.random.default_rng(1)
    cold = (rng.random(len(three_way.platforms)) < 0.4).astype("float32"), \
        (rng.random(len(three_way.workloads)) < 0.4).astype("float32")
    inputs = inputs_of(three_way, "if3")
    args = (inputs["platform"], inputs["workload"], inputs["interferers"], *cold)
    expected = np.asarray(pitot_layers(every)[0](*args))
    found = np.asarray(pitot_layers(batch)[0](*args))
    np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-5)
    warm = np.asarray(pitot_layers(batch)[0](*args[:3]))
    assert np.abs(found - warm).mean() > 1e-3  # the masks matter


@pytest.mark.parametrize("variant", ["paper", "reference-quantiles",
                                     "shared-reference-quantiles"])
def test_same_gradients_both_ways(three_way: Dataset, variant: str) -> None:
    models = pair(three_way, VARIANTS[variant])
    inputs = inputs_of(three_way, "if3")
    grads = []
    for model in models:
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(model(inputs, training=True)))
        grads.append([tf.convert_to_tensor(g).numpy()
                      for g in tape.gradient(loss, model.trainable_variables)])
    assert len(grads[0]) == len(grads[1])
    for expected, found in zip(*grads, strict=True):
        scale = max(1.0, float(np.abs(expected).max()))
        np.testing.assert_allclose(found, expected, rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("variant", ["paper", "reference-quantiles", "cold-dropout"])
def test_blocks_equal_one_call(three_way: Dataset, variant: str) -> None:
    """In training each objective is its own block; the batch path embeds only a block's own
    co-runner slots, and gives what one call on the padded batch gives either way."""
    every, batch = (pitot_layers(model)[0] for model in pair(three_way, VARIANTS[variant]))
    blocks = []
    for objective in OBJECTIVES:
        data = three_way.objectives[objective]
        rows = objective_rows(three_way, objective).inputs()
        blocks.append(Block(rows["platform"][:9], rows["workload"][:9],
                            rows["interferers"][:9, : data.degree - 1]))
    args = concatenated(blocks)
    rng = np.random.default_rng(2)
    cold = ((rng.random(len(three_way.platforms)) < 0.4).astype("float32"),
            (rng.random(len(three_way.workloads)) < 0.4).astype("float32"))
    masks = cold if variant == "cold-dropout" else ()
    assert batch.on_batch(*args[::2], blocks)
    expected = np.asarray(every(*args, *masks))
    np.testing.assert_allclose(np.asarray(batch.call_blocks(blocks, *masks)), expected,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(every.call_blocks(blocks, *masks)), expected,
                               rtol=1e-6, atol=1e-6)


def test_training_the_same_both_ways(three_way: Dataset) -> None:
    """A short run with cold dropout (masks drawn per step) ends at the same model."""
    split = make_split(three_way, 0.5)
    models = [train(resolve("pitot", {**SMALL, **VARIANTS["cold-dropout"],
                                      "model.tower_rows": rows}), three_way, split).model
              for rows in ("all", "batch")]
    inputs = inputs_of(three_way, "if2")
    expected, found = (np.asarray(model(inputs, training=False)) for model in models)
    np.testing.assert_allclose(found, expected, rtol=1e-3, atol=1e-3)


def test_auto_takes_the_cheaper_rows() -> None:
    layer = PitotInteraction(30, 40, 3, 5, mf_dim=2, layers=[4])
    small = np.zeros((8,), np.int32), np.zeros((8, 2), np.int32)  # 8 + 8·3 rows < 70
    large = np.zeros((32,), np.int32), np.zeros((32, 2), np.int32)  # 32 + 32·3 rows > 70
    assert layer.on_batch(*small) and not layer.on_batch(*large)
    unknown = keras.KerasTensor((None,), "int32"), keras.KerasTensor((None, 2), "int32")
    assert not layer.on_batch(*unknown)
    # As blocks, a matrix block embeds no co-runner: 8·2 + 8·2 + 10·2 = 52 rows < 70, where
    # the same 18 rows padded to 2 slots each would name 18·2 + 18·2 = 72.
    blocks = [Block(small[0], small[0], small[1]),
              Block(*np.zeros((2, 10), np.int32), np.zeros((10, 0), np.int32))]
    platform, _, interferers = concatenated(blocks)
    assert layer.on_batch(platform, interferers, blocks)
    assert not layer.on_batch(platform, interferers)
    ignore = PitotInteraction(30, 40, 3, 5, mf_dim=2, layers=[4], interference="ignore")
    assert ignore.on_batch(*large)  # 32 + 32 rows: co-runners are not embedded


def test_tower_rows_is_checked() -> None:
    with pytest.raises(ConfigError, match="model.tower_rows"):
        resolve("pitot", {"model.tower_rows": "some"})
    with pytest.raises(ValueError, match="tower_rows"):
        PitotInteraction(3, 4, 1, 1, tower_rows="some")
