"""Ensembles (``training.ensemble``, also with shared towers): members differ, the prediction
is their mean, and the Keras file, cold-start extension and the pyfunc model work on an
ensemble as on one model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import pytest
from mlflow_helpers import experiment, private_tracking
from test_models_blocks import _blocks as block_sample
from test_serving_pyfunc import assert_pyfunc_answers_like_keras

from pitot_tf.config import Config
from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import make_split
from pitot_tf.data.synth import synthesize_dataset
from pitot_tf.errors import ConfigError
from pitot_tf.models import build_model
from pitot_tf.models.blocks import concatenated, predict_blocks
from pitot_tf.models.cold import extend_model, neutralize_unseen
from pitot_tf.models.ensemble import (
    member_models,
    member_names,
    member_seed,
    shared_member_outputs,
)
from pitot_tf.models.numpy_predictor import NumpyPitot
from pitot_tf.presets import resolve
from pitot_tf.serving.keras_predictor import predictor_for
from pitot_tf.tracking.training import RunOptions, TrainingRun, run_training
from pitot_tf.training import train
from pitot_tf.training.predict import predict_inputs, predict_objective
from pitot_tf.training.trainer import Trainer, TrainResult

FAST = {"training.steps": 40, "training.val_every": 20, "training.batch": 32,
        "training.progress": False, "training.jit_compile": False,
        "model.layers": [16], "model.mf_dim": 8}
MEMBERS = 3


@pytest.fixture(scope="module")
def trained(synth_dataset: Dataset) -> TrainResult:
    config = resolve("pitot", {**FAST, "training.ensemble": MEMBERS})
    return train(config, synth_dataset, make_split(synth_dataset, 0.5))


def if2_inputs(dataset: Dataset) -> dict[str, np.ndarray]:
    obs = dataset.objectives["if2"]
    return {"platform": obs.platform.astype(np.int32), "workload": obs.workload.astype(np.int32),
            "interferers": obs.interferers.astype(np.int32)}


def assert_keras_round_trip(model: keras.Model, inputs: dict[str, np.ndarray],
                            path: Path) -> keras.Model:
    """Saved to ``path`` and loaded, ``model`` and each of its members predict as before;
    returns the loaded model."""
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(predict_inputs(loaded, inputs), predict_inputs(model, inputs),
                               rtol=1e-6, atol=1e-6)
    for member, original in zip(member_models(loaded), member_models(model), strict=True):
        np.testing.assert_allclose(predict_inputs(member, inputs),
                                   predict_inputs(original, inputs), rtol=1e-6, atol=1e-6)
    return loaded


def test_ensemble_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="training.ensemble must be >= 1"):
        resolve("pitot", {"training.ensemble": 0})
    assert resolve("pitot/ensemble").training.ensemble == 5


def test_a_single_model_has_no_members(synth_dataset: Dataset) -> None:
    model = build_model(resolve("pitot", FAST), synth_dataset)
    assert member_names(model) == [] and member_models(model) == [model]


def test_member_zero_starts_as_the_single_model(synth_dataset: Dataset) -> None:
    """Member 0 has the run's seed: its interaction starts with the single model's weights."""
    single = build_model(resolve("pitot", FAST), synth_dataset).get_layer("pitot")
    ensemble = build_model(resolve("pitot", {**FAST, "training.ensemble": 2}), synth_dataset)
    for a, b in zip(single.weights, ensemble.get_layer("pitot").weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert member_seed(42, 0) == 42 and len({member_seed(42, e) for e in range(5)}) == 5


def test_prediction_is_the_mean_of_the_members(trained: TrainResult,
                                               synth_dataset: Dataset) -> None:
    inputs = if2_inputs(synth_dataset)
    members = member_models(trained.model)
    assert len(members) == MEMBERS
    each = np.stack([predict_inputs(member, inputs) for member in members])
    np.testing.assert_allclose(predict_inputs(trained.model, inputs), each.mean(axis=0),
                               rtol=1e-5, atol=1e-5)
    # Members were trained apart from different starts: they predict differently.
    assert all(not np.allclose(each[0], each[e], atol=1e-4) for e in range(1, MEMBERS))


def test_members_have_different_weights(trained: TrainResult) -> None:
    tables = [trained.model.get_layer(name).weights for name in ("pitot", "pitot_1", "pitot_2")]
    for other in tables[1:]:
        for a, b in zip(tables[0], other, strict=True):
            if a.trainable:
                assert not np.allclose(a.numpy(), b.numpy()), a.path


def test_the_ensemble_trains_every_member(synth_dataset: Dataset) -> None:
    """Every member's weights move away from their initial values."""
    config = resolve("pitot", {**FAST, "training.ensemble": 2})
    trainer = Trainer(config, synth_dataset, make_split(synth_dataset, 0.5))
    names = ("pitot", "pitot_1")
    start = {n: [w.numpy().copy() for w in trainer.model.get_layer(n).trainable_weights]
             for n in names}
    result = trainer.fit()
    assert len(result.history) == 2 and np.isfinite(result.best_val_loss)
    for name in names:
        after = [w.numpy() for w in result.model.get_layer(name).trainable_weights]
        assert all(not np.allclose(a, b) for a, b in zip(start[name], after, strict=True)), name


