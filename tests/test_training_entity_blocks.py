"""Entity-blocked batches (``training.block_platforms``, ``block_workloads``): the partition,
the draws (every drawn row lies in the step's block, and each row keeps its unblocked
expected weight), Pitot on a block's entities equals Pitot on every entity, and training."""

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
from pitot_tf.models.block import Block, Entities, concatenated
from pitot_tf.models.parts import model_parts
from pitot_tf.presets import resolve
from pitot_tf.training.batches import Rows
from pitot_tf.training.entity_blocks import EntityBlockSampler, block_counts, partition
from pitot_tf.training.predict import objective_rows
from pitot_tf.training.trainer import Trainer

SMALL = {"training.steps": 20, "training.val_every": 10, "training.batch": 32,
         "training.progress": False, "training.jit_compile": False,
         "model.layers": [16], "model.mf_dim": 4, "model.if_dim": 2}
BLOCKS = {"training.block_platforms": 5, "training.block_workloads": 8}
OBJECTIVES = ("mf", "if2", "if3")


@pytest.fixture(scope="module")
def three_way(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """Synthetic data with matrix, 2-way and 3-way objectives."""
    return three_way_dataset(tmp_path_factory.mktemp("entity-blocks"))


def train_rows(dataset: Dataset) -> list[Rows]:
    """Each objective's rows with its own co-runner width (as the trainer samples them)."""
    out = []
    for name in OBJECTIVES:
        rows = objective_rows(dataset, name)
        width = dataset.objectives[name].degree - 1
        out.append(Rows(name, rows.platform, rows.workload, rows.interferers[:, :width],
                        rows.log_runtime))
    return out


def sampler(dataset: Dataset, weights: tuple[float, ...] = (1.0, 0.25, 0.25)
            ) -> EntityBlockSampler:
    return EntityBlockSampler(train_rows(dataset), list(weights), 64, 3,
                              (len(dataset.platforms), len(dataset.workloads)), (5, 8))


def test_partition_covers_each_entity_once() -> None:
    split = partition(23, 5, np.random.default_rng(0))
    assert split.groups.shape == (5, 5)  # 23 entities: five groups of 4 or 5
    for entity in range(23):
        assert split.groups[split.group[entity], split.position[entity]] == entity
    real = [set(row[: 5 if g < 3 else 4]) for g, row in enumerate(split.groups)]
    assert sorted(e for group in real for e in group) == list(range(23))
    assert set(split.groups[4]) == real[4]  # the pad repeats a member
    assert partition(23, 0, np.random.default_rng(0)).groups.shape == (1, 23)
    assert block_counts(231, 249, 120, 0) == (2, 1)
    assert block_counts(231, 249, 300, 249) == (1, 1)


def test_each_row_keeps_its_expected_weight(three_way: Dataset) -> None:
    """Per batch slot, row ``j`` of objective ``k`` in block ``b`` is drawn with probability
    ``π(b) / n_k(b)`` and weighted by the factor: ``1 / N_k`` for every row, unblocked."""
    draws = sampler(three_way)
    probability = np.diff(np.concatenate([[0.0], draws.cumulative.numpy()]))
    counts, factor = draws.counts.numpy(), draws.factor.numpy()
    assert probability.sum() == pytest.approx(1.0)
    assert not np.allclose(factor, 1.0)  # two objectives spread unlike: the factor matters
    for k, total in enumerate(draws.sizes):
        filled = counts[k] > 0
        weight = probability[filled] / counts[k][filled] * factor[k][filled]
        np.testing.assert_allclose(weight, 1.0 / total, rtol=1e-5)
        assert counts[k].sum() == total
    single = sampler(three_way, (1.0, 0.0, 0.0))  # one objective: its blocks by its rows
    np.testing.assert_allclose(single.factor.numpy()[0][single.counts.numpy()[0] > 0], 1.0,
                               rtol=1e-5)


def test_drawn_rows_lie_in_the_block(three_way: Dataset) -> None:
    draws = sampler(three_way)
    seen = set()
    for step in range(30):
        batch = draws.sample(tf.constant(step))
        entities = batch.entities
        platform, workload, _ = (np.asarray(x) for x in concatenated(batch.blocks))
        scale = batch.scale.numpy()
        inside = scale > 0
        at_p, at_w = entities.platform_at.numpy(), entities.workload_at.numpy()
        np.testing.assert_array_equal(entities.platform.numpy()[at_p][inside], platform[inside])
        np.testing.assert_array_equal(entities.workload.numpy()[at_w][inside], workload[inside])
        assert len(set(entities.platform.numpy())) <= 5
        assert len(set(entities.workload.numpy())) <= 8
        seen.add((tuple(sorted(set(entities.platform.numpy()))),
                  tuple(sorted(set(entities.workload.numpy())))))
    assert len(seen) > 1  # the block changes from step to step
    again = draws.sample(tf.constant(4))
    np.testing.assert_array_equal(again.target.numpy(), draws.sample(tf.constant(4)).target)


def random_weights(model: keras.Model) -> None:
    rng = np.random.default_rng(0)
    model.set_weights([w + rng.normal(0.0, 0.3, w.shape).astype(w.dtype)
                       if w.dtype.kind == "f" else w for w in model.get_weights()])


@pytest.mark.parametrize("overrides", [{}, {"model.interference_form": "reference"},
                                       {"model.cold_dropout": 0.3}])
def test_block_entities_give_the_plain_output(three_way: Dataset,
                                              overrides: dict[str, Any]) -> None:
    """Pitot on a step's entities gives, row for row, what it gives on every entity."""
    model = build_model(resolve("pitot", {**SMALL, **overrides, "model.tower_rows": "all"}),
                        three_way)
    random_weights(model)
    layer = model_parts(model).interactions[0]
    rng = np.random.default_rng(1)
    blocks = []
    for name in OBJECTIVES:
        rows = objective_rows(three_way, name).inputs()
        blocks.append(Block(rows["platform"][:9], rows["workload"][:9],
                            rows["interferers"][:9, : three_way.objectives[name].degree - 1]))
    platform, workload, interferers = concatenated(blocks)
    # The block: the rows' entities (shuffled, one padded repeat) and others.
    block_p = rng.permutation(np.unique(np.concatenate([platform, [0, 1]]))).astype(np.int32)
    block_w = rng.permutation(np.unique(np.concatenate([workload, [3]]))).astype(np.int32)
    block_p = np.concatenate([block_p, block_p[:1]])
    entities = Entities(block_p, block_w,
                        np.array([np.flatnonzero(block_p == p)[0] for p in platform], np.int32),
                        np.array([np.flatnonzero(block_w == w)[0] for w in workload], np.int32))
    cold: tuple[Any, ...] = ()
    if "model.cold_dropout" in overrides:
        cold = ((rng.random(len(three_way.platforms)) < 0.4).astype("float32"),
                (rng.random(len(three_way.workloads)) < 0.4).astype("float32"))
    expected = np.asarray(layer(platform, workload, interferers, *cold))
    found = np.asarray(layer.call_blocks(blocks, *cold, entities=entities))
    np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-5)
    moved = Entities(block_p, block_w, entities.platform_at, (entities.workload_at + 1)
                     % len(block_w))
    wrong = np.asarray(layer.call_blocks(blocks, *cold, entities=moved))
    assert np.abs(wrong - expected).mean() > 1e-3  # the positions matter


