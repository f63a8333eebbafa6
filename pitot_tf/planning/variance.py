"""Least predictive variance (V-optimal): greedily choose the row whose measurement most
lowers the summed predictive variance of the candidate rows, the quantity the remaining
rows' error follows, rather than the volume of the parameters' uncertainty (D-optimal).

With the same Gaussian model as :mod:`pitot_tf.planning.doptimal` (prior covariance ``P``
per member, design vectors ``z`` in units of the noise), measuring row ``i`` lowers the
variance of row ``j``'s prediction by ``(z_j^T P z_i)^2 / (1 + z_i^T P z_i)``; the gain is
that, summed over the candidate rows and the members. ``P`` is updated after each choice.
"""

from __future__ import annotations

import numpy as np

from pitot_tf.planning.doptimal import _add_row, prior_covariance
from pitot_tf.planning.entity import Outlook
from pitot_tf.planning.picks import Pick


def greedy_variance(design: np.ndarray, measured: np.ndarray, budget: int,
                    prior: np.ndarray | None = None, cost: np.ndarray | None = None
                    ) -> list[Pick]:
    """``budget`` rows of ``design (n, E, D)`` chosen greedily by summed variance reduction
    (per unit of ``cost`` when given), after ``measured (m, E, D)``."""
    n = design.shape[0]
    covariance = prior_covariance(design, prior)
    for z in measured:
        covariance = _add_row(covariance, z)
    free = np.ones(n, dtype=bool)
    picks = []
    for _ in range(budget):
        spread = np.einsum("ied,edf->ief", design, covariance)  # (n, E, D)
        gram = np.einsum("ief,jef->eij", spread, design)  # (E, n, n)
        own = np.einsum("eii->ei", gram)
        gain = (np.sum(gram**2, axis=2) / (1.0 + own)).sum(axis=0)
        score = np.where(free, gain / cost if cost is not None else gain, -np.inf)
        best = int(np.argmax(score))
        picks.append(Pick(best, float(score[best])))
        free[best] = False
        covariance = _add_row(covariance, design[best])
    return picks


def least_variance(outlook: Outlook, budget: int, rng: np.random.Generator) -> list[Pick]:
    return greedy_variance(outlook.design, outlook.measured_design, budget, outlook.prior)
