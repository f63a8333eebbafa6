"""Cold start: rows never measured get neutral free weights and a feature-based baseline,
and a model extended with new rows predicts them from features alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pitot_tf.data.cold import make_cold_split
from pitot_tf.data.dataset import load_dataset
from pitot_tf.data.synth import synthesize_dataset
from pitot_tf.models.cold import extend_model
from pitot_tf.presets import resolve
from pitot_tf.training import train
from pitot_tf.training.batches import Rows
from pitot_tf.training.predict import predict_objective, predict_rows

OVERRIDES = {"training.steps": 400, "training.val_every": 100, "training.batch": 128,
             "training.progress": False, "training.learning_rate": 3e-3}


@pytest.fixture(scope="module")
def cold_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    data = synthesize_dataset(tmp_path_factory.mktemp("cold"), platforms=30, workloads=60, seed=5)
    dataset = load_dataset(data)
    split = make_cold_split(dataset, 0.9, mode="cold-workload", seed=1)
    return dataset, split, train(resolve("pitot", OVERRIDES), dataset, split)


def test_cold_workloads_predicted_from_features(cold_run) -> None:  # type: ignore[no-untyped-def]
    dataset, split, result = cold_run
    log_true, log_pred = predict_objective(result.model, dataset, "mf", split.rows("mf", "test"))
    mape = float(np.mean(np.abs(np.exp(log_true - log_pred[:, 0]) - 1)))
    # Knowing nothing but each platform's speed (the global mean per platform) does worse.
    naive = np.exp(log_true - log_true.mean())
    assert mape < 0.5 * float(np.mean(np.abs(naive - 1)))


def test_extended_row_matches_the_same_cold_row(cold_run) -> None:  # type: ignore[no-untyped-def]
    dataset, split, result = cold_run
    test_rows = split.rows("mf", "test")
    cold = int(dataset.objectives["mf"].workload[test_rows[0]])
    grown = extend_model(result.model, workload_features=dataset.workloads.features[[cold]])
    new_index = len(dataset.workloads)
    platforms = np.arange(len(dataset.platforms), dtype=np.int32)
    none = np.full((len(platforms), 1), -1, np.int32)

    def rows(workload: int) -> Rows:
        index = np.full(len(platforms), workload, np.int32)
        return Rows("mf", platforms, index, none, np.zeros(len(platforms), np.float32))

    original = predict_rows(result.model, rows(cold))
    np.testing.assert_allclose(predict_rows(grown, rows(new_index)), original, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(predict_rows(grown, rows(cold)), original, rtol=1e-6, atol=1e-6)


def test_extend_rejects_wrong_feature_size(cold_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from pitot_tf.errors import PredictionError

    _, _, result = cold_run
    with pytest.raises(PredictionError, match="needs .* features"):
        extend_model(result.model, workload_features=np.zeros((1, 3)))


def test_runtime_range_clips_only_the_chosen_rows() -> None:
    from pitot_tf.models.cold import RuntimeRange

    span = RuntimeRange.fit(np.array([1.0, 3.0, 2.0, 5.0]), np.array([0, 0, 1, 1]), size=3)
    np.testing.assert_array_equal(span.low, [1.0, 2.0, 1.0])  # entity 2: the global range
    np.testing.assert_array_equal(span.high, [3.0, 5.0, 5.0])
    pred = np.array([[0.0], [9.0], [9.0], [-4.0]])
    clipped = span.clip(pred, np.array([0, 1, 2, 2]), np.array([True, True, False, True]))
    np.testing.assert_array_equal(clipped[:, 0], [1.0, 5.0, 9.0, 1.0])
