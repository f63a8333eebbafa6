"""Bounds that stay valid after k measurements: Mondrian calibration by the number k of
runtimes folded into an entity (:mod:`pitot_tf.models.fold_in`).

A held-out entity's errors shrink as measurements are folded in, so one margin for every k
would over-cover after many measurements and under-cover with none. Calibration therefore
simulates what will happen at prediction time: on the calibration (validation) entities,
never trained on, ``k`` of each entity's runs without co-runners are revealed at random, folded
in, and the entity's other rows (every objective) are scored; the residuals of each group of
k (:data:`K_GROUPS`: 0, 1, 2-3, 4-10, more than 10) calibrate that group's margin. A new
entity with k measurements then gets the margin of ``k_group(k)``: calibration and test rows
are exchangeable within a group (entities drawn alike, revealed rows drawn alike), which is
what split-conformal coverage needs, at every k.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from pitot_tf.conformal.calibration import ConformalUpperBound, supported_alphas
from pitot_tf.data.dataset import Dataset, Objective
from pitot_tf.errors import ConformalError
from pitot_tf.models.fold_in import Entity, Measurements
from pitot_tf.models.fold_in_tables import with_tuned_prior
from pitot_tf.models.numpy_predictor import NumpyPitot

#: The groups of k: label, smallest and largest k (None: no upper end).
K_GROUPS: tuple[tuple[str, int, int | None], ...] = (
    ("0", 0, 0), ("1", 1, 1), ("2-3", 2, 3), ("4-10", 4, 10), (">10", 11, None))
#: Largest k simulated for the open group ``>10``.
SIMULATED_MAX_K = 20
#: The objective of runs without co-runners, the ones folded in.
ISOLATED = "mf"
#: Fewest held-out workloads :func:`fold_in_bounds` calibrates on, and the most simulations
#: per group of k it runs so that each group has rows enough for the smallest alpha.
MIN_HELD_OUT, MAX_REPEATS = 2, 8


def k_group(k: int) -> str:
    """The label of the group of ``k`` measurements (:data:`K_GROUPS`)."""
    if k < 0:
        raise ConformalError(f"k must be >= 0, got {k}")
    return next(label for label, low, high in K_GROUPS if k >= low and (high is None or k <= high))


def reveal(obs: Objective, rows: np.ndarray, axis: str, ks: dict[int, int],
           rng: np.random.Generator) -> np.ndarray:
    """Rows of ``rows`` revealed at random: ``ks[entity]`` of each entity's (on ``axis``),
    at most all but one (an entity keeps a row to be scored on)."""
    entity = getattr(obs, axis)[rows]
    chosen = []
    for index, k in ks.items():
        own = rows[entity == index]
        chosen.append(rng.permutation(own)[: min(k, max(len(own) - 1, 0))])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)


def fold_in_revealed(pitot: NumpyPitot, obs: Objective, revealed: np.ndarray,
                     axis: str) -> NumpyPitot:
    """``pitot`` with every entity of ``revealed`` (rows of ``obs``, runs without
    co-runners) refitted to its revealed runtimes."""
    other = "platform" if axis == "workload" else "workload"
    size = pitot.platforms if other == "platform" else pitot.workloads
    entity = getattr(obs, axis)[revealed]
    for index in np.unique(entity):
        own = revealed[entity == index]
        measured = Measurements.of(getattr(obs, other)[own], obs.log_runtime[own], size)
        pitot = pitot.fold_in(Entity(axis, int(index)), measured)
    return pitot


@dataclass(frozen=True)
class Scored:
    """One objective's scored rows: their indices, true and predicted ``(n, heads)`` log
    runtime, and the k group of each row's entity."""

    rows: np.ndarray
    true: np.ndarray
    pred: np.ndarray
    group: np.ndarray


def predict_rows(pitot: NumpyPitot, obs: Objective, rows: np.ndarray) -> np.ndarray:
    """``(n, heads)`` float64 log runtime of ``rows`` of ``obs``."""
    interferers = obs.interferers[rows] if obs.interferers.shape[1] else np.full((len(rows), 1), -1)
    return pitot.predict(obs.platform[rows], obs.workload[rows], interferers).astype(np.float64)


