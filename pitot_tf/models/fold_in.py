"""Few-shot fold-in maths: one entity's parameters from k measurements, the rest frozen.

For a workload ``w`` run alone on platform ``p``, member ``e`` of Pitot predicts
(:mod:`pitot_tf.models.pitot`, first head)::

    log t = (a_p + offset + bias_p) + (b_w + bias_w) + <x_w, x_p>

which, with the platform side frozen, is linear in the workload's parameters
``θ = (b_w, x_w)``: ``log t = frozen_p + [1, x_p] · θ``. The same holds for a platform with
the workload side frozen (``θ = (a_p, x_p)``, design rows ``[1, x_w]``). With a Gaussian prior
``θ ~ N(θ0, Σ)`` centred on the entity's current row ``θ0`` (for a new entity, what its side
features give: the zero-shot row) and Gaussian noise ``σ²`` on the log runtime, the posterior
mean after k measurements ``y`` with design rows ``A`` is, in closed form::

    θ = θ0 + Σ Aᵀ (A Σ Aᵀ + σ² I)⁻¹ (y − A θ0 − frozen)

a ``k × k`` solve per ensemble member (microseconds for k ≤ 20): cheap enough for a
measurement planner to call many times. ``Σ`` is the second moment of rows' deviations from
their zero-shot rows (:meth:`FoldInPrior.from_deviations`): best, of entities never trained on,
each fitted to all its runs (:func:`calibrated_prior`: how far a new entity's row is from what
its features say); without such entities, of the trained rows (how far training moved them),
rescaled (:func:`tune_prior`). The posterior covariance (:func:`posterior_covariance`) is what
experiment design needs.

Only runs without co-runners are folded in: with co-runners, the interference term involves
the entity's own interference vectors (``Vs``, ``Vg`` of a platform) or those of other
workloads, and this first version leaves them at their zero-shot values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pitot_tf.errors import PredictionError

#: The two axes an entity can be on.
AXES = ("workload", "platform")
#: Default noise variance of a log runtime around the model's prediction (σ = 0.15, about
#: 15% in runtime): the scatter of measured runtimes around a well-fitted row.
DEFAULT_NOISE = 0.15 ** 2
#: Most measurements one fold-in accepts (a request is not a training set).
MAX_MEASUREMENTS = 256


@dataclass(frozen=True)
class Entity:
    """One workload or platform: its ``axis`` and row ``index`` in the model's tables."""

    axis: str
    index: int

    def __post_init__(self) -> None:
        if self.axis not in AXES:
            raise PredictionError(f"unknown axis '{self.axis}' (use workload or platform)")

    @property
    def other(self) -> str:
        """The axis its measurements are indexed by."""
        return AXES[1 - AXES.index(self.axis)]


@dataclass(frozen=True)
class Measurements:
    """k runs of one entity without co-runners: the rows of the other axis it ran with and
    the log runtimes measured there (the model's log-runtime unit)."""

    other: np.ndarray  # (k,) int
    log_runtime: np.ndarray  # (k,) float

    @classmethod
    def of(cls, other: np.ndarray | list[int], log_runtime: np.ndarray | list[float],
           rows: int) -> Measurements:
        """Checked measurements: ``rows`` is the other axis' size; PredictionError (one line)
        for an index out of range, a non-finite log runtime or more than
        :data:`MAX_MEASUREMENTS`."""
        index = np.asarray(other, dtype=np.int64).reshape(-1)
        log_t = np.asarray(log_runtime, dtype=np.float64).reshape(-1)
        if len(index) != len(log_t):
            raise PredictionError(f"{len(index)} rows but {len(log_t)} runtimes")
        if len(index) > MAX_MEASUREMENTS:
            raise PredictionError(f"{len(index)} measurements, at most {MAX_MEASUREMENTS}")
        bad = np.flatnonzero((index < 0) | (index >= rows))
        if len(bad):
            raise PredictionError(f"measurement {bad[0]}: row {index[bad[0]]} out of range "
                                  f"[0, {rows})")
        bad = np.flatnonzero(~np.isfinite(log_t))
        if len(bad):
            raise PredictionError(f"measurement {bad[0]}: runtime must be positive and finite")
        return cls(index, log_t)

    def __len__(self) -> int:
        return len(self.other)


