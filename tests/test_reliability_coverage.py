"""The conformal guarantee, end to end: a trained Pitot model's upper bounds cover a fresh
runtime with probability 1 - alpha, for alpha = 0.1, 0.05 and 0.01.

The bound is split-conformal: calibrated on rows the model never saw. Given a pool of such
rows, re-splitting it at random into calibration and test rows many times makes the mean test
coverage exactly ``k / (n + 1)`` with ``k = ceil((1 - alpha)(n + 1))`` (the test row's rank
among the ``n + 1`` is uniform), which is ``1 - alpha`` for the sizes chosen here. The test
checks the mean within four standard deviations of the Beta-Binomial law of the coverage
(which over-states the spread of re-splits of one pool, so the check is conservative), and
that the bound is not wider than needed (mean coverage below ``1 - alpha + 1/(n + 1)``).

The pool is the test part of the training split: neither trained on nor used to pick the best
step (the validation part was). test_conformal_calibration.py checks the same law for the
calibration code alone, on synthetic residuals, with a power check against the uncorrected
quantile.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from pitot_tf.conformal import ConformalUpperBound, coverage
from pitot_tf.data.dataset import load_dataset
from pitot_tf.data.splits import make_split
from pitot_tf.data.synth import synthesize_dataset
from pitot_tf.presets import resolve
from pitot_tf.training import train
from pitot_tf.training.predict import predict_objective

ALPHAS = (0.1, 0.05, 0.01)
N_CALIBRATION = 199  # (1 - alpha)(n + 1) is an integer for every alpha above
RESPLITS = 300
Pool = dict[str, tuple[np.ndarray, np.ndarray]]


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Pool:
    """``{objective: (log_true, log_pred)}`` on the test rows of a model trained at level 0.3."""
    data = synthesize_dataset(tmp_path_factory.mktemp("coverage") / "data", platforms=24,
                              workloads=40, seed=7)
    dataset = load_dataset(data)
    split = make_split(dataset, 0.3, 0)
    config = resolve("pitot", {"training.steps": 300, "training.val_every": 100,
                               "training.batch": 64, "training.progress": False,
                               "training.jit_compile": False,
                               "model.layers": [32], "model.mf_dim": 8})
    model = train(config, dataset, split).model
    found: Pool = {}
    for name in dataset.objectives:
        log_true, log_pred = predict_objective(model, dataset, name, split.rows(name, "test"))
        found[name] = (np.asarray(log_true, np.float64), np.asarray(log_pred, np.float64))
    return found


def beta_binomial_sd(k: int, n: int, m: int, reps: int) -> float:
    """Standard deviation of the mean of ``reps`` test coverages over ``m`` rows each, when
    the calibration's coverage is Beta(k, n + 1 - k)."""
    a, b = k, n + 1 - k
    mean = a / (a + b)
    var_c = a * b / ((a + b) ** 2 * (a + b + 1))
    within = mean - (var_c + mean**2)
    return math.sqrt((var_c + within / m) / reps)


def resplit_coverage(log_true: np.ndarray, log_pred: np.ndarray, alpha: float,
                     seed: int) -> np.ndarray:
    """Test coverage of the bound after each of :data:`RESPLITS` random re-splits."""
    rng = np.random.default_rng(seed)
    covered = np.empty(RESPLITS)
    for i in range(RESPLITS):
        order = rng.permutation(len(log_true))
        cal, test = order[:N_CALIBRATION], order[N_CALIBRATION:]
        bound = ConformalUpperBound(alphas=[alpha]).fit(log_true[cal], log_pred[cal])
        covered[i] = coverage(log_true[test], bound.upper_bound(log_pred[test], alpha))
    return covered


@pytest.mark.parametrize("objective", ["mf", "if2"])
@pytest.mark.parametrize("alpha", ALPHAS)
def test_bounds_of_a_trained_model_cover_one_minus_alpha(pool: Pool, objective: str,
                                                         alpha: float) -> None:
    log_true, log_pred = pool[objective]
    m = len(log_true) - N_CALIBRATION
    assert m >= 150, "the pool must leave enough test rows"
    covered = resplit_coverage(log_true, log_pred, alpha, seed=int(alpha * 1000))
    k = math.ceil(round((1 - alpha) * (N_CALIBRATION + 1), 9))
    expected = k / (N_CALIBRATION + 1)
    tolerance = 4 * beta_binomial_sd(k, N_CALIBRATION, m, RESPLITS)
    assert expected == pytest.approx(1 - alpha)
    assert abs(covered.mean() - expected) <= tolerance, (covered.mean(), expected, tolerance)
    assert covered.mean() <= 1 - alpha + 1 / (N_CALIBRATION + 1) + tolerance


def test_the_pool_was_never_trained_on(tmp_path: Path) -> None:
    """The premise of the test above: the split's parts are disjoint, so test rows are
    exchangeable with each other and unseen by training and by the choice of best step."""
    dataset = load_dataset(synthesize_dataset(tmp_path, platforms=24, workloads=40, seed=7))
    split = make_split(dataset, 0.3, 0)
    for name in dataset.objectives:
        seen = np.concatenate([split.rows(name, "train"), split.rows(name, "val")])
        assert not np.intersect1d(seen, split.rows(name, "test")).size
        assert len(split.rows(name, "test")) - N_CALIBRATION >= 150
