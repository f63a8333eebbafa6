"""Training blocks (one per objective, static co-runner count) give what one padded batch gives."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from model_support import resolve_small

from pitot_tf.data.dataset import Dataset
from pitot_tf.models import build_model
from pitot_tf.models.blocks import Block, concatenated, predict_blocks
from pitot_tf.models.ensemble import member_models
from pitot_tf.models.parts import MissingPart

PRESETS = ["pitot", "baseline/monolith", "baseline/attention", "baseline/factorization",
           "pitot/ensemble"]
SMALL = {"model.layers": [16], "model.mf_dim": 4, "model.monolith_layers": [16, 8],
         "model.attention_layers": [16, 8], "model.output_layers": [4], "training.ensemble": 2}


def _model(dataset: Dataset, preset: str) -> keras.Model:
    """A small model of ``preset`` with every weight (baseline included) fixed at random."""
    exact = {"training.ensemble": 2} if preset == "pitot/ensemble" else {}
    config = resolve_small(preset, {k: v for k, v in SMALL.items() if k != "training.ensemble"},
                           exact)
    model = build_model(config, dataset)
    rng = np.random.default_rng(5)
    for weight in model.weights:
        if "features" in weight.path:
            continue
        fan_in = weight.shape[0] if len(weight.shape) == 2 else 1
        weight.assign(rng.normal(0, 1 / math.sqrt(fan_in), weight.shape).astype("float32"))
    return model


def _blocks(dataset: Dataset) -> list[Block]:
    """A matrix block (no slots), a 2-way block (one), and a 3-way block (two) in which one
    row has an empty slot and one has none filled."""
    rng = np.random.default_rng(3)
    p, w = len(dataset.platforms), len(dataset.workloads)
    blocks = []
    for n, slots in ((5, 0), (6, 1), (4, 2)):
        interferers = rng.integers(0, w, (n, slots)).astype(np.int32)
        if slots == 2:
            interferers[1, 0] = -1
            interferers[2] = -1
        blocks.append(Block(tf.constant(rng.integers(0, p, n).astype(np.int32)),
                            tf.constant(rng.integers(0, w, n).astype(np.int32)),
                            tf.constant(interferers)))
    return blocks


def _one_batch(model: keras.Model, blocks: list[Block]) -> np.ndarray:
    platform, workload, interferers = concatenated(blocks)
    return np.asarray(model({"platform": platform, "workload": workload,
                             "interferers": interferers}))


@pytest.mark.parametrize("preset", PRESETS)
def test_blocks_equal_one_padded_batch(synth_dataset: Dataset, preset: str) -> None:
    model = _model(synth_dataset, preset)
    blocks = _blocks(synth_dataset)
    for member in member_models(model):
        expected = _one_batch(member, blocks)
        assert expected.shape == (15, 1)
        assert np.ptp(expected) > 0.1  # the rows differ: the comparison means something
        np.testing.assert_allclose(np.asarray(predict_blocks(member, blocks)), expected,
                                   rtol=1e-5, atol=1e-5)
        compiled = tf.function(lambda: predict_blocks(member, blocks),  # noqa: B023
                               jit_compile=True)
        np.testing.assert_allclose(np.asarray(compiled()), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("preset", ["baseline/monolith", "baseline/attention"])
def test_co_runners_change_the_co_runner_blocks_only(synth_dataset: Dataset,
                                                     preset: str) -> None:
    """The comparison above is not vacuous: co-runners move their rows, and matrix rows equal
    the same rows with every slot empty."""
    model = _model(synth_dataset, preset)
    blocks = _blocks(synth_dataset)
    emptied = [Block(b.platform, b.workload, tf.fill(tf.shape(b.interferers), -1))
               for b in blocks]
    with_co, without = (np.asarray(predict_blocks(model, b)) for b in (blocks, emptied))
    np.testing.assert_allclose(with_co[:5], without[:5], rtol=1e-6, atol=1e-6)
    assert np.all(np.abs(with_co[5:11] - without[5:11]) > 1e-4)
    # The 3-way row with no co-runner at all gets nothing from the co-runner branch.
    np.testing.assert_allclose(with_co[13], without[13], rtol=1e-6, atol=1e-6)


def test_a_whole_ensemble_is_not_one_model(synth_dataset: Dataset) -> None:
    model = _model(synth_dataset, "pitot/ensemble")
    with pytest.raises(MissingPart, match="not one baseline plus one interaction layer"):
        predict_blocks(model, _blocks(synth_dataset))
