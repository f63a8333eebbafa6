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
from pitot_tf.errors import ConformalError
from pitot_tf.serving.request_parsing import BadRequest

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
        """``(n,)`` log-domain bound per row of ``log_pred`` ``(n, heads)``. BadRequest (naming
        the first row) for an alpha the calibration set is too small for."""
        heads = np.empty(len(alpha), dtype=np.intp)
        margins = np.empty(len(alpha), dtype=np.float64)
        for d in np.unique(degree):
            rows = np.flatnonzero(degree == d)
            values, inverse = np.unique(alpha[rows], return_inverse=True)
            for i, a in enumerate(values.tolist()):
                chosen = rows[inverse == i]
                try:
                    heads[chosen], margins[chosen] = self._lookup(int(d), a)
                except ConformalError as error:
                    raise BadRequest(f"row {int(chosen[0])}: alpha {a!r}: {error}") from None
        log_pred = np.asarray(log_pred, dtype=np.float64)
        return log_pred[np.arange(len(heads)), heads] + margins