def simulate(pitot: NumpyPitot, dataset: Dataset, rows: dict[str, np.ndarray], axis: str,
             k: int, rng: np.random.Generator) -> tuple[dict[str, Scored], np.ndarray]:
    """Reveal ``k`` isolated runs of every entity of ``rows[ISOLATED]`` on ``axis``, fold
    them in, and score every objective's other rows: the scored rows per objective and the
    revealed rows (of the isolated objective)."""
    isolated = dataset.objectives[ISOLATED]
    entities = np.unique(getattr(isolated, axis)[rows[ISOLATED]])
    revealed = reveal(isolated, rows[ISOLATED], axis, dict.fromkeys(entities.tolist(), k), rng)
    folded = fold_in_revealed(pitot, isolated, revealed, axis)
    scored = {}
    for name, part in rows.items():
        obs = dataset.objectives[name]
        keep = part[~np.isin(part, revealed)] if name == ISOLATED else part
        scored[name] = Scored(keep, obs.log_runtime[keep], predict_rows(folded, obs, keep),
                              np.full(len(keep), k_group(k)))
    return scored, revealed


def calibration_residuals(pitot: NumpyPitot, dataset: Dataset, rows: dict[str, np.ndarray],
                          axis: str, rng: np.random.Generator, repeats: int = 1,
                          groups: Iterable[tuple[str, int, int | None]] = K_GROUPS,
                          ) -> dict[str, Scored]:
    """Per objective, the scored rows of :func:`simulate` on the calibration ``rows`` for
    every group of k (``repeats`` times each, k drawn uniformly in the group; up to
    :data:`SIMULATED_MAX_K` for the open group), pooled: fit a Mondrian
    :class:`~pitot_tf.conformal.ConformalUpperBound` on ``true``, ``pred`` and ``group``."""
    pooled: dict[str, list[Scored]] = {}
    for _, low, high in groups:
        for _ in range(repeats):
            k = int(rng.integers(low, (SIMULATED_MAX_K if high is None else high) + 1))
            for name, scored in simulate(pitot, dataset, rows, axis, k, rng)[0].items():
                pooled.setdefault(name, []).append(scored)
    return {name: Scored(*(np.concatenate([getattr(s, f) for s in parts])
                           for f in ("rows", "true", "pred", "group")))
            for name, parts in pooled.items()}


def fold_in_bounds(pitot: NumpyPitot, dataset: Dataset, rows: dict[str, np.ndarray],
                   alphas: Iterable[float], seed: int = 0, repeats: int = 1,
                   axis: str = "workload",
                   ) -> tuple[NumpyPitot, dict[str, ConformalUpperBound]]:
    """What a logged model needs to fold measured runs of a new workload (``axis``
    ``platform``: runs of workloads on a new platform) into its answers: ``pitot`` with the
    axis's fold-in prior calibrated on the held-out entities of ``rows`` (per objective,
    validation rows of entities never trained on; their runs alone, ``rows[ISOLATED]``,
    calibrate the prior), and per objective the bound Mondrian by the group of k
    (:func:`calibration_residuals` under that prior) at the ``alphas`` its smallest group
    supports (simulated ``repeats`` times, more, up to :data:`MAX_REPEATS`, where a group has
    too few rows for the smallest alpha). Unchanged and no bounds with fewer than
    :data:`MIN_HELD_OUT` such entities."""
    isolated = dataset.objectives[ISOLATED]
    other = "platform" if axis == "workload" else "workload"
    own = rows.get(ISOLATED, np.zeros(0, np.int64))
    if len(np.unique(getattr(isolated, axis)[own])) < MIN_HELD_OUT:
        return pitot, {}
    pitot = with_tuned_prior(pitot, axis, getattr(isolated, axis)[own],
                             getattr(isolated, other)[own], isolated.log_runtime[own])
    alphas = list(alphas)
    scored = calibration_residuals(pitot, dataset, rows, axis, np.random.default_rng(seed),
                                   repeats)
    smallest = min(map(_smallest_group, scored.values()))
    wanted = math.ceil(1 / min(alphas)) - 1  # rows the smallest alpha needs
    if smallest < wanted:
        repeats *= min(MAX_REPEATS, math.ceil(wanted / max(smallest, 1)))
        scored = calibration_residuals(pitot, dataset, rows, axis,
                                       np.random.default_rng(seed), repeats)
    bounds = {}
    for name, s in scored.items():
        usable = supported_alphas(alphas, _smallest_group(s))
        if usable:
            bounds[name] = ConformalUpperBound(usable, mondrian=True).fit(s.true, s.pred, s.group)
    return pitot, bounds


def _smallest_group(scored: Scored) -> int:
    return int(np.unique(scored.group, return_counts=True)[1].min())
