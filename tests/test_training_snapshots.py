"""Snapshot ensembles (``training.snapshots``): the cosine-restart schedule, one member per
cycle, the prediction is the snapshots' mean, and the Keras file and pyfunc model work."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import pytest
from mlflow_helpers import experiment, private_tracking
from test_models_ensemble import assert_keras_round_trip, if2_inputs
from test_serving_pyfunc import assert_pyfunc_answers_like_keras

from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import make_split
from pitot_tf.data.synth import synthesize_dataset
from pitot_tf.errors import ConfigError
from pitot_tf.models.ensemble import member_models, member_names
from pitot_tf.presets import resolve
from pitot_tf.tracking.training import RunOptions, TrainingRun, run_training
from pitot_tf.training import train
from pitot_tf.training.predict import predict_inputs
from pitot_tf.training.snapshots import CosineRestarts, cycle_ends, last_best
from pitot_tf.training.trainer import Trainer, TrainResult

CYCLE = 20
SNAPSHOTS = 3
FAST = {"training.steps": CYCLE * SNAPSHOTS, "training.val_every": CYCLE,
        "training.batch": 32, "training.progress": False, "training.jit_compile": False,
        "model.layers": [16],
        "model.mf_dim": 8, "training.learning_rate": 1e-2}



@pytest.fixture(scope="module")
def trained(synth_dataset: Dataset) -> TrainResult:
    config = resolve("pitot", {**FAST, "training.snapshots": SNAPSHOTS,
                               "training.snapshot_members": SNAPSHOTS})
    return train(config, synth_dataset, make_split(synth_dataset, 0.5))


def test_cosine_restarts_have_their_minima_at_each_cycle_end() -> None:
    schedule = CosineRestarts(1e-3, 10)
    rates = np.array([float(schedule(step)) for step in range(30)])
    for cycle in range(3):
        part = rates[cycle * 10 : cycle * 10 + 10]
        assert int(np.argmin(part)) == 9 and int(np.argmax(part)) == 0
        assert part[0] == pytest.approx(1e-3) and part[9] < 0.03 * 1e-3
        assert np.all(np.diff(part) < 0)  # falls through the whole cycle
    assert keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(schedule)).get_config() == schedule.get_config()


def test_cycle_ends_and_validation() -> None:
    assert cycle_ends(resolve("pitot", {"training.steps": 20000, "training.snapshots": 5})) == [
        4000, 8000, 12000, 16000, 20000]
    with pytest.raises(ConfigError, match="multiple of training.snapshots"):
        resolve("pitot", {"training.steps": 10, "training.snapshots": 3})
    with pytest.raises(ConfigError, match="cannot be combined"):
        resolve("pitot", {"training.snapshots": 2, "training.ensemble": 2})
    assert resolve("pitot/ensemble", {"training.snapshots": 1}).training.snapshots == 1
    with pytest.raises(ConfigError, match="training.snapshots must be >= 0"):
        resolve("pitot", {"training.snapshots": -1})
    with pytest.raises(ConfigError, match=r"snapshot_members must be in \[0, training"):
        resolve("pitot", {"training.snapshots": 2, "training.snapshot_members": 3})
    for snapshots in (0, 1):
        with pytest.raises(ConfigError, match="snapshot_members needs training.snapshots >= 2"):
            resolve("pitot", {"training.snapshots": snapshots, "training.snapshot_members": 1})


def test_one_member_per_cycle(trained: TrainResult) -> None:
    assert member_names(trained.model) == [f"member_{e}" for e in range(SNAPSHOTS)]
    assert trained.snapshot_steps == [CYCLE, 2 * CYCLE, 3 * CYCLE]
    assert list(trained.history["step"]) == [CYCLE, 2 * CYCLE, 3 * CYCLE]


def test_prediction_is_the_mean_of_the_snapshots(trained: TrainResult,
                                                 synth_dataset: Dataset) -> None:
    inputs = if2_inputs(synth_dataset)
    each = np.stack([predict_inputs(member, inputs) for member in member_models(trained.model)])
    np.testing.assert_allclose(predict_inputs(trained.model, inputs), each.mean(axis=0),
                               rtol=1e-5, atol=1e-5)
    assert all(not np.allclose(each[0], each[e], atol=1e-4) for e in range(1, SNAPSHOTS))


def test_first_snapshot_is_a_run_of_one_cycle(trained: TrainResult,
                                              synth_dataset: Dataset) -> None:
    """The first member is the model a run of the first cycle alone ends with (same seed,
    batches and learning rates): the members really are the snapshots."""
    one = train(resolve("pitot", {**FAST, "training.steps": CYCLE, "training.snapshots": 1}),
                synth_dataset, make_split(synth_dataset, 0.5))
    inputs = if2_inputs(synth_dataset)
    assert member_names(one.model) == []
    np.testing.assert_allclose(predict_inputs(member_models(trained.model)[0], inputs),
                               predict_inputs(one.model, inputs), rtol=1e-4, atol=1e-4)


def test_snapshots_are_the_best_weights_of_their_cycle(synth_dataset: Dataset) -> None:
    """Validated several times per cycle, each cycle gives its best validation weights."""
    result = train(resolve("pitot", {**FAST, "training.val_every": 5,
                                     "training.snapshots": SNAPSHOTS,
                                     "training.snapshot_members": SNAPSHOTS}),
                   synth_dataset, make_split(synth_dataset, 0.5))
    history = result.history.set_index("step")["val_loss"]
    for cycle, step in enumerate(result.snapshot_steps):
        within = history[(history.index > cycle * CYCLE) & (history.index <= (cycle + 1) * CYCLE)]
        assert step == int(within.idxmin())
    assert np.isfinite(result.best_val_loss)


def test_last_best_takes_the_fewest_on_ties() -> None:
    assert last_best([0.3, 0.2, 0.25]) == 2
    assert last_best([0.1, 0.1, 0.2]) == 1


def test_validation_chooses_how_many_snapshots(trained: TrainResult,
                                               synth_dataset: Dataset) -> None:
    """With ``snapshot_members=0`` the members are the last ``k`` snapshots whose mean has
    the lowest validation loss: never worse on validation than all of them, and the loss
    reported is the chosen model's."""
    config = resolve("pitot", {**FAST, "training.snapshots": SNAPSHOTS})
    trainer = Trainer(config, synth_dataset, make_split(synth_dataset, 0.5))
    chosen = trainer.fit()
    count = len(chosen.snapshot_steps)
    assert 1 <= count <= SNAPSHOTS
    assert chosen.snapshot_steps == trained.snapshot_steps[-count:]
    assert len(member_models(chosen.model)) == count
    assert chosen.best_val_loss <= trained.best_val_loss + 1e-6
    assert chosen.best_val_loss == pytest.approx(trainer.weighted(trainer.validation_losses()),
                                                 rel=1e-4)


def test_keras_file_round_trip(trained: TrainResult, synth_dataset: Dataset,
                               tmp_path: Path) -> None:
    loaded = assert_keras_round_trip(trained.model, if2_inputs(synth_dataset),
                                     tmp_path / "snapshots.keras")
    assert len(member_models(loaded)) == SNAPSHOTS


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainingRun]:
    root = tmp_path_factory.mktemp("snapshot-pyfunc")
    with private_tracking(root, tmp_path_factory.getbasetemp()):
        experiment("snapshots", root)
        data = synthesize_dataset(root / "data", platforms=30, workloads=50, density=0.7)
        yield run_training("pitot", {**FAST, "training.snapshots": 2,
                                     "training.snapshot_members": 2},
                           RunOptions(data_dir=data, experiment="snapshots"))


def test_pyfunc_of_a_snapshot_ensemble(tracked: TrainingRun) -> None:
    """The logged pyfunc model answers with the snapshots' mean plus the calibrated margin."""
    assert len(member_models(tracked.result.model)) == 2
    assert_pyfunc_answers_like_keras(tracked)
