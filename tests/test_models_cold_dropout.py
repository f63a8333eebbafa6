"""Cold dropout (``model.cold_dropout``, preset ``pitot/cold``): per-entity masks drawn in
training only, dropped entities computed exactly as cold ones, and a model that predicts
workloads it never saw from their features."""

from __future__ import annotations

import numpy as np
import pytest

from pitot_tf.data.cold import make_cold_split
from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import make_split
from pitot_tf.models import build_model, fit_baseline
from pitot_tf.models.cold import extend_model
from pitot_tf.models.cold_dropout import ColdDropout
from pitot_tf.presets import resolve
from pitot_tf.training import train
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


@pytest.mark.slow
def test_cold_workloads_near_the_noise_floor(synth_cold) -> None:  # type: ignore[no-untyped-def]
    """With features that mostly determine the truth, ``pitot/cold`` predicts workloads it
    never saw within a small factor of the observation noise (measured: 0.166 against a floor
    of 0.039; the synthetic parameters have per-workload residuals that no feature explains;
    there `model.cold_baseline=select` takes the ridge regression on both axes),
    and at least as well as ``pitot`` (0.172)."""
    scores = synth_cold
    assert scores["pitot/cold"] < 5 * scores["floor"]
    assert scores["pitot/cold"] < 1.02 * scores["pitot"]


STEPS = {"training.steps": 1500, "training.val_every": 100, "training.batch": 128,
         "training.progress": False, "training.learning_rate": 3e-3, "model.layers": [64, 64],
         "model.mf_dim": 8}


@pytest.fixture(scope="module")
def synth_cold(tmp_path_factory: pytest.TempPathFactory) -> dict[str, float]:
    """Cold-workload test MAPE of ``pitot`` and ``pitot/cold`` on a synthetic dataset, and the
    noise floor: the MAPE of the noise-free truth itself."""
    from pitot_tf.data.dataset import load_dataset
    from pitot_tf.data.synth import synthesize_dataset
    from pitot_tf.training.predict import predict_objective

    out = synthesize_dataset(tmp_path_factory.mktemp("cold"), platforms=24, workloads=60, seed=3)
    dataset = load_dataset(out)
    split = make_cold_split(dataset, 1.0, mode="cold-workload", seed=1)
    rows = split.rows("mf", "test")
    truth = np.load(out / "truth.npz")["mf_log_t"][rows]
    log_t = dataset.objectives["mf"].log_runtime[rows]
    scores = {"floor": float(np.mean(np.abs(np.expm1(log_t - truth))))}
    for preset in ("pitot", "pitot/cold"):
        model = train(resolve(preset, STEPS), dataset, split).model
        _, log_pred = predict_objective(model, dataset, "mf", rows)
        scores[preset] = float(np.mean(np.abs(np.expm1(log_t - log_pred[:, 0]))))
    return scores


@pytest.mark.slow
def test_cold_workloads_on_cold_platforms_near_the_noise_floor(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A workload never measured on a platform never measured (``cold-both``): with features
    that mostly determine the truth, ``pitot/cold`` (one member) predicts it within a small
    factor of the observation noise (measured: 0.174 against a floor of 0.044; ``pitot``
    0.171; the same model's cold-workload rows 0.144, cold-platform rows 0.139)."""
    from pitot_tf.conformal.groups import COLD_BOTH, cold_kinds
    from pitot_tf.data.cold import seen_entities
    from pitot_tf.data.dataset import load_dataset
    from pitot_tf.data.synth import synthesize_dataset
    from pitot_tf.training.predict import predict_objective

    out = synthesize_dataset(tmp_path_factory.mktemp("both"), platforms=60, workloads=60, seed=3)
    dataset = load_dataset(out)
    split = make_cold_split(dataset, 1.0, mode="cold-both", seed=1)
    rows = split.rows("mf", "test")
    rows = rows[cold_kinds(dataset.objectives["mf"], rows,
                           seen_entities(dataset, split)) == COLD_BOTH]
    truth = np.load(out / "truth.npz")["mf_log_t"][rows]
    log_t = dataset.objectives["mf"].log_runtime[rows]
    floor = float(np.mean(np.abs(np.expm1(log_t - truth))))
    scores = {}
    for preset in ("pitot", "pitot/cold"):
        model = train(resolve(preset, {**STEPS, **ONE_MEMBER}), dataset, split).model
        _, log_pred = predict_objective(model, dataset, "mf", rows)
        scores[preset] = float(np.mean(np.abs(np.expm1(log_t - log_pred[:, 0]))))
    assert len(rows) >= 50
    assert scores["pitot/cold"] < 5 * floor, (scores, floor)
    assert scores["pitot/cold"] < 1.05 * scores["pitot"], scores


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
