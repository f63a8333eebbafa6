"""Few-shot fold-in: the closed-form posterior recovers a planted row, keeps the rest of the
model frozen, moves held-out workloads towards their measurements, and refuses bad
measurements with one line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pitot_tf.data.cold import make_cold_split
from pitot_tf.data.dataset import Dataset, load_dataset
from pitot_tf.data.synth import synthesize_dataset
from pitot_tf.errors import PredictionError
from pitot_tf.models.fold_in import (
    MAX_MEASUREMENTS,
    Entity,
    FoldInPrior,
    Measurements,
    Reveals,
    calibrated_prior,
    full_fit_deviations,
    posterior_covariance,
    posterior_shift,
    rescaled,
)
from pitot_tf.models.fold_in_tables import (
    design,
    fold_in,
    member_log_runtime,
    parameters,
    shifted,
    with_tuned_prior,
)
from pitot_tf.models.numpy_export import numpy_pitot
from pitot_tf.models.numpy_predictor import NumpyPitot
from pitot_tf.models.numpy_store import load_tables, save_tables
from pitot_tf.presets import resolve
from pitot_tf.training import train

SMALL = {"training.steps": 60, "training.val_every": 30, "training.batch": 64,
         "training.progress": False, "training.jit_compile": False,
         "model.layers": [16], "model.mf_dim": 4, "model.if_dim": 2,
         "model.cold_dropout": 0.3}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    folder: Path = tmp_path_factory.mktemp("fold-in")
    return load_dataset(synthesize_dataset(folder, platforms=12, workloads=30, seed=3))


@pytest.fixture(scope="module")
def pitot(dataset: Dataset) -> NumpyPitot:
    """A small cold-dropout Pitot trained on a cold-workload split (test workloads unseen)."""
    split = make_cold_split(dataset, 1.0, 0, mode="cold-workload", holdout=0.2)
    tables = numpy_pitot(train(resolve("pitot", SMALL), dataset, split).model)
    assert tables is not None
    return tables


def test_fold_in_of_a_new_platform_row(dataset: Dataset, pitot: NumpyPitot) -> None:
    """A platform added from its features (:meth:`NumpyPitot.with_platforms`) folds in runs of
    known workloads on it like a trained one: its planted row comes back, the rest stays."""
    grown = pitot.with_platforms(dataset.platforms.features[[0]] + 0.1)
    entity = Entity("platform", pitot.platforms)
    prior = grown.fold_in_priors["platform"]
    draw = np.linalg.cholesky(prior.covariance[0]) @ np.random.default_rng(2).normal(size=5)
    truth = shifted(grown, entity, draw[None])
    other = np.arange(grown.workloads)
    measured = Measurements.of(other, member_log_runtime(truth, entity, other)[0], len(other))
    found = grown.fold_in(entity, measured)
    before = np.abs(member_log_runtime(grown, entity, other) - measured.log_runtime).mean()
    after = np.abs(member_log_runtime(found, entity, other) - measured.log_runtime).mean()
    assert after < 0.2 * before
    np.testing.assert_array_equal(found.tables.x_p[:-1], grown.tables.x_p[:-1])
    np.testing.assert_array_equal(found.platform_scale[:, :-1], grown.platform_scale[:, :-1])


def test_posterior_shift_recovers_planted_parameters_without_noise() -> None:
    rng = np.random.default_rng(0)
    design = rng.normal(size=(2, 12, 5))
    planted = rng.normal(size=(2, 5))
    prior = FoldInPrior(np.repeat(np.eye(5)[None], 2, axis=0), noise=1e-8)
    shift = posterior_shift(design, np.einsum("ekm,em->ek", design, planted), prior)
    np.testing.assert_allclose(shift, planted, atol=1e-5)
    assert np.allclose(posterior_covariance(design, prior), 0, atol=1e-5)


def test_posterior_stays_at_the_prior_without_measurements() -> None:
    prior = FoldInPrior(np.repeat(np.eye(3)[None], 2, axis=0))
    assert not posterior_shift(np.zeros((2, 0, 3)), np.zeros((2, 0)), prior).any()
    np.testing.assert_array_equal(posterior_covariance(np.zeros((2, 0, 3)), prior),
                                  prior.covariance)


def test_prior_comes_from_trained_rows(pitot: NumpyPitot) -> None:
    for axis in ("workload", "platform"):
        covariance = pitot.fold_in_priors[axis].covariance
        assert covariance.shape == (1, 5, 5)
        assert np.all(np.linalg.eigvalsh(covariance) > 0)


@pytest.mark.parametrize("axis", ["workload", "platform"])
def test_fold_in_recovers_a_planted_row(pitot: NumpyPitot, axis: str) -> None:
    """Runtimes of a planted row (drawn from the fold-in prior around the model's row) on
    every row of the other axis, folded in from the model's row with little noise: the planted
    row comes back (to a small share of the prior's spread), and no other row moves."""
    entity = Entity(axis, 3)
    prior = pitot.fold_in_priors[axis]
    spread = np.sqrt(np.diagonal(prior.covariance[0]))
    draw = np.linalg.cholesky(prior.covariance[0]) @ np.random.default_rng(1).normal(size=5)
    truth = shifted(pitot, entity, draw[None])
    other = np.arange(pitot.platforms if axis == "workload" else pitot.workloads)
    measured = Measurements.of(other, member_log_runtime(truth, entity, other)[0], len(other))
    found = fold_in(pitot, entity, measured, prior.scaled(1e-12))
    error = np.abs(parameters(found, axis)[3, 0] - parameters(truth, axis)[3, 0])
    assert np.all(error < 0.02 * spread), error / spread
    others = np.arange(len(parameters(pitot, axis))) != 3
    np.testing.assert_array_equal(parameters(found, axis)[others],
                                  parameters(pitot, axis)[others])
    np.testing.assert_array_equal(found.tables.v_s, pitot.tables.v_s)


def test_fold_in_moves_held_out_workloads_towards_their_runtimes(
        dataset: Dataset, pitot: NumpyPitot) -> None:
    """Test workloads (never trained on) made 1.6x slower than their data says: with half
    their platforms measured, fold-in predicts the other half far better than zero-shot."""
    obs = dataset.objectives["mf"]
    split = make_cold_split(dataset, 1.0, 0, mode="cold-workload", holdout=0.2)
    test = split.rows("mf", "test")
    rng = np.random.default_rng(0)
    before, after = [], []
    for w in np.unique(obs.workload[test]):
        rows = rng.permutation(test[obs.workload[test] == w])
        shown, hidden = rows[: len(rows) // 2], rows[len(rows) // 2 :]
        entity = Entity("workload", int(w))
        measured = Measurements.of(obs.platform[shown], obs.log_runtime[shown] + 0.5,
                                   pitot.platforms)
        folded = pitot.fold_in(entity, measured)
        truth = obs.log_runtime[hidden] + 0.5
        before += list(member_log_runtime(pitot, entity, obs.platform[hidden])[0] - truth)
        after += list(member_log_runtime(folded, entity, obs.platform[hidden])[0] - truth)
    assert np.mean(np.abs(after)) < 0.5 * np.mean(np.abs(before))


def test_tuned_prior_predicts_held_out_runs_at_least_as_well(dataset: Dataset,
                                                              pitot: NumpyPitot) -> None:
    """Tuning on the validation workloads picks the candidate prior that predicts their
    hidden runs best, so no worse than the untuned prior (one of the candidates)."""
    obs = dataset.objectives["mf"]
    val = make_cold_split(dataset, 1.0, 0, mode="cold-workload", holdout=0.2).rows("mf", "val")
    tuned = with_tuned_prior(pitot, "workload", obs.workload[val], obs.platform[val],
                             obs.log_runtime[val], source="trained")
    designs, residuals = [], []
    for w in np.unique(obs.workload[val]):
        own, entity = val[obs.workload[val] == w], Entity("workload", int(w))
        designs.append(design(pitot, entity, obs.platform[own]))
        residuals.append(obs.log_runtime[own][None]
                         - member_log_runtime(pitot, entity, obs.platform[own]))
    reveals = Reveals.draw(designs, residuals)
    raw = pitot.fold_in_priors["workload"]
    assert reveals.error(rescaled(raw, *tuned.prior_rescale["workload"])) <= reveals.error(raw)
    assert tuned.prior_rescale["platform"] == pitot.prior_rescale["platform"]


def planted_entities(count: int, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray],
                                                         np.ndarray]:
    """Entities whose rows deviate from their zero-shot rows along two planted directions
    of a 6-parameter row (2 members, 40 runs each, little noise): designs, residuals and
    the planted deviations ``(count, 2, 6)``."""
    rng = np.random.default_rng(seed)
    directions = np.zeros((2, 6))
    directions[0, 0], directions[1, 1:3] = 1.0, [0.6, 0.8]
    planted = np.einsum("nec,cm->nem", rng.normal(size=(count, 2, 2)), directions)
    designs = [np.concatenate([np.ones((2, 40, 1)), rng.normal(size=(2, 40, 5))], axis=2)
               for _ in range(count)]
    residuals = [np.einsum("ekm,em->ek", a, d) + 0.01 * rng.normal(size=(2, 40))
                 for a, d in zip(designs, planted, strict=True)]
    return designs, residuals, planted


def test_full_fit_recovers_planted_deviations() -> None:
    designs, residuals, planted = planted_entities(5)
    np.testing.assert_allclose(full_fit_deviations(designs, residuals), planted, atol=0.02)


def test_calibrated_prior_finds_the_planted_directions() -> None:
    """The calibrated prior puts its spread on the two planted directions (nearly none
    elsewhere), so after 2 revealed runs it predicts new entities' other runs better than an
    isotropic prior of the same total spread."""
    designs, residuals, _ = planted_entities(60)
    prior, chosen = calibrated_prior(designs, residuals)
    covariance = rescaled(prior, *chosen).covariance
    top = np.linalg.eigh(covariance[0])[1][:, -2:]
    assert np.linalg.norm(top[3:], axis=0).max() < 0.2  # planted rows use parameters 0-2
    new_designs, new_residuals, _ = planted_entities(30, seed=1)
    reveals = Reveals.draw(new_designs, new_residuals, ks=(2,))
    trace = np.trace(covariance, axis1=1, axis2=2)[:, None, None] / 6
    isotropic = FoldInPrior(trace * np.eye(6)[None], prior.noise)
    assert reveals.error(rescaled(prior, *chosen)) < 0.7 * reveals.error(isotropic)


def test_calibrated_prior_is_stored_with_its_rescaling(dataset: Dataset,
                                                       pitot: NumpyPitot) -> None:
    obs = dataset.objectives["mf"]
    val = make_cold_split(dataset, 1.0, 0, mode="cold-workload", holdout=0.2).rows("mf", "val")
    tuned = with_tuned_prior(pitot, "workload", obs.workload[val], obs.platform[val],
                             obs.log_runtime[val])
    assert tuned.fold_in_priors["workload"] is not pitot.fold_in_priors["workload"]
    assert tuned.fold_in_priors["platform"] is pitot.fold_in_priors["platform"]
    assert tuned.prior_rescale["workload"][0] in (0.3, 1.0, 3.0, 10.0)
    with pytest.raises(PredictionError, match="unknown prior source 'rows'"):
        with_tuned_prior(pitot, "workload", obs.workload[val], obs.platform[val],
                         obs.log_runtime[val], source="rows")


@pytest.mark.parametrize(("other", "runtime", "message"), [
    ([0, 99], [1.0, 2.0], "measurement 1: row 99 out of range"),
    ([0, 1], [1.0, np.nan], "measurement 1: runtime must be positive and finite"),
    ([0], [1.0, 2.0], "1 rows but 2 runtimes"),
    ([0] * (MAX_MEASUREMENTS + 1), [1.0] * (MAX_MEASUREMENTS + 1), "at most"),
])
def test_bad_measurements_are_one_line_errors(other: list[int], runtime: list[float],
                                              message: str) -> None:
    with pytest.raises(PredictionError, match=message) as error:
        Measurements.of(other, runtime, 12)
    assert "\n" not in str(error.value)


def test_fold_in_of_an_unknown_row_is_an_error(pitot: NumpyPitot) -> None:
    with pytest.raises(PredictionError, match="workload row 99 out of range"):
        pitot.fold_in(Entity("workload", 99), Measurements.of([0], [1.0], pitot.platforms))
    with pytest.raises(PredictionError, match="unknown axis"):
        Entity("device", 0)


def test_stored_tables_keep_the_prior(pitot: NumpyPitot, tmp_path: Path) -> None:
    """A served model's tables (saved and loaded without Keras) fold in as the originals."""
    loaded = load_tables(*save_tables(pitot, tmp_path))
    measured = Measurements.of([0, 1, 2], [10.0, 11.0, 12.0], pitot.platforms)
    entity = Entity("workload", 2)
    np.testing.assert_allclose(parameters(loaded.fold_in(entity, measured), "workload")[2],
                               parameters(pitot.fold_in(entity, measured), "workload")[2],
                               rtol=1e-5, atol=1e-6)


def test_fold_in_keeps_the_workloads_interference(pitot: NumpyPitot) -> None:
    """Runs alone refit a workload's row for runs alone: beside a co-runner (as target or as
    co-runner) its prediction moves by exactly what the run alone on that platform moves,
    whereas ``fold_interference="refitted"`` also moves the interference term; a new
    workload added after a fold-in still predicts as before. (The interference tables are
    scaled up: the tiny model barely learnt any.)"""
    t = pitot.tables
    pitot = replace(pitot, tables=replace(t, v_s=t.v_s * 30, v_g=t.v_g * 30))
    w, measured = 2, np.array([0, 1, 2], dtype=np.int32)
    far = pitot.predict(measured, np.full(3, w, np.int32), np.full((3, 1), -1, np.int32))[:, 0]
    runs = Measurements.of(measured, far + np.array([3.0, -2.0, 4.0]), pitot.platforms)
    platform = np.array([5, 5, 6], dtype=np.int32)
    workload = np.array([w, 0, w], dtype=np.int32)
    with_co_runner = np.array([[1], [w], [3]], dtype=np.int32)
    alone = np.full((3, 1), -1, dtype=np.int32)

    def moved(model: NumpyPitot, interferers: np.ndarray) -> np.ndarray:
        return (model.predict(platform, workload, interferers)
                - pitot.predict(platform, workload, interferers)).astype(np.float64)

    folded = pitot.fold_in(Entity("workload", w), runs)
    change_alone = moved(folded, alone)
    assert np.abs(change_alone[[0, 2]]).max() > 0.01
    np.testing.assert_allclose(moved(folded, with_co_runner)[[0, 2]], change_alone[[0, 2]],
                               atol=1e-4)
    np.testing.assert_allclose(moved(folded, with_co_runner)[1], 0.0, atol=1e-5)
    refitted = replace(pitot, fold_interference="refitted").fold_in(Entity("workload", w), runs)
    np.testing.assert_allclose(moved(refitted, alone), change_alone, atol=1e-4)
    assert np.abs(moved(refitted, with_co_runner) - moved(folded, with_co_runner)).max() > 1e-3
    grown = folded.with_workloads(np.zeros((1, pitot.feature_dim), np.float32))
    np.testing.assert_allclose(grown.predict(platform, workload, with_co_runner),
                               folded.predict(platform, workload, with_co_runner))