@pytest.mark.parametrize("trainable", [False, True])
def test_member_zero_trains_exactly_as_the_single_model(synth_dataset: Dataset,
                                                         trainable: bool) -> None:
    """Members are independent: member 0 (the run's seed and batch draws) of an ensemble ends
    where the single model ends, also with trainable baselines (one per member)."""
    overrides = {**FAST, "training.val_every": FAST["training.steps"],
                 "model.baseline_trainable": trainable}
    split = make_split(synth_dataset, 0.5)
    single = train(resolve("pitot", overrides), synth_dataset, split).model
    ensemble = train(resolve("pitot", {**overrides, "training.ensemble": 2}), synth_dataset,
                     split).model
    inputs = if2_inputs(synth_dataset)
    np.testing.assert_allclose(predict_inputs(member_models(ensemble)[0], inputs),
                               predict_inputs(single, inputs), rtol=1e-4, atol=1e-4)
    scales = [ensemble.get_layer(n).platform_scale.numpy() for n in ("baseline", "baseline_1")]
    assert np.allclose(*scales) != trainable


def test_keras_file_round_trip(trained: TrainResult, synth_dataset: Dataset,
                               tmp_path: Path) -> None:
    loaded = assert_keras_round_trip(trained.model, if2_inputs(synth_dataset),
                                     tmp_path / "ensemble.keras")
    assert member_names(loaded) == [f"member_{e}" for e in range(MEMBERS)]


def test_extend_model_keeps_old_rows_and_adds_new(trained: TrainResult,
                                                  synth_dataset: Dataset) -> None:
    platforms = synth_dataset.platforms.features[:2]
    grown = extend_model(trained.model, platform_features=platforms)
    inputs = if2_inputs(synth_dataset)
    np.testing.assert_allclose(predict_inputs(grown, inputs), predict_inputs(trained.model, inputs),
                               rtol=1e-5, atol=1e-5)
    count = len(synth_dataset.platforms)
    new = {k: v[:4] for k, v in inputs.items()}
    new["platform"] = np.array([count, count + 1, count, count + 1], np.int32)
    assert np.isfinite(predict_inputs(grown, new)).all()
    assert len(member_models(grown)) == MEMBERS


def test_neutralize_unseen_reaches_every_member(synth_dataset: Dataset) -> None:
    """Every member's free rows of an unseen platform are set to its seen mean (members'
    towers have the same weight paths, so nothing may be looked up by path)."""
    model = build_model(resolve("pitot", {**FAST, "training.ensemble": MEMBERS}), synth_dataset)
    seen = {"platform": np.arange(len(synth_dataset.platforms)) > 0,
            "workload": np.ones(len(synth_dataset.workloads), bool)}
    neutralize_unseen(model, seen)
    names = ["pitot"] + [f"pitot_{e}" for e in range(1, MEMBERS)]
    for name in names:
        learned = model.get_layer(name).platform_tower.learned.numpy()
        np.testing.assert_allclose(learned[0], learned[1:].mean(axis=0), rtol=1e-5, atol=1e-6)


def test_serving_takes_the_numpy_path(trained: TrainResult, synth_dataset: Dataset) -> None:
    """The numpy fast path reproduces an ensemble as it does one Pitot model."""
    predictor = predictor_for(trained.model)
    assert isinstance(predictor, NumpyPitot)
    inputs = if2_inputs(synth_dataset)
    np.testing.assert_allclose(
        predictor.predict(inputs["platform"], inputs["workload"], inputs["interferers"]),
        predict_inputs(trained.model, inputs), rtol=1e-6, atol=1e-6)


