"""Conformal margins per objective degree and alpha, looked up rather than recomputed.

The pyfunc's bound for a row with ``k`` co-runners uses the objective of degree ``k + 1``
(``mf`` alone, ``if2`` with one co-runner, ...), else the highest degree calibrated. For each
(degree, alpha) pair the chosen head and its margin are computed once (the calibration grid at
load time, any other alpha on first use, in a bounded cache) and reused by every request.
The bound is ``log t̂[:, head] + margin``, exactly :meth:`ConformalUpperBound.upper_bound`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from pitot_tf.conformal.calibration import ConformalUpperBound
from pitot_tf.conformal.few_shot import k_group
from pitot_tf.errors import ConformalError
from pitot_tf.serving.bad_request import BadRequest

#: (degree, alpha) pairs remembered beyond the calibration grid; bounds memory under requests
#: with arbitrary alphas.
CACHED_ALPHAS = 4096


class Margins:
    """Bounds by objective degree: ``{degree: (objective name, fitted bound)}``."""

    def __init__(self, by_degree: dict[int, tuple[str, ConformalUpperBound]]) -> None:
        if not by_degree:
            raise ValueError("no calibrated objective: the model has no bounds to serve")
        self.by_degree = dict(by_degree)
        self.highest = max(self.by_degree)
        self._lookup = lru_cache(maxsize=CACHED_ALPHAS)(self._head_and_margin)
        for degree, (_, bound) in self.by_degree.items():
            for alpha in bound.alphas:
                self._lookup(degree, float(alpha))

    def calibration_for(self, degree: int) -> tuple[str, str]:
        """The objective whose margins a row of ``degree`` workloads uses, and a note when it
        is not that degree's own."""
        if degree in self.by_degree:
            return self.by_degree[degree][0], ""
        name = self.by_degree[self.highest][0]
        return name, (f"no calibration for {degree} workloads at once; "
                      f"used {name} (degree {self.highest}, the highest calibrated)")

    def _head_and_margin(self, degree: int, alpha: float) -> tuple[int, float]:
        bound = self.by_degree[degree if degree in self.by_degree else self.highest][1]
        return bound.chosen_head(alpha), float(bound.margin(alpha))

    def upper_bound(self, log_pred: np.ndarray, degree: np.ndarray,
                    alpha: np.ndarray) -> np.ndarray:
        """``(n,)`` log-domain bound per row of ``log_pred`` ``(n, heads)``: each distinct
        (degree, alpha) pair is looked up once and spread to its rows with numpy. BadRequest
        (naming the first row) for an alpha the calibration set is too small for."""
        _, alpha_code = np.unique(alpha, return_inverse=True)
        key = alpha_code.reshape(-1) * (int(degree.max(initial=0)) + 1) + degree
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        heads = np.empty(len(first), dtype=np.intp)
        margins = np.empty(len(first), dtype=np.float64)
        for pair in np.argsort(first).tolist():  # in the order the rows give them
            row = int(first[pair])
            a = float(alpha[row])
            try:
                heads[pair], margins[pair] = self._lookup(int(degree[row]), a)
            except ConformalError as error:
                raise BadRequest(f"row {row}: alpha {a!r}: {error}") from None
        inverse = inverse.reshape(-1)
        log_pred = np.asarray(log_pred, dtype=np.float64)
        return log_pred[np.arange(len(inverse)), heads[inverse]] + margins[inverse]


class MarginsAfterRuns:
    """Bounds after k measured runs folded into a new workload (or platform), by objective
    degree: each Mondrian by the group of k (:func:`pitot_tf.conformal.few_shot.fold_in_bounds`);
    a degree without one uses the highest degree calibrated, as :class:`Margins` does."""

    def __init__(self, by_degree: dict[int, ConformalUpperBound]) -> None:
        if not by_degree:
            raise ValueError("no bound after measured runs to serve")
        self.by_degree = dict(by_degree)
        self.highest = max(self.by_degree)

    def upper_bound(self, log_pred: np.ndarray, degree: np.ndarray, alpha: float,
                    k: int) -> np.ndarray:
        """``(n,)`` log-domain bound of rows ``log_pred`` ``(n, heads)`` of entities with
        ``k`` runs folded in; ConformalError for an alpha the calibration cannot support."""
        group = k_group(k)
        out = np.empty(len(degree))
        for d in np.unique(degree).tolist():
            rows = degree == d
            bound = self.by_degree.get(int(d), self.by_degree[self.highest])
            out[rows] = bound.upper_bound(log_pred[rows], alpha=alpha,
                                          groups=np.full(int(rows.sum()), group))
        return out
