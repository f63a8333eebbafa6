"""Rounds of measurement planning on one held-out workload (or platform), for ``active.py``.

Each round the strategy proposes ``per_round`` rows (:func:`pitot_tf.planning.plan.propose`,
the code ``pitot-tf plan`` runs) among the platforms the workload really ran on alone (the
workloads the platform really ran alone; only rows that exist in the data can be revealed);
their true runtimes are revealed and folded
into the model (:meth:`pitot_tf.models.numpy_predictor.NumpyPitot.fold_in`, starting again
from the zero-shot model with every revealed row), and the model is scored on the rows not
yet revealed. A :class:`Trace` keeps, after 0, 1, ... rounds, the measurements taken, the
device-seconds they cost (the sum of their true runtimes) and the log residuals of the rows
left.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pitot_tf.conformal.calibration import conformal_margins
from pitot_tf.data.dataset import Objective
from pitot_tf.models.fold_in import Entity, Measurements
from pitot_tf.models.numpy_predictor import NumpyPitot
from pitot_tf.planning.entity import PlanningModel, row_indices
from pitot_tf.planning.plan import propose
from pitot_tf.planning.rows import Rows


@dataclass(frozen=True)
class HeldOut:
    """One held-out workload (platform): the platforms (workloads) it ran with alone and the
    true log runtimes."""

    entity: Entity
    other: np.ndarray  # (m,) int32
    log_true: np.ndarray  # (m,)


@dataclass
class Trace:
    """Per round ``r`` (0 = zero-shot): measurements so far, device-seconds spent, and the
    residuals ``log t - log t̂`` of the rows not yet revealed."""

    k: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    residual: list[np.ndarray] = field(default_factory=list)

    def mape(self, r: int) -> float:
        return float(np.mean(np.abs(np.expm1(self.residual[r]))))


def held_out(obs: Objective, rows: np.ndarray, axis: str = "workload") -> list[HeldOut]:
    """The entities on ``axis`` of ``rows`` of the matrix objective ``obs``, each with its
    rows."""
    entities = (obs.workload if axis == "workload" else obs.platform)[rows]
    others = (obs.platform if axis == "workload" else obs.workload)[rows]
    return [HeldOut(Entity(axis, int(e)), others[entities == e].astype(np.int32),
                    obs.log_runtime[rows[entities == e]])
            for e in np.unique(entities)]


def simulate(tables: NumpyPitot, entity: HeldOut, strategy: str, rounds: int, per_round: int,
             seed: int, seconds_per_unit: float, cost_exponent: float = 1.0) -> Trace:
    """``rounds`` rounds of ``strategy`` on ``entity`` (see the module docstring; the
    cost-aware strategies at ``cost_exponent``)."""
    model = PlanningModel(tables, lambda log_pred, degree: log_pred[:, 0], seconds_per_unit)
    position = {int(p): i for i, p in enumerate(entity.other.tolist())}
    candidates = Rows(entity.other, np.full((len(entity.other), 1), -1, np.int32))
    others = tables.platforms if entity.entity.axis == "workload" else tables.workloads
    revealed: list[int] = []
    trace = Trace()
    for r in range(rounds + 1):
        remaining = np.ones(len(entity.other), dtype=bool)
        remaining[revealed] = False
        rest = candidates.take(np.flatnonzero(remaining))
        log_pred = model.tables.predict(*row_indices(entity.entity, rest), rest.interferers)
        trace.k.append(len(revealed))
        trace.seconds.append(float(np.exp(entity.log_true[revealed]).sum() * seconds_per_unit))
        trace.residual.append(entity.log_true[remaining] - log_pred[:, 0].astype(np.float64))
        if r == rounds or remaining.sum() <= per_round:
            break
        proposals = propose(model, entity.entity, candidates, candidates.take(revealed),
                            strategy, per_round, seed=seed * 1000 + r,
                            cost_exponent=cost_exponent)
        revealed += [position[p.other] for p in proposals]
        runs = Measurements.of(entity.other[revealed], entity.log_true[revealed], others)
        model = PlanningModel(tables.fold_in(entity.entity, runs), model.bound,
                              seconds_per_unit)
    return trace


def bound_scores(calibration: list[Trace], test: list[Trace], r: int, alpha: float
                 ) -> tuple[float, float]:
    """Coverage and width on ``test``'s rows left after round ``r`` of the split-conformal
    bound calibrated on ``calibration``'s rows left after the same round (Mondrian by the
    number of measurements, per strategy)."""
    residuals = np.concatenate([t.residual[min(r, len(t.k) - 1)] for t in calibration])
    margin = float(conformal_margins(residuals, [alpha])[0, 0])
    tested = np.concatenate([t.residual[min(r, len(t.k) - 1)] for t in test])
    return float(np.mean(tested <= margin)), float(np.mean(np.abs(np.expm1(tested - margin))))


def mape_at_seconds(trace: Trace, budget: float) -> float:
    """MAPE after the last round whose device-seconds are within ``budget``."""
    within = [r for r, s in enumerate(trace.seconds) if s <= budget * (1 + 1e-9)]
    return trace.mape(within[-1])