@dataclass(frozen=True)
class FoldInPrior:
    """Per ensemble member, the prior covariance ``(E, m, m)`` of an entity's parameters
    around its current row, and the noise variance of a log runtime."""

    covariance: np.ndarray
    noise: float = DEFAULT_NOISE

    @classmethod
    def from_deviations(cls, deviations: np.ndarray, noise: float = DEFAULT_NOISE,
                        jitter: float = 1e-4) -> FoldInPrior:
        """The second moment of ``deviations`` ``(n, E, m)`` (trained rows minus their
        zero-shot rows) per member, plus ``jitter`` times its mean diagonal so that it is
        well conditioned; the identity times ``jitter`` without deviations."""
        n, members, m = deviations.shape
        if n == 0:
            return cls(np.repeat(np.eye(m)[None] * jitter, members, axis=0), noise)
        moment = np.einsum("nei,nej->eij", deviations, deviations) / n
        scale = np.trace(moment, axis1=1, axis2=2) / m
        return cls(moment + jitter * scale[:, None, None] * np.eye(m)[None], noise)

    def scaled(self, noise: float) -> FoldInPrior:
        """The same covariance with another noise variance."""
        return FoldInPrior(self.covariance, noise)


def posterior_shift(design: np.ndarray, residual: np.ndarray, prior: FoldInPrior) -> np.ndarray:
    """``(E, m)`` posterior mean minus prior mean, from ``design`` ``(E, k, m)`` and
    ``residual`` ``(E, k)`` (measured minus predicted log runtime, per member)."""
    members, k, _ = design.shape
    if k == 0:
        return np.zeros((members, design.shape[2]))
    sigma_at = prior.covariance @ design.transpose(0, 2, 1)  # (E, m, k)
    gram = design @ sigma_at + prior.noise * np.eye(k)[None]
    weights = np.linalg.solve(gram, residual[:, :, None])  # (E, k, 1)
    return (sigma_at @ weights)[:, :, 0]


def posterior_covariance(design: np.ndarray, prior: FoldInPrior) -> np.ndarray:
    """``(E, m, m)`` posterior covariance of the parameters after measurements with
    ``design`` ``(E, k, m)``: ``Σ − Σ Aᵀ (A Σ Aᵀ + σ² I)⁻¹ A Σ``."""
    k = design.shape[1]
    if k == 0:
        return prior.covariance.copy()
    sigma_at = prior.covariance @ design.transpose(0, 2, 1)
    gram = design @ sigma_at + prior.noise * np.eye(k)[None]
    return prior.covariance - sigma_at @ np.linalg.solve(gram, sigma_at.transpose(0, 2, 1))


#: Factors on the prior's spread of the baseline term and of the embedding, and shares of an
#: isotropic part in the embedding's (of its mean variance), that :func:`tune_prior` chooses
#: from; the posterior mean depends on the ratio of spread to noise only, so the noise stays.
PRIOR_SCALES: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1e3, 1e4)
ISOTROPIC: tuple[float, ...] = (0.0, 0.03, 0.3, 3.0)
#: The rescaling (:func:`rescaled`: baseline term, embedding, isotropic share) a served model's
#: prior gets without entities to tune it on: what :func:`tune_prior` chose for ``pitot/cold``
#: on the published data's first cold-workload draw (``benchmarks/few_shot.py``).
DEFAULT_RESCALE: tuple[float, float, float] = (100.0, 1000.0, 3.0)
#: The numbers of measurements :func:`tune_prior` simulates.
TUNING_KS: tuple[int, ...] = (1, 3, 10)


def rescaled(prior: FoldInPrior, scale: float, embedding: float,
             isotropic: float = 0.0) -> FoldInPrior:
    """``prior`` with the baseline term's spread times ``scale`` and the embedding's times
    ``embedding`` (variances; covariances by the geometric mean), plus ``isotropic`` times the
    embedding's mean variance on its diagonal: trained rows move in the few directions the
    towers' free inputs reach, a new row's measurements may pull it in any."""
    covariance = prior.covariance.copy()
    m = covariance.shape[1]
    factor = np.sqrt(np.array([scale] + [embedding] * (m - 1)))
    covariance = covariance * factor[:, None] * factor[None, :]
    block = covariance[:, 1:, 1:]
    mean = np.trace(block, axis1=1, axis2=2) / max(m - 1, 1)
    covariance[:, 1:, 1:] = block + isotropic * mean[:, None, None] * np.eye(m - 1)[None]
    return FoldInPrior(covariance, prior.noise)


