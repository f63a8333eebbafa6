"""Cold/warm groups and cold kinds for Mondrian bounds: labels from the training rows, and cold
bounds that hold for workloads (and workloads on platforms) never measured, calibrated on
other held-out ones."""

from __future__ import annotations

import numpy as np
import pytest

from pitot_tf.conformal import ConformalUpperBound
from pitot_tf.conformal.groups import (
    COLD,
    COLD_BOTH,
    COLD_KINDS,
    COLD_PLATFORM,
    COLD_WORKLOAD,
    WARM,
    cold_kinds,
    cold_warm_groups,
)
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


def test_kinds_refine_cold_and_warm(synth_dataset: Dataset) -> None:
    """A row is warm exactly when :func:`cold_warm_groups` says so; its kind follows its own
    workload and platform, and a co-runner never measured beside a measured workload on a
    measured platform makes it a cold workload."""
    split = make_cold_split(synth_dataset, 0.5, mode="cold-both")
    seen = seen_entities(synth_dataset, split)
    for obs in synth_dataset.objectives.values():
        rows = np.arange(len(obs))
        kinds = cold_kinds(obs, rows, seen)
        assert set(kinds.tolist()) <= set(COLD_KINDS)
        np.testing.assert_array_equal(kinds == WARM, cold_warm_groups(obs, rows, seen) == WARM)
        platform, workload = seen["platform"][obs.platform], seen["workload"][obs.workload]
        np.testing.assert_array_equal(kinds == COLD_BOTH, ~platform & ~workload)
        np.testing.assert_array_equal(kinds == COLD_PLATFORM, ~platform & workload)
    if2 = synth_dataset.objectives["if2"]
    beside = np.flatnonzero(seen["platform"][if2.platform] & seen["workload"][if2.workload]
                            & ~seen["workload"][if2.interferers[:, 0]])
    assert len(beside) and (cold_kinds(if2, beside, seen) == COLD_WORKLOAD).all()


@pytest.mark.slow
def test_cold_both_bounds_hold_over_draws(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Mondrian over row kinds in one model trained on a ``cold-both`` split: a test row's
    bound comes from calibration rows of its kind, and rows of a workload never measured on a
    platform never measured are covered about 1 - alpha of the time over draws of held-out
    entities (measured: 0.860 for mf and 0.881 for 2-way at alpha 0.1; per draw 0.69-1.0, as
    few held-out entities make one draw's coverage noisy)."""
    from pitot_tf.data.dataset import load_dataset
    from pitot_tf.data.synth import synthesize_dataset
    from pitot_tf.presets import resolve
    from pitot_tf.training import train
    from pitot_tf.training.predict import predict_objective

    dataset = load_dataset(synthesize_dataset(tmp_path_factory.mktemp("both"), platforms=60,
                                              workloads=80, seed=2))
    alpha, covered = 0.1, {"mf": [], "if2": []}
    config = resolve("pitot/cold", {"training.steps": 200, "training.val_every": 100,
                                    "training.batch": 64, "training.progress": False,
                                    "training.jit_compile": False,
                                    "model.layers": [32], "model.mf_dim": 8,
                                    "training.ensemble": 1})
    for draw in range(10):
        split = make_cold_split(dataset, 1.0, draw, mode="cold-both")
        model, seen = train(config, dataset, split).model, seen_entities(dataset, split)
        for name, scores in covered.items():
            obs, val, test = (dataset.objectives[name], split.rows(name, "val"),
                              split.rows(name, "test"))
            true, pred = predict_objective(model, dataset, name, val)
            bound = ConformalUpperBound(alphas=(alpha,), mondrian=True)
            bound.fit(true, pred, cold_kinds(obs, val, seen))
            assert set(bound.groups_) == {COLD_WORKLOAD, COLD_PLATFORM, COLD_BOTH}
            true, pred = predict_objective(model, dataset, name, test)
            kinds = cold_kinds(obs, test, seen)
            both = kinds == COLD_BOTH
            upper = bound.upper_bound(pred, alpha, kinds)
            scores.append(coverage(true[both], upper[both]))
    for scores in covered.values():
        assert abs(np.mean(scores) - (1 - alpha)) < 0.08, scores


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
                                    "training.jit_compile": False,
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
