"""The planning model of a served pyfunc bounds rows as the pyfunc answers them: after k
measured runs of the workload (or on the platform), with the margins calibrated with as many
folded in."""

from __future__ import annotations

import numpy as np
import pytest
from model_support import tiny_pyfunc

from pitot_tf.data.dataset import Dataset
from pitot_tf.planning.served import planning_model
from pitot_tf.serving.pyfunc import PitotRuntimeModel


@pytest.fixture(scope="module")
def cold(synth_dataset: Dataset) -> PitotRuntimeModel:
    return tiny_pyfunc(synth_dataset, cold=True)


@pytest.mark.parametrize(("k", "group"), [(1, "1"), (3, "2-3"), (12, ">10")])
def test_bounds_after_k_runs(cold: PitotRuntimeModel, k: int, group: str) -> None:
    log_pred = np.array([[0.0], [1.0], [2.0]])
    degree = np.array([1, 2, 3])  # degree 3 was not calibrated: the highest one's margin
    model, _ = planning_model(cold, 0.05, measured_runs=k)
    margins = [float(cold.fold_in_margins.by_degree[d].margin(0.05, [group])[0]) for d in (1, 2, 2)]
    np.testing.assert_allclose(model.bound(log_pred, degree), log_pred[:, 0] + margins)


def test_without_runs_the_kinds_margins(cold: PitotRuntimeModel) -> None:
    model, _ = planning_model(cold, 0.05)
    log_pred = np.array([[0.5]])
    expected = cold.margins.upper_bound(log_pred, np.array([1]), np.array([0.05]))
    np.testing.assert_allclose(model.bound(log_pred, np.array([1])), expected)


def test_a_new_platform_after_k_runs(synth_dataset: Dataset) -> None:
    """A model of a cold-platform split: a new platform with 3 runs on it is bounded by the
    margin calibrated on held-out platforms with 2-3 runs folded in."""
    served = tiny_pyfunc(synth_dataset, cold=True, mode="cold-platform")
    assert served.platform_fold_in_margins is not None
    features = synth_dataset.platforms.features[2]
    model, index = planning_model(served, 0.05, features, measured_runs=3, axis="platform")
    assert index == len(synth_dataset.platforms)
    margin = float(served.platform_fold_in_margins.by_degree[1].margin(0.05, ["2-3"])[0])
    np.testing.assert_allclose(model.bound(np.array([[0.5]]), np.array([1])), [0.5 + margin])