@pytest.mark.parametrize("overrides", [{}, {"training.ensemble": 2,
                                            "training.ensemble_share": "towers"}])
def test_training_on_blocks(three_way: Dataset, overrides: dict[str, Any]) -> None:
    split = make_split(three_way, 0.5)
    config = resolve("pitot", {**SMALL, **BLOCKS, **overrides})
    trainer = Trainer(config, three_way, split)
    assert isinstance(trainer.sampler, EntityBlockSampler)
    before = trainer.weighted(trainer.validation_losses())
    result = trainer.fit()
    assert np.isfinite(result.best_val_loss) and result.best_val_loss < before


def test_blocks_as_large_as_the_axes_sample_as_before(three_way: Dataset) -> None:
    split = make_split(three_way, 0.5)
    whole = {"training.block_platforms": 12, "training.block_workloads": 20}
    trainer = Trainer(resolve("pitot", {**SMALL, **whole}), three_way, split)
    assert not isinstance(trainer.sampler, EntityBlockSampler)
    assert trainer.sampler.sample(tf.constant(0)).entities is None


def test_block_keys_are_checked() -> None:
    with pytest.raises(ConfigError, match="block_platforms"):
        resolve("pitot", {"training.block_platforms": -1})
    with pytest.raises(ConfigError, match="model.kind=pitot"):
        resolve("baseline/monolith", {"training.block_workloads": 10})
