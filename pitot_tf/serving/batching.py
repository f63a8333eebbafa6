"""Rows asked of a predictor in groups of equal co-runner count, in chunks of bounded size.

The interference term allocates a few hundred bytes per (row, co-runner slot) for its
temporaries. Padding every row to the longest co-runner list in the request would make one
row with many co-runners cost that much for every row of the request (the issue's "co-runner
bomb": 1 row with 10,000 co-runners among 10,000 rows asked for about 26 GB). Grouping rows by
their own count makes memory linear in the co-runners actually sent, and chunking bounds the
temporaries of any one call whatever the request's size.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Rows per call to the predictor: a chunk's temporaries stay in the tens of MB.
CHUNK_ROWS = 8_192

PredictFunction = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def predict_grouped(predict: PredictFunction, platform: np.ndarray, workload: np.ndarray,
                    interferers: np.ndarray, width: int) -> np.ndarray:
    """``predict(platform, workload, interferers)`` for every row, ``(n, heads)``, each row
    given ``max(its co-runner count, width)`` slots (co-runners fill each row's slots from
    the left, -1 after them, as :func:`~pitot_tf.serving.request_parsing.co_runner_rows`
    makes them) and at most :data:`CHUNK_ROWS` rows per call."""
    count = np.count_nonzero(interferers >= 0, axis=1)
    slots = np.maximum(count, max(width, 1))
    if len(slots) <= CHUNK_ROWS and (len(slots) == 0 or slots.min() == slots.max()):
        return np.asarray(predict(platform, workload, interferers[:, : int(slots.max(
            initial=max(width, 1)))]))
    out: np.ndarray | None = None
    for size in np.unique(slots).tolist():
        rows = np.flatnonzero(slots == size)
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = rows[start : start + CHUNK_ROWS]
            answer = np.asarray(predict(platform[chunk], workload[chunk],
                                        interferers[chunk, :size]))
            if out is None:
                out = np.empty((len(slots), *answer.shape[1:]), dtype=answer.dtype)
            out[chunk] = answer
    assert out is not None  # slots is not empty here
    return out