@dataclass(frozen=True)
class Reveals:
    """Simulated few-shot fold-ins of entities never trained on: per simulation, the design
    ``(E, k, m)`` and residual ``(E, k)`` (measured minus current row's prediction, per
    member) of the revealed runs, and the same of the entity's other runs, to be predicted."""

    shown: list[tuple[np.ndarray, np.ndarray]]
    hidden: list[tuple[np.ndarray, np.ndarray]]

    @classmethod
    def draw(cls, designs: list[np.ndarray], residuals: list[np.ndarray],
             ks: tuple[int, ...] = TUNING_KS, seed: int = 0) -> Reveals:
        """``ks`` runs of each entity (one ``(E, n, m)`` design and ``(E, n)`` residual of
        all its runs each) revealed at random, at most all but one."""
        rng = np.random.default_rng(seed)
        shown, hidden = [], []
        for a, r in zip(designs, residuals, strict=True):
            for k in ks:
                order = rng.permutation(r.shape[1])
                cut = min(k, r.shape[1] - 1)
                if cut < 1:
                    continue
                shown.append((a[:, order[:cut]], r[:, order[:cut]]))
                hidden.append((a[:, order[cut:]], r[:, order[cut:]]))
        return cls(shown, hidden)

    def error(self, prior: FoldInPrior) -> float:
        """Mean ``|t/t̂ - 1|`` of the ensemble's predictions of the hidden runs after
        folding in the shown ones under ``prior``."""
        errors = []
        for (a, r), (b, q) in zip(self.shown, self.hidden, strict=True):
            shift = posterior_shift(a, r, prior)
            left = (q - np.einsum("ekm,em->ek", b, shift)).mean(axis=0)
            errors.append(np.abs(np.expm1(left)))
        return float(np.mean(np.concatenate(errors)))


def tune_prior(prior: FoldInPrior, reveals: Reveals,
               scales: tuple[float, ...] = PRIOR_SCALES,
               isotropic: tuple[float, ...] = ISOTROPIC) -> tuple[float, float, float]:
    """The rescaling of ``prior`` (:func:`rescaled`, over ``scales`` for each part and
    ``isotropic``) that predicts the hidden runs of ``reveals`` best. Trained rows'
    deviations understate how far a new entity is from its zero-shot row (the side features
    were fitted to those rows), so the spread is tuned on entities never trained on."""
    candidates = [(s, e, i) for s in scales for e in scales for i in isotropic]
    return min(candidates, key=lambda candidate: reveals.error(rescaled(prior, *candidate)))


#: Factors on a prior calibrated on held-out entities (:func:`calibrated_prior`) that
#: :func:`tune_prior` chooses from: it already has the right shape and about the right size,
#: so a finer and narrower grid than :data:`PRIOR_SCALES` and :data:`ISOTROPIC`.
CALIBRATED_SCALES: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0)
CALIBRATED_ISOTROPIC: tuple[float, ...] = (0.0, 0.03, 0.3)
#: The loose prior (variance of every parameter) and noise variance with which
#: :func:`full_fit_deviations` fits an entity to all its runs: close to least squares, kept
#: well posed for an entity with fewer runs than parameters.
FULL_FIT_PRIOR, FULL_FIT_NOISE = 1.0, 0.01


def full_fit_deviations(designs: list[np.ndarray], residuals: list[np.ndarray],
                        ) -> np.ndarray:
    """``(n, E, m)``: each entity's parameters fitted to all its runs (one ``(E, k, m)``
    design and ``(E, k)`` residual each) minus its current row."""
    members, _, m = designs[0].shape
    loose = FoldInPrior(np.repeat(np.eye(m)[None] * FULL_FIT_PRIOR, members, axis=0),
                        FULL_FIT_NOISE)
    return np.stack([posterior_shift(a, r, loose)
                     for a, r in zip(designs, residuals, strict=True)])


def calibrated_prior(designs: list[np.ndarray], residuals: list[np.ndarray],
                     seed: int = 0) -> tuple[FoldInPrior, tuple[float, float, float]]:
    """An empirical-Bayes prior from entities never trained on (all their runs without
    co-runners: designs and residuals as :meth:`Reveals.draw` takes them): the second moment
    of their fully fitted rows' deviations from their zero-shot rows (how far, and in which
    directions, a new entity's row is from what its features say), then its size tuned as
    :func:`tune_prior` does, on the same entities' simulated few-shot fold-ins. Returns the
    prior and the rescaling chosen."""
    prior = FoldInPrior.from_deviations(full_fit_deviations(designs, residuals))
    reveals = Reveals.draw(designs, residuals, seed=seed)
    return prior, tune_prior(prior, reveals, CALIBRATED_SCALES, CALIBRATED_ISOTROPIC)
