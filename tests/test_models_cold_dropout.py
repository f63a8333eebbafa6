"""Cold dropout (``model.cold_dropout``, preset ``pitot/cold``): per-entity masks drawn in
training only, and dropped entities computed exactly as cold ones. How well such a model
predicts workloads it never saw is measured by ``benchmarks/convergence.py``."""

from __future__ import annotations

import numpy as np
import pytest

from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import make_split
from pitot_tf.models import build_model, fit_baseline
from pitot_tf.models.cold import extend_model
from pitot_tf.models.cold_dropout import ColdDropout
from pitot_tf.presets import resolve
from pitot_tf.training.batches import Rows
from pitot_tf.training.predict import predict_rows


def test_masks_are_per_entity_seeded_and_off_outside_training() -> None:
    layer = ColdDropout(40, 60, rate=0.3, seed=3)
    index = np.zeros(5, np.int32)
    platform, workload = (np.asarray(m) for m in layer(index, training=False))
    assert platform.shape == (40,) and workload.shape == (60,)
    assert not platform.any() and not workload.any()
    draws = np.stack([np.concatenate([np.asarray(m) for m in layer(index, training=True)])
                      for _ in range(200)])
    assert set(np.unique(draws)) <= {0.0, 1.0}
    assert abs(draws.mean() - 0.3) < 0.02  # each entity dropped with probability `rate`
    assert len({row.tobytes() for row in draws}) == len(draws)  # a new draw every step
    again = ColdDropout(40, 60, rate=0.3, seed=3)
    first = np.concatenate([np.asarray(m) for m in again(index, training=True)])
    np.testing.assert_array_equal(first, draws[0])  # same seed, same draws


def test_default_model_has_no_dropout_layer(synth_dataset: Dataset) -> None:
    names = [layer.name for layer in build_model(resolve("pitot"), synth_dataset).layers]
    assert not any(name.startswith("cold_dropout") for name in names)
    cold = build_model(resolve("pitot/cold"), synth_dataset)
    assert any(layer.name == "cold_dropout" for layer in cold.layers)


#: The tests that reach into the layers of one model (``pitot/cold`` has three members).
ONE_MEMBER = {"training.ensemble": 1}


def _rows(dataset: Dataset, workload: int) -> Rows:
    platforms = np.arange(len(dataset.platforms), dtype=np.int32)
    return Rows("mf", platforms, np.full(len(platforms), workload, np.int32),
                np.full((len(platforms), 1), -1, np.int32), np.zeros(len(platforms), np.float32))


@pytest.mark.parametrize("cold_baseline", ["ridge", "trees"])
def test_a_dropped_entity_is_computed_as_a_cold_one(
    synth_dataset: Dataset, fast_overrides: dict[str, object], cold_baseline: str
) -> None:
    """In training, a dropped workload's prediction is the one a new workload with the same
    features gets from :func:`extend_model` (free features zero, baseline from features);
    with trees, its baseline term is the out-of-fold one (the trees fitted without it)."""
    config = resolve("pitot/cold", {**fast_overrides, "model.cold_dropout": 0.5,
                                    "model.cold_baseline": cold_baseline, **ONE_MEMBER})
    model = build_model(config, synth_dataset)
    fit_baseline(model, config, synth_dataset, make_split(synth_dataset, 0.5))
    baseline = model.get_layer("baseline")  # make workload 3's warm terms matter
    baseline.workload_scale.assign(baseline.workload_scale.numpy() + 1.0)
    tower = model.get_layer("pitot").workload_tower
    tower.learned.assign(np.ones(tower.learned.shape, np.float32))
    tower.head.kernel.assign(tower.head.kernel.numpy() * 100)
    inputs = _rows(synth_dataset, 3).inputs()
    masks = (np.zeros(len(synth_dataset.platforms), np.float32),
             np.eye(len(synth_dataset.workloads), dtype=np.float32)[3])  # drop workload 3
    dropped = np.asarray(baseline(inputs["platform"], inputs["workload"], *masks)) + np.asarray(
        model.get_layer("pitot")(inputs["platform"], inputs["workload"], inputs["interferers"],
                                 *masks))
    # the model draws such masks in training only
    assert not np.allclose(model(inputs, training=True), model(inputs, training=False))
    features = synth_dataset.workloads.features[[3]]
    grown = extend_model(model, workload_features=features)
    new = predict_rows(grown, _rows(synth_dataset, len(synth_dataset.workloads)))
    out_of_fold = baseline.workload_cold_scale.numpy()[3] - baseline.feature_term("workload",
                                                                                  features)[0]
    assert bool(abs(out_of_fold) > 1e-3) is (cold_baseline == "trees")
    np.testing.assert_allclose(dropped, new + out_of_fold, rtol=1e-5, atol=1e-5)
    warm = predict_rows(model, _rows(synth_dataset, 3))
    assert np.abs(warm - dropped).min() > 0.1


def test_training_blocks_draw_the_masks(synth_dataset: Dataset,
                                        fast_overrides: dict[str, object]) -> None:
    """The trainer's blocks pass (:func:`pitot_tf.models.blocks.predict_blocks`) draws the
    cold masks in training and equals the model outside it."""
    from pitot_tf.models.blocks import Block, predict_blocks

    config = resolve("pitot/cold", {**fast_overrides, "model.cold_dropout": 0.5, **ONE_MEMBER})
    model = build_model(config, synth_dataset)
    fit_baseline(model, config, synth_dataset, make_split(synth_dataset, 0.5))
    inputs = _rows(synth_dataset, 3).inputs()
    blocks = [Block(inputs["platform"], inputs["workload"],
                    np.zeros((len(inputs["platform"]), 0), np.int32))]
    plain = np.asarray(model(inputs, training=False))
    np.testing.assert_allclose(predict_blocks(model, blocks, training=False), plain, rtol=1e-6)
    assert not np.allclose(predict_blocks(model, blocks, training=True), plain, atol=1e-4)