def test_predict_objective_uses_the_mean(trained: TrainResult, synth_dataset: Dataset) -> None:
    log_true, log_pred = predict_objective(trained.model, synth_dataset, "mf")
    assert log_pred.shape == (len(log_true), 1) and np.isfinite(log_pred).all()


def _tracked_run(tmp_path_factory: pytest.TempPathFactory, name: str, preset: str,
                 overrides: dict[str, object]) -> Iterator[TrainingRun]:
    """A tracked training run of ``preset`` on a small synthetic dataset, in its own store."""
    root = tmp_path_factory.mktemp(f"{name}-pyfunc")
    with private_tracking(root, tmp_path_factory.getbasetemp()):
        experiment(name, root)
        data = synthesize_dataset(root / "data", platforms=30, workloads=50, density=0.7)
        yield run_training(preset, overrides, RunOptions(data_dir=data, experiment=name))


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainingRun]:
    yield from _tracked_run(tmp_path_factory, "ensemble", "pitot",
                            {**FAST, "training.ensemble": 2})


def test_pyfunc_of_an_ensemble(tracked: TrainingRun) -> None:
    """The logged pyfunc model answers with the ensemble's mean plus the calibrated margin."""
    assert isinstance(tracked.experiment.config, Config)
    assert len(member_models(tracked.result.model)) == 2
    assert_pyfunc_answers_like_keras(tracked)


# Shared towers (training.ensemble_share=towers): one interaction layer, a head per member.

SHARED = {**FAST, "training.ensemble": MEMBERS, "training.ensemble_share": "towers"}


@pytest.fixture(scope="module")
def shared(synth_dataset: Dataset) -> TrainResult:
    return train(resolve("pitot", SHARED), synth_dataset, make_split(synth_dataset, 0.5))


def test_shared_towers_are_validated() -> None:
    with pytest.raises(ConfigError, match="ensemble_share must be one of"):
        resolve("pitot", {"training.ensemble": 2, "training.ensemble_share": "heads"})
    with pytest.raises(ConfigError, match="needs training.ensemble >= 2"):
        resolve("pitot", {"training.ensemble_share": "towers"})
    for other in ({"model.workload_tower": "embedding"}, {"model.kind": "monolith"}):
        with pytest.raises(ConfigError, match="hybrid workload and platform towers"):
            resolve("pitot", {**other, "training.ensemble": 2,
                              "training.ensemble_share": "towers"})
    with pytest.raises(ConfigError, match="does not support model.cold_dropout"):
        resolve("pitot/cold", {"training.ensemble": 2, "training.ensemble_share": "towers"})
    preset = resolve("pitot/shared").training
    assert (preset.ensemble, preset.ensemble_share) == (5, "towers")


def test_shared_members_share_the_towers_hidden_layers(shared: TrainResult,
                                                       synth_dataset: Dataset) -> None:
    """One interaction layer (hidden layers and learned features once), a baseline per member;
    fewer weights than as many independent members."""
    model = shared.model
    assert member_names(model) == [f"member_{e}" for e in range(MEMBERS)]
    assert model.get_layer("pitot").members == MEMBERS
    assert [layer.name for layer in model.layers if layer.name.startswith("pitot")] == ["pitot"]
    assert len([layer for layer in model.layers if layer.name.startswith("baseline")]) == MEMBERS
    full = build_model(resolve("pitot", {**FAST, "training.ensemble": MEMBERS}), synth_dataset)
    assert model.count_params() < full.count_params()
    with pytest.raises(ValueError, match="shared towers"):
        predict_blocks(member_models(model)[0], [])


def test_shared_member_outputs_equal_the_members_on_one_batch(synth_dataset: Dataset) -> None:
    """The trainer's pass (blocks, the shared layer run once) gives each member's output on
    the concatenated batch, with every weight at random values of order 1."""
    model = build_model(resolve("pitot", SHARED), synth_dataset)
    rng = np.random.default_rng(5)
    for weight in model.weights:
        if "features" not in weight.path:
            fan_in = weight.shape[0] if len(weight.shape) == 2 else 1
            weight.assign(rng.normal(0, 1 / np.sqrt(fan_in), weight.shape).astype("float32"))
    blocks = block_sample(synth_dataset)
    platform, workload, interferers = concatenated(blocks)
    inputs = {"platform": platform, "workload": workload, "interferers": interferers}
    outputs = shared_member_outputs(model, blocks)
    assert len(outputs) == MEMBERS
    for member, output in zip(member_models(model), outputs, strict=True):
        expected = np.asarray(member(inputs))
        assert expected.shape == (15, 1) and np.ptp(expected) > 0.1
        np.testing.assert_allclose(np.asarray(output), expected, rtol=1e-5, atol=1e-5)


