"""Bounds by k: the groups of k, revealing rows, and coverage of held-out workloads at every k
on synthetic data when calibration simulates fold-in on the validation workloads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pitot_tf.conformal import ConformalUpperBound
from pitot_tf.conformal.few_shot import (
    ISOLATED,
    calibration_residuals,
    fold_in_bounds,
    k_group,
    reveal,
    simulate,
)
from pitot_tf.conformal.metrics import coverage
from pitot_tf.data.cold import make_cold_split
from pitot_tf.data.dataset import Dataset, load_dataset
from pitot_tf.data.splits import Split
from pitot_tf.data.synth import synthesize_dataset
from pitot_tf.errors import ConformalError
from pitot_tf.models.numpy_export import numpy_pitot
from pitot_tf.models.numpy_predictor import NumpyPitot
from pitot_tf.presets import resolve
from pitot_tf.training import train

SMALL = {"training.steps": 150, "training.val_every": 50, "training.batch": 128,
         "training.progress": False, "training.jit_compile": False,
         "model.layers": [16], "model.mf_dim": 4, "model.if_dim": 2, "model.cold_dropout": 0.3}
ALPHA = 0.2


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    folder: Path = tmp_path_factory.mktemp("few-shot-conformal")
    return load_dataset(synthesize_dataset(folder, platforms=20, workloads=60, seed=5,
                                           density=0.8))


@pytest.fixture(scope="module")
def split(dataset: Dataset) -> Split:
    return make_cold_split(dataset, 1.0, 0, mode="cold-workload", holdout=0.25)


@pytest.fixture(scope="module")
def pitot(dataset: Dataset, split: Split) -> NumpyPitot:
    tables = numpy_pitot(train(resolve("pitot", SMALL), dataset, split).model)
    assert tables is not None
    return tables


def test_k_groups() -> None:
    assert [k_group(k) for k in (0, 1, 2, 3, 4, 10, 11, 500)] == [
        "0", "1", "2-3", "2-3", "4-10", "4-10", ">10", ">10"]
    with pytest.raises(ConformalError, match="k must be >= 0"):
        k_group(-1)


def test_reveal_keeps_a_row_of_every_entity(dataset: Dataset, split: Split) -> None:
    obs = dataset.objectives[ISOLATED]
    rows = split.rows(ISOLATED, "test")
    entities = np.unique(obs.workload[rows])
    shown = reveal(obs, rows, "workload", dict.fromkeys(entities.tolist(), 1000),
                   np.random.default_rng(0))
    assert set(shown) <= set(rows)
    for w in entities:
        own = rows[obs.workload[rows] == w]
        assert np.isin(own, shown).sum() == len(own) - 1


def test_coverage_holds_at_every_k(dataset: Dataset, split: Split, pitot: NumpyPitot) -> None:
    """Calibrated by simulating fold-in on the validation workloads, Mondrian by k, the bound
    covers the held-out test workloads' other rows about 1 - alpha of the time at each k."""
    val = {name: split.rows(name, "val") for name in split.objectives()}
    test = {name: split.rows(name, "test") for name in split.objectives()}
    rng = np.random.default_rng(0)
    calibration = calibration_residuals(pitot, dataset, val, "workload", rng, repeats=3)
    bound = ConformalUpperBound(alphas=(ALPHA,), mondrian=True)
    bound.fit(calibration[ISOLATED].true, calibration[ISOLATED].pred,
              calibration[ISOLATED].group)
    assert set(bound.groups_) == {"0", "1", "2-3", "4-10", ">10"}
    for k in (0, 1, 3, 8):
        covered = []
        for _ in range(5):
            scored = simulate(pitot, dataset, test, "workload", k, rng)[0][ISOLATED]
            upper = bound.upper_bound(scored.pred, alpha=ALPHA, groups=scored.group)
            covered.append(coverage(scored.true, upper))
        assert abs(np.mean(covered) - (1 - ALPHA)) < 0.1, (k, covered)


def test_fold_in_bounds_for_a_logged_model(dataset: Dataset, split: Split,
                                           pitot: NumpyPitot) -> None:
    """On the validation workloads: a calibrated prior replaces the trained rows' one, and
    every objective gets a bound with a margin per group of k, at the alphas its smallest
    group supports; with a single held-out workload nothing changes."""
    val = {name: split.rows(name, "val") for name in split.objectives()}
    tuned, bounds = fold_in_bounds(pitot, dataset, val, (0.05, 0.2, 1e-6))
    assert set(bounds) == set(split.objectives())
    for bound in bounds.values():
        assert bound.mondrian and set(bound.groups_) == {"0", "1", "2-3", "4-10", ">10"}
        assert list(bound.alphas) == [0.05, 0.2]
    assert not np.allclose(tuned.fold_in_priors["workload"].covariance,
                           pitot.fold_in_priors["workload"].covariance)
    iso = dataset.objectives[ISOLATED]
    one = {ISOLATED: val[ISOLATED][iso.workload[val[ISOLATED]] == iso.workload[val[ISOLATED][0]]]}
    assert fold_in_bounds(pitot, dataset, one, (0.2,)) == (pitot, {})


def test_fold_in_bounds_for_held_out_platforms(dataset: Dataset) -> None:
    """A cold-platform split: the platform fold-in prior is calibrated on its validation
    platforms and every objective gets a bound per group of k runs on a platform."""
    split = make_cold_split(dataset, 1.0, 0, mode="cold-platform", holdout=0.25)
    tables = numpy_pitot(train(resolve("pitot", SMALL), dataset, split).model)
    assert tables is not None
    val = {name: split.rows(name, "val") for name in split.objectives()}
    tuned, bounds = fold_in_bounds(tables, dataset, val, (0.2,), axis="platform")
    assert set(bounds) == set(split.objectives())
    for bound in bounds.values():
        assert bound.mondrian and set(bound.groups_) == {"0", "1", "2-3", "4-10", ">10"}
    assert not np.allclose(tuned.fold_in_priors["platform"].covariance,
                           tables.fold_in_priors["platform"].covariance)
