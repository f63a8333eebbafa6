"""Request rows that name a new workload or platform (cold start): new rows, bounds, notes.

A row that gives a new workload's features (``workload_features`` or ``opcode_counts``) or a
new platform's (``platform_features``) gets a row of its own in the predictor
(:func:`with_new_rows`: ``with_workloads`` / ``with_platforms``, as
:func:`pitot_tf.models.cold.extend_model` would add them). Its bound is Mondrian over row
kinds (:data:`~pitot_tf.conformal.groups.COLD_KINDS`): a new workload on a known platform uses
the margins calibrated on the run's ``cold-workload`` validation rows, a new platform those of
its ``cold-platform`` rows, both new those of its ``cold-both`` rows (:func:`kind_margins`, from
the calibration JSON). A model without such rows keeps the margins of measured rows, and the
row's note warns that its bound may not hold.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

from pitot_tf.conformal.calibration import ConformalUpperBound
from pitot_tf.conformal.groups import COLD_BOTH, COLD_PLATFORM, COLD_WORKLOAD
from pitot_tf.serving.margins import Margins
from pitot_tf.serving.predictor import Predictor
from pitot_tf.serving.request_parsing import Request

COLD_NOTE = "new workload predicted from its features (cold start)"
PLATFORM_NOTE = "new platform predicted from its features (cold start)"
COLD_BOUND_NOTE = "cold bound: calibrated on workloads held out of training"
WARM_BOUND_NOTE = ("bound calibrated on measured workloads only: it may not hold for a new one "
                   "(train on a cold-workload split for cold bounds)")
#: Per row kind: its cold-start note, the note of a bound calibrated on held-out rows of its
#: kind, and the warning when there are none.
KIND_NOTES = {
    COLD_WORKLOAD: (COLD_NOTE, COLD_BOUND_NOTE, WARM_BOUND_NOTE),
    COLD_PLATFORM: (PLATFORM_NOTE,
                    "cold bound: calibrated on platforms held out of training",
                    "bound calibrated on measured platforms only: it may not hold for a new one "
                    "(train on a cold-platform split for cold bounds)"),
    COLD_BOTH: (f"{COLD_NOTE}; {PLATFORM_NOTE}",
                "cold bound: calibrated on held-out workloads on held-out platforms",
                "bound not calibrated on new workloads on new platforms: it may not hold "
                "(train on a cold-both split for cold bounds)"),
}
#: Per row kind, the key of its bound in an objective of the calibration JSON.
STATE_KEYS = {COLD_WORKLOAD: "cold_bound", COLD_PLATFORM: "cold_platform_bound",
              COLD_BOTH: "cold_both_bound"}


def kind_margins(state: dict[str, Any]) -> dict[str, Margins]:
    """Per cold row kind that the calibration JSON has bounds for, their margins by degree."""
    found = {}
    for kind, key in STATE_KEYS.items():
        by_degree = {int(info["degree"]): (name, ConformalUpperBound.from_dict(info[key]))
                     for name, info in state["objectives"].items() if key in info}
        if by_degree:
            found[kind] = Margins(by_degree)
    return found


def cold_kinds(request: Request) -> dict[str, np.ndarray]:
    """Per cold row kind, the request's rows of that kind (kinds without rows left out)."""
    workload = np.zeros(len(request), bool)
    workload[sorted(request.features)] = True
    platform = np.zeros(len(request), bool)
    platform[sorted(request.platform_features)] = True
    kinds = {COLD_WORKLOAD: workload & ~platform, COLD_PLATFORM: platform & ~workload,
             COLD_BOTH: workload & platform}
    return {kind: np.flatnonzero(rows) for kind, rows in kinds.items() if rows.any()}


@dataclass(frozen=True)
class GrownRows:
    """The predictor with a request's new rows and every row's indices into it.

    ``known_platforms`` has the new workloads only: rows on a platform the model knows are
    predicted with it, so that their answers never depend on new platforms asked for in the
    same request (the reference interference form reads co-runners' rows clamped to the
    platform count, which new platforms grow)."""

    predictor: Predictor
    known_platforms: Predictor
    platform: np.ndarray  # (n,) int32
    workload: np.ndarray  # (n,) int32

    def for_row(self, row: int) -> Predictor:
        """The predictor row ``row`` is predicted with."""
        return self.predictor if self.platform[row] >= self.known_platforms.platforms \
            else self.known_platforms


def with_new_rows(predictor: Predictor, request: Request) -> GrownRows:
    """``predictor`` with one new workload row per row that gives workload features and one
    new platform row per row that gives platform features, and every row's indices."""
    platform, workload = request.platform, request.workload_index
    if request.features:
        rows = sorted(request.features)
        grown = predictor.with_workloads(np.stack([request.features[r] for r in rows]))
        workload = workload.copy()
        workload[rows] = predictor.workloads + np.arange(len(rows), dtype=np.int32)
        predictor = grown
    known = predictor
    if request.platform_features:
        rows = sorted(request.platform_features)
        grown = predictor.with_platforms(np.stack([request.platform_features[r] for r in rows]))
        platform = platform.copy()
        platform[rows] = predictor.platforms + np.arange(len(rows), dtype=np.int32)
        predictor = grown
    return GrownRows(predictor, known, platform, workload)


def cold_bounds(margins: dict[str, Margins], request: Request, log_pred: np.ndarray,
                log_bound: np.ndarray, notes: np.ndarray, settled: Collection[int] = ()) -> None:
    """Give every cold row (:func:`cold_kinds`) the bound of its kind's margins, where the
    model has them, and its note (``log_bound`` and ``notes`` are changed in place). Rows in
    ``settled`` get their bound elsewhere (after runs folded in): only the note that they
    are cold."""
    degree, settled = request.degree, set(settled)
    for kind, rows in cold_kinds(request).items():
        cold_note, bound_note, warning = KIND_NOTES[kind]
        bounded = rows[~np.isin(rows, list(settled))]
        if kind in margins and len(bounded):
            log_bound[bounded] = margins[kind].upper_bound(log_pred[bounded], degree[bounded],
                                                           request.alpha[bounded])
        for row in rows.tolist():
            about = "" if row in settled else bound_note if kind in margins else warning
            notes[row] = "; ".join(n for n in (cold_note, about, notes[row]) if n)