def test_shared_prediction_is_the_mean_of_the_heads(shared: TrainResult,
                                                    synth_dataset: Dataset) -> None:
    inputs = if2_inputs(synth_dataset)
    each = np.stack([predict_inputs(member, inputs) for member in member_models(shared.model)])
    np.testing.assert_allclose(predict_inputs(shared.model, inputs), each.mean(axis=0),
                               rtol=1e-5, atol=1e-5)
    assert all(not np.allclose(each[0], each[e], atol=1e-4) for e in range(1, MEMBERS))


def test_shared_training_moves_every_head_and_baseline(synth_dataset: Dataset) -> None:
    trainer = Trainer(resolve("pitot", SHARED), synth_dataset, make_split(synth_dataset, 0.5))
    model = trainer.model
    names = ["baseline"] + [f"baseline_{e}" for e in range(1, MEMBERS)]
    start = {n: model.get_layer(n).platform_scale.numpy().copy() for n in names}
    heads_before = model.get_layer("pitot").workload_tower.head.kernel.numpy().copy()
    trainer.fit()
    after = {n: model.get_layer(n).platform_scale.numpy() for n in names}
    assert all(not np.allclose(start[n], after[n]) for n in names)
    # Every member's block of the workload tower's output layer moved.
    moved = np.abs(model.get_layer("pitot").workload_tower.head.kernel.numpy() - heads_before)
    width = FAST["model.mf_dim"]
    assert all(moved[:, e * width : (e + 1) * width].max() > 0 for e in range(MEMBERS))


def test_shared_keras_file_round_trip(shared: TrainResult, synth_dataset: Dataset,
                                      tmp_path: Path) -> None:
    loaded = assert_keras_round_trip(shared.model, if2_inputs(synth_dataset),
                                     tmp_path / "shared.keras")
    assert isinstance(predictor_for(loaded), NumpyPitot)


def test_shared_extend_model_keeps_old_rows(shared: TrainResult,
                                            synth_dataset: Dataset) -> None:
    """Cold start (new platforms by their features) works on shared towers too."""
    grown = extend_model(shared.model, platform_features=synth_dataset.platforms.features[:2])
    inputs = if2_inputs(synth_dataset)
    np.testing.assert_allclose(predict_inputs(grown, inputs), predict_inputs(shared.model, inputs),
                               rtol=1e-5, atol=1e-5)
    new = {k: v[:2] for k, v in inputs.items()}
    new["platform"] = np.array([len(synth_dataset.platforms)] * 2, np.int32)
    assert np.isfinite(predict_inputs(grown, new)).all()


@pytest.fixture(scope="module")
def tracked_shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainingRun]:
    yield from _tracked_run(tmp_path_factory, "shared", "pitot",
                            {**SHARED, "training.ensemble": 2})


def test_pyfunc_of_a_shared_ensemble(tracked_shared: TrainingRun) -> None:
    assert len(member_models(tracked_shared.result.model)) == 2
    assert_pyfunc_answers_like_keras(tracked_shared)


@pytest.fixture(scope="module")
def tracked_best(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainingRun]:
    yield from _tracked_run(tmp_path_factory, "best", "pitot/best",
                            {**FAST, "training.ensemble": 2})


def test_best_preset_is_an_ensemble_with_quantile_heads(tracked_best: TrainingRun) -> None:
    """``pitot/best`` (members and CQR heads) trains, logs and answers through pyfunc like its
    Keras model plus the calibrated margin."""
    best, tuned = resolve("pitot/best"), resolve("pitot/tuned")
    assert best.training.ensemble == 5
    assert (best.model.mf_dim, best.model.layers) == (tuned.model.mf_dim, tuned.model.layers)
    assert best.training.learning_rate == tuned.training.learning_rate
    assert best.model.quantiles == resolve("conformal/optimal").model.quantiles
    assert len(member_models(tracked_best.result.model)) == 2
    assert_pyfunc_answers_like_keras(tracked_best)
