"""Split-conformal upper bounds: coverage, oracle agreement, edge cases, CQR, Mondrian, I/O."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from crepes import ConformalPredictiveSystem, ConformalRegressor

from pitot_tf.conformal import (
    DEFAULT_ALPHAS,
    ConformalUpperBound,
    conformal_margins,
    conformal_rank,
    coverage,
    coverage_by_group,
)
from pitot_tf.conformal.metrics import bound_width
from pitot_tf.errors import ConformalError, PitotError


def _synthetic(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """log runtime = f(x) + skewed noise; the model predicts f(x) with a bias."""
    x = rng.uniform(0.0, 3.0, n)
    log_true = 2.0 * x + rng.gumbel(0.0, 0.4, n)
    log_pred = 2.0 * x - 0.2
    return log_true, log_pred


def _beta_binomial_sd(k: int, n: int, m: int, reps: int) -> float:
    """Standard deviation of the mean test coverage over ``reps`` independent splits.

    Given calibration, split-conformal coverage is Beta(k, n + 1 - k); the test estimate adds
    Binomial(m, C)/m noise. Var = Var(C) + E[C (1 - C)] / m.
    """
    a, b = k, n + 1 - k
    mean = a / (a + b)
    var_c = a * b / ((a + b) ** 2 * (a + b + 1))
    e_c_one_minus_c = mean - (var_c + mean**2)
    return math.sqrt((var_c + e_c_one_minus_c / m) / reps)


def test_default_alphas() -> None:
    assert DEFAULT_ALPHAS == (0.1, 0.09, 0.08, 0.07, 0.06, 0.05, 0.04, 0.03, 0.02, 0.01)


# n_cal is chosen so that (1 - alpha) n is an integer: there the uncorrected level (1 - alpha)
# picks a residual one rank too low and under-covers by about (1 - alpha)/(n + 1) -- more than
# the tolerance, so the test below fails if the finite-sample correction is dropped.
@pytest.mark.parametrize(("alpha", "n_cal"), [(0.1, 10), (0.05, 20), (0.01, 100)])
def test_coverage_over_random_resplits(alpha: float, n_cal: int) -> None:
    rng = np.random.default_rng(1234)
    reps, m = 200, 1000
    ours, uncorrected = np.empty(reps), np.empty(reps)
    for i in range(reps):
        log_true, log_pred = _synthetic(rng, n_cal + m)
        perm = rng.permutation(n_cal + m)
        cal, test = perm[:n_cal], perm[n_cal:]
        cub = ConformalUpperBound(alphas=[alpha]).fit(log_true[cal], log_pred[cal])
        ours[i] = coverage(log_true[test], cub.upper_bound(log_pred[test], alpha))
        naive = np.quantile(log_true[cal] - log_pred[cal], 1 - alpha, method="inverted_cdf")
        uncorrected[i] = coverage(log_true[test], log_pred[test] + naive)

    k = math.ceil(round((1 - alpha) * (n_cal + 1), 9))
    expected = k / (n_cal + 1)  # exact mean coverage of split conformal (continuous scores)
    tol = 4.0 * _beta_binomial_sd(k, n_cal, m, reps)
    assert abs(ours.mean() - expected) <= tol
    assert ours.mean() >= 1 - alpha - tol
    assert ours.mean() <= 1 - alpha + 1 / (n_cal + 1) + tol
    # Power check: the uncorrected quantile level is detectably below target.
    assert uncorrected.mean() < 1 - alpha - tol


def test_margins_match_crepes_and_numpy() -> None:
    rng = np.random.default_rng(7)
    n = 997  # (1 - alpha)(n + 1) is never an integer on the grid: no float-rounding ties
    log_true = rng.normal(size=n)
    log_pred = np.stack([rng.normal(size=n), 0.5 * rng.normal(size=n) - 1.0], axis=1)
    cub = ConformalUpperBound().fit(log_true, log_pred)
    residuals = log_true[:, None] - log_pred
    assert cub.margins_.shape == (len(DEFAULT_ALPHAS), 2)

    percentiles = [100 * (1 - a) for a in DEFAULT_ALPHAS]
    for h in range(2):
        r = residuals[:, h]
        # crepes' conformal predictive system on signed residuals is one-sided: its "higher"
        # percentile 100(1 - alpha) is the ceil((1 - alpha)(n + 1))-th smallest residual.
        cps = ConformalPredictiveSystem().fit(r)
        cps_margin = cps.predict_percentiles(np.zeros(1), higher_percentiles=percentiles)[0]
        np.testing.assert_array_equal(cub.margins_[:, h], cps_margin)
        # crepes' ConformalRegressor is two-sided on |r|; shifting all residuals positive
        # makes |r| = r (order unchanged), so its upper interval end is the same statistic.
        shift = 1.0 - r.min()
        cr = ConformalRegressor().fit(r + shift)
        cr_margin = [cr.predict_int(np.zeros(1), confidence=1 - a)[0, 1] for a in DEFAULT_ALPHAS]
        np.testing.assert_allclose(cub.margins_[:, h], np.array(cr_margin) - shift, atol=1e-12)
        levels = [(1 - a) * (1 + 1 / n) for a in DEFAULT_ALPHAS]
        np.testing.assert_array_equal(
            cub.margins_[:, h], np.quantile(r, levels, method="inverted_cdf")
        )


def test_mondrian_margins_match_crepes() -> None:
    rng = np.random.default_rng(8)
    sizes = {"wasm": 317, "native": 480, "py": 200}
    groups = np.repeat(list(sizes), list(sizes.values()))
    log_true = rng.normal(size=groups.size) * np.where(groups == "py", 3.0, 1.0)
    log_pred = np.zeros(groups.size)
    cub = ConformalUpperBound(mondrian=True).fit(log_true, log_pred, groups)
    cps = ConformalPredictiveSystem().fit(log_true - log_pred, bins=groups)
    percentiles = [100 * (1 - a) for a in DEFAULT_ALPHAS]
    for label in sizes:
        expected = cps.predict_percentiles(
            np.zeros(1), bins=np.array([label]), higher_percentiles=percentiles
        )[0]
        np.testing.assert_array_equal(cub.group_margins_[label][:, 0], expected)


def test_rank_at_integer_levels_is_exact() -> None:
    # (1 - 0.1) * 100 = 90 exactly in rationals; float noise must not push it to 91.
    assert conformal_rank(0.1, 99) == 90
    assert conformal_rank(0.05, 19) == 19
    assert conformal_rank(0.01, 99) == 99
    assert conformal_rank(0.1, 10) == 10
    assert conformal_rank(0.5, 1) == 1


def test_alpha_too_small_for_calibration_set_raises() -> None:
    residuals = np.arange(9.0)
    with pytest.raises(ConformalError, match=r"alpha=0\.05.*n=9.*smallest alpha.*0\.1\b"):
        conformal_margins(residuals, [0.05])
    # alpha = 1/(n + 1) is the edge: level exactly 1, margin is the largest residual.
    assert conformal_margins(residuals, [1 / 10])[0, 0] == 8.0
    with pytest.raises(ConformalError, match=r"n=50.*1/\(n\+1\)=0\.01961"):
        ConformalUpperBound().fit(np.zeros(50), np.zeros(50))  # grid reaches alpha=0.01


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_alpha_outside_unit_interval_raises(alpha: float) -> None:
    with pytest.raises(ConformalError, match="alpha"):
        ConformalUpperBound(alphas=[alpha])
    cub = ConformalUpperBound(alphas=[0.1]).fit(np.arange(20.0), np.zeros(20))
    with pytest.raises(ConformalError):
        cub.upper_bound(np.zeros(3), alpha)
    assert issubclass(ConformalError, PitotError)


def test_mondrian_small_group_raises_naming_group() -> None:
    groups = np.array(["big"] * 200 + ["tiny"] * 5)
    with pytest.raises(ConformalError, match=r"group 'tiny'"):
        ConformalUpperBound(alphas=[0.1], mondrian=True).fit(np.zeros(205), np.zeros(205), groups)


def test_input_validation() -> None:
    with pytest.raises(ConformalError, match="mondrian"):
        ConformalUpperBound(mondrian=True).fit(np.zeros(200), np.zeros(200))
    with pytest.raises(ConformalError, match="shape"):
        ConformalUpperBound().fit(np.zeros(200), np.zeros(199))
    with pytest.raises(ConformalError, match="non-finite"):
        ConformalUpperBound().fit(np.full(200, np.nan), np.zeros(200))
    with pytest.raises(ConformalError, match="not fitted"):
        ConformalUpperBound().upper_bound(np.zeros(3))
    cub = ConformalUpperBound().fit(np.zeros(200), np.zeros((200, 2)))
    with pytest.raises(ConformalError, match="heads"):
        cub.upper_bound(np.zeros((3, 3)))


def test_cqr_picks_tightest_head() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    log_true = rng.normal(size=n)
    heads = np.stack(
        [
            log_true + rng.normal(0, 1.0, n),  # noisy
            log_true + rng.normal(0, 0.05, n) - 1.5,  # biased low but tight: margin fixes bias
            log_true + rng.normal(0, 0.5, n) + 2.0,  # over-predicts and noisy
        ],
        axis=1,
    )
    cub = ConformalUpperBound().fit(log_true, heads)
    assert cub.chosen_head_.tolist() == [1] * len(DEFAULT_ALPHAS)
    assert cub.chosen_head(0.033) == 1  # off the grid too
    assert np.all(cub.calibration_width_[:, 1] < cub.calibration_width_[:, [0, 2]].min(axis=1))
    bounds = cub.upper_bound(heads)
    np.testing.assert_allclose(bounds, heads[None, :, 1] + cub.margins_[:, 1, None])
    np.testing.assert_allclose(
        cub.calibration_width_[:, 1], bound_width(log_true, bounds), rtol=1e-12
    )
    table = cub.evaluate(log_true, heads)
    assert list(table.columns) == ["alpha", "head", "coverage", "width", "overprovision", "mape"]
    assert (table["head"] == 1).all()


def test_mondrian_fixes_undercoverage_of_noisy_group() -> None:
    rng = np.random.default_rng(11)
    alpha, n_cal, m, reps = 0.1, 400, 4000, 40
    cov_plain = {"quiet": [], "noisy": []}
    cov_mondrian = {"quiet": [], "noisy": []}
    for _ in range(reps):
        size = 2 * (n_cal + m)
        groups = np.where(rng.random(size) < 0.5, "quiet", "noisy")
        log_pred = rng.normal(size=size)
        log_true = log_pred + rng.normal(size=size) * np.where(groups == "noisy", 1.0, 0.1)
        cal, test = np.arange(size) < 2 * n_cal, np.arange(size) >= 2 * n_cal
        plain = ConformalUpperBound(alphas=[alpha]).fit(log_true[cal], log_pred[cal])
        mond = ConformalUpperBound(alphas=[alpha], mondrian=True).fit(
            log_true[cal], log_pred[cal], groups[cal]
        )
        for cub, out in ((plain, cov_plain), (mond, cov_mondrian)):
            bound = cub.upper_bound(log_pred[test], alpha, groups[test])
            table = coverage_by_group(log_true[test], bound, groups[test])
            for row in table.itertuples():
                out[str(row.group)].append(row.coverage)
    # Per group about n_cal calibration rows: Beta sd ~ sqrt(a(1-a)/n_cal) per split.
    tol = 4.0 * math.sqrt(alpha * (1 - alpha) * (1 / n_cal + 1 / m) / reps)
    for group in ("quiet", "noisy"):
        assert abs(np.mean(cov_mondrian[group]) - (1 - alpha)) <= tol + 1 / n_cal
    assert np.mean(cov_plain["noisy"]) < 1 - alpha - 0.05  # pooled margin under-covers
    assert np.mean(cov_plain["quiet"]) > 0.99


def test_unseen_group_falls_back_to_pooled_margin() -> None:
    rng = np.random.default_rng(5)
    groups = np.array([0] * 300 + [1] * 300)
    log_true = rng.normal(size=600) * np.where(groups == 1, 2.0, 1.0)
    cub = ConformalUpperBound(mondrian=True).fit(log_true, np.zeros(600), groups)
    rows = cub.margin(0.1, groups=np.array([0, 1, 7]))
    assert rows[0] == cub.group_margins_[0][0, 0]
    assert rows[1] == cub.group_margins_[1][0, 0]
    assert rows[2] == cub.margins_[0, 0]
    assert float(cub.margin(0.1)) == cub.margins_[0, 0]
    # Plain bounds accept and ignore groups.
    plain = ConformalUpperBound().fit(log_true, np.zeros(600))
    np.testing.assert_array_equal(plain.margin(0.1, groups=[0, 1, 7]), plain.margins_[0, 0])


@pytest.mark.parametrize("mondrian", [False, True])
def test_to_dict_from_dict_round_trip(mondrian: bool) -> None:
    rng = np.random.default_rng(9)
    n = 600
    groups = rng.choice(["x86", "arm", "riscv"], n)
    log_true = rng.normal(size=n)
    heads = np.stack([log_true + rng.normal(0, s, n) for s in (0.3, 0.6)], axis=1)
    cub = ConformalUpperBound(mondrian=mondrian).fit(log_true, heads, groups)
    state = json.loads(json.dumps(cub.to_dict()))
    back = ConformalUpperBound.from_dict(state)

    new_pred = rng.normal(size=(50, 2))
    new_groups = rng.choice(["x86", "arm", "riscv", "mips"], 50)
    np.testing.assert_array_equal(back.margins_, cub.margins_)
    np.testing.assert_array_equal(back.chosen_head_, cub.chosen_head_)
    np.testing.assert_array_equal(
        back.upper_bound(new_pred, groups=new_groups), cub.upper_bound(new_pred, groups=new_groups)
    )
    for alpha in (0.05, 0.025, 0.0123):  # on and off the calibrated grid
        np.testing.assert_array_equal(
            back.upper_bound(new_pred, alpha, new_groups),
            cub.upper_bound(new_pred, alpha, new_groups),
        )
    # Off-grid margins come from the stored residuals: same statistic as a direct computation.
    head = cub.chosen_head(0.025)
    direct = conformal_margins(log_true - heads[:, head], [0.025])[0, 0]
    assert float(back.margin(0.025)) == direct
    with pytest.raises(ConformalError, match="not a saved"):
        ConformalUpperBound.from_dict({"format": "something else"})
