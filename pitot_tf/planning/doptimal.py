"""D-optimal design on the embedding (Oboe's criterion): greedily choose the rows whose design
vectors most increase ``log det`` of the information about the workload's parameters.

Per member ``e`` the information matrix is ``A_e = Σ_e^{-1} + Σ z z^T`` over the rows
measured and chosen so far, ``z`` a row's design vector (:mod:`pitot_tf.planning.entity`;
``[x_p, 1]`` for a row alone, in units of the noise's standard deviation) and ``Σ_e`` the prior
covariance of the workload's parameters: the fold-in's own prior where the model has one
(:mod:`pitot_tf.models.fold_in`, so the plan optimises the posterior the fold-in computes), else
a ridge ``λ_e I``. Adding row ``z`` raises ``log det A_e`` by ``log(1 + z^T A_e^{-1} z)``
(the matrix determinant lemma); the members' gains add (each member its own embedding). After
each choice ``A_e^{-1}`` is updated in place (Sherman-Morrison), so a row along a direction
already measured gains little and the choices span the embedding. The ridge is relative:
``λ_e`` is ``ridge`` times the candidates' mean squared design-vector entry, so it means the
same for any scale of embedding.
"""

from __future__ import annotations

import numpy as np

from pitot_tf.planning.entity import Outlook
from pitot_tf.planning.picks import Pick

#: The ridge prior, relative to the design vectors' mean squared entry.
RIDGE = 1.0


def greedy_log_det(design: np.ndarray, measured: np.ndarray, budget: int,
                   cost: np.ndarray | None = None, prior: np.ndarray | None = None,
                   ridge: float = RIDGE) -> list[Pick]:
    """``budget`` rows of ``design (n, E, D)`` chosen greedily by log-det gain (divided by
    ``cost (n,)`` when given), after the rows ``measured (m, E, D)``, from the prior
    covariance ``prior (E, D, D)`` (default: the relative ``ridge``); gains in nats (per unit
    of cost)."""
    n = design.shape[0]
    inverse = prior_covariance(design, prior, ridge)  # (E, D, D): the current covariance
    for z in measured:
        inverse = _add_row(inverse, z)
    free = np.ones(n, dtype=bool)
    picks = []
    for _ in range(budget):
        quad = np.einsum("nef,nef->ne", np.einsum("ned,edf->nef", design, inverse), design)
        gain = np.log1p(np.maximum(quad, 0.0)).sum(axis=1)
        score = gain / cost if cost is not None else gain
        score = np.where(free, score, -np.inf)
        best = int(np.argmax(score))
        picks.append(Pick(best, float(score[best])))
        free[best] = False
        inverse = _add_row(inverse, design[best])
    return picks


def prior_covariance(design: np.ndarray, prior: np.ndarray | None, ridge: float = RIDGE
                     ) -> np.ndarray:
    """A copy of ``prior`` ``(E, D, D)``, or the relative ridge's covariance without one."""
    if prior is not None:
        return np.array(prior, dtype=np.float64)
    _, members, dim = design.shape
    scale = float(np.mean(design**2)) or 1.0
    return np.repeat(np.eye(dim)[None] / (ridge * scale), members, axis=0)


def _add_row(inverse: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``(A + z z^T)^{-1}`` per member from ``A^{-1}`` ``(E, D, D)`` and ``z (E, D)``."""
    u = np.einsum("edf,ef->ed", inverse, z)
    denominator = 1.0 + np.einsum("ed,ed->e", z, u)
    return inverse - np.einsum("ed,ef->edf", u, u) / denominator[:, None, None]


def d_optimal(outlook: Outlook, budget: int, rng: np.random.Generator) -> list[Pick]:
    return greedy_log_det(outlook.design, outlook.measured_design, budget,
                          prior=outlook.prior)
