"""Cold/warm groups for Mondrian bounds: labels from the training rows, and cold bounds that
hold for workloads never measured, calibrated on other held-out workloads."""

from __future__ import annotations

import numpy as np
import pytest

from pitot_tf.conformal import ConformalUpperBound
from pitot_tf.conformal.groups import COLD, WARM, cold_warm_groups
from pitot_tf.conformal.metrics import coverage
from pitot_tf.data.cold import left_out_rows, make_cold_split, seen_entities
from pitot_tf.data.dataset import Dataset


def test_rows_of_unseen_entities_are_cold(synth_dataset: Dataset) -> None:
    split = make_cold_split(synth_dataset, 0.5, mode="cold-workload")
    seen = seen_entities(synth_dataset, split)
    for name, obs in synth_dataset.objectives.items():
        train, test = split.rows(name, "train"), split.rows(name, "test")
        assert (cold_warm_groups(obs, train, seen) == WARM).all()
        assert (cold_warm_groups(obs, test, seen) == COLD).all()
        warm = left_out_rows(synth_dataset, split, name)
        assert len(warm) and (cold_warm_groups(obs, warm, seen) == WARM).all()
        assert not np.isin(warm, np.concatenate([train, test, split.rows(name, "val")])).any()
    if2 = synth_dataset.objectives["if2"]  # a warm row beside an unseen co-runner is cold
    unseen = np.flatnonzero(~seen["workload"])[0]
    row = np.flatnonzero(seen["workload"][if2.workload] & (if2.interferers[:, 0] == unseen))
    if len(row):
        assert cold_warm_groups(if2, row[:1], seen)[0] == COLD


@pytest.mark.slow
def test_cold_bounds_hold_over_draws_of_workloads(synth_dataset: Dataset) -> None:
    """Mondrian bounds in one model: cold test rows get the margin of the held-out
    calibration workloads (warm rows that of warm rows left out of training) and are covered
    about 1 - alpha of the time over draws of the held-out workloads."""
    from pitot_tf.presets import resolve
    from pitot_tf.training import train
    from pitot_tf.training.predict import predict_objective

    alpha, covered = 0.1, []
    config = resolve("pitot/cold", {"training.steps": 200, "training.val_every": 100,
                                    "training.batch": 64, "training.progress": False,
                                    "model.layers": [32], "model.mf_dim": 8})
    for draw in range(5):
        split = make_cold_split(synth_dataset, 0.7, draw, mode="cold-workload")
        model = train(config, synth_dataset, split).model
        obs, seen = synth_dataset.objectives["mf"], seen_entities(synth_dataset, split)
        calibration = np.concatenate([split.rows("mf", "val"),
                                      left_out_rows(synth_dataset, split, "mf")])
        true, pred = predict_objective(model, synth_dataset, "mf", calibration)
        bound = ConformalUpperBound(alphas=(alpha,), mondrian=True)
        bound.fit(true, pred, cold_warm_groups(obs, calibration, seen))
        test = split.rows("mf", "test")
        true, pred = predict_objective(model, synth_dataset, "mf", test)
        groups = cold_warm_groups(obs, test, seen)
        assert set(bound.groups_) == {COLD, WARM}
        covered.append(coverage(true, bound.upper_bound(pred, alpha, groups)))
    assert abs(np.mean(covered) - (1 - alpha)) < 0.08, covered
