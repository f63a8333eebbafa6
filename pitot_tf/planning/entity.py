"""What a Pitot model says about one entity (a workload, or a platform) on each candidate row,
for the strategies.

Per candidate row: each member's predicted log runtime (first head), the ensemble's
prediction, its conformal upper bound, and the row's *design vector* per member: the gradient
of the member's prediction with respect to the entity's own parameters, its embedding and its
baseline term. For a workload that is ``(x_w, b_w)`` (first head): a row without co-runners
gives ``[x_p, 1]``, Oboe's row of the platform factors plus the intercept; beside co-runners
the interference term adds ``Σ_k Vs_p,k · leaky_relu(pressure_k)``, whose gradient is taken by
finite differences in float64 on the model's own equation
(:func:`~pitot_tf.models.interference.pitot_term`). For a platform it is ``(x_p, a_p)``, and
every row gives ``[x_w, 1]`` (the workload's embedding in the term of a run alone, first
head): ``x_p`` enters only that term. Measuring a row adds the outer product of its design
vector to the information about those parameters, which is what the D-optimal strategy
maximises (:mod:`pitot_tf.planning.doptimal`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from pitot_tf.models.fold_in import Entity, rescaled
from pitot_tf.models.interference import NUMPY_OPS, pitot_term
from pitot_tf.models.numpy_predictor import NumpyPitot
from pitot_tf.planning.rows import Rows

#: Log-domain upper bound ``(n,)`` of predictions ``(n, heads)`` at the given degrees.
BoundFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]
_STEP = 1e-3


@dataclass(frozen=True)
class PlanningModel:
    """A Pitot model's numpy tables, how its conformal bound is computed for the entity being
    planned (warm or cold margins, at one alpha), and its runtime unit in seconds."""

    tables: NumpyPitot
    bound: BoundFunction
    seconds_per_unit: float

    @property
    def members(self) -> int:
        return int(self.tables.tables.x_w.shape[1])


@dataclass(frozen=True)
class Outlook:
    """The model's view of one entity's candidate rows (``n`` rows, ``E`` members, design
    vectors of length ``D = d + 1``), and the design vectors of the rows already measured."""

    rows: Rows
    members: np.ndarray  # (n, E) log runtime per member, first head
    log_runtime: np.ndarray  # (n,) the ensemble's prediction, first head
    log_bound: np.ndarray  # (n,) conformal upper bound
    design: np.ndarray  # (n, E, D)
    measured_design: np.ndarray  # (m, E, D)
    seconds_per_unit: float
    prior: np.ndarray | None = None  # (E, D, D) prior covariance of the parameters / noise
    cost_exponent: float = 1.0

    def seconds(self, log_runtime: np.ndarray) -> np.ndarray:
        return np.exp(log_runtime) * self.seconds_per_unit

    def cost(self) -> np.ndarray:
        """``(n,)`` what the cost-aware strategies divide a row's gain by: its predicted
        seconds to the power :attr:`cost_exponent` (1: gain per second; below 1 a slow row
        is penalised less, 0: not at all)."""
        return self.seconds(self.log_runtime) ** self.cost_exponent


def row_indices(entity: Entity, rows: Rows) -> tuple[np.ndarray, np.ndarray]:
    """``(platform, workload)`` index arrays of ``entity``'s candidate ``rows``."""
    fixed = np.full(len(rows), entity.index, dtype=np.int32)
    return (rows.other, fixed) if entity.axis == "workload" else (fixed, rows.other)


def member_log_runtime(tables: NumpyPitot, entity: Entity, rows: Rows) -> np.ndarray:
    """``(n, E, H)`` float64 log runtime of ``entity`` on ``rows``, per member and head
    (the members' mean is :meth:`NumpyPitot.predict`)."""
    n = len(rows)
    members, heads = tables.tables.x_w.shape[1:3]
    platform, workload = row_indices(entity, rows)
    term = pitot_term(tables.tables, tables.equation, platform, workload, rows.interferers,
                      NUMPY_OPS).reshape(n, members, heads)
    base = (tables.platform_scale[:, platform] + tables.workload_scale[:, workload]
            + tables.offset[:, None])  # (E, n)
    return np.asarray(term, dtype=np.float64) + base.T[:, :, None].astype(np.float64)


def design_vectors(tables: NumpyPitot, entity: Entity, rows: Rows) -> np.ndarray:
    """``(n, E, d + 1)``: per row and member, d(prediction)/d(embedding of the first head)
    and d/d(baseline term) = 1 (see the module docstring)."""
    members, _, dim = tables.tables.x_w.shape[1:]
    design = np.ones((len(rows), members, dim + 1))
    if entity.axis == "platform":
        design[:, :, :dim] = tables.tables.alone[rows.other][:, :, 0]
        return design
    alone = rows.degree() == 1
    design[alone, :, :dim] = tables.tables.x_p[rows.other[alone]]
    if not alone.all():
        design[~alone] = _finite_differences(tables, entity.index,
                                             rows.take(np.flatnonzero(~alone)))
    return design


def _finite_differences(tables: NumpyPitot, workload: int, rows: Rows) -> np.ndarray:
    """:func:`design_vectors` of ``workload`` on ``rows`` by finite differences of the
    equation in float64."""
    n = len(rows)
    wide = tables.tables.map(lambda table: np.asarray(table, dtype=np.float64))
    members, heads, dim = wide.x_w.shape[1:]
    w = np.full(n, workload, dtype=np.int32)

    def first_head(x_w: np.ndarray) -> np.ndarray:
        term = pitot_term(replace(wide, x_w=x_w), tables.equation, rows.other, w,
                          rows.interferers, NUMPY_OPS)
        return np.asarray(term).reshape(n, members, heads)[:, :, 0]

    origin = first_head(wide.x_w)
    design = np.ones((n, members, dim + 1))
    for j in range(dim):
        shifted = wide.x_w.copy()
        shifted[workload, :, 0, j] += _STEP
        design[:, :, j] = (first_head(shifted) - origin) / _STEP
    return design


def fold_in_prior(tables: NumpyPitot, axis: str = "workload") -> np.ndarray | None:
    """The fold-in's prior covariance of an entity's parameters on ``axis``
    (:mod:`pitot_tf.models.fold_in`) over its noise variance, in the order of
    :func:`design_vectors` (embedding, then baseline), so that design vectors in units of the
    noise see the posterior the fold-in computes; None for tables without one."""
    raw = tables.fold_in_priors.get(axis)
    if raw is None:
        return None
    prior = rescaled(raw, *tables.prior_rescale[axis])  # as the fold-in uses it
    order = np.r_[1 : prior.covariance.shape[1], 0]  # fold-in's (scale, x) -> (x, scale)
    return prior.covariance[:, order][:, :, order] / prior.noise


def outlook(model: PlanningModel, entity: Entity, rows: Rows, measured: Rows,
            cost_exponent: float = 1.0) -> Outlook:
    """The :class:`Outlook` of ``entity`` (a row of ``model.tables``) on ``rows``."""
    per_member = member_log_runtime(model.tables, entity, rows)
    mean = per_member.mean(axis=1)  # (n, H), as the ensemble averages
    return Outlook(
        rows=rows, members=per_member[:, :, 0], log_runtime=mean[:, 0],
        log_bound=model.bound(mean, rows.degree()),
        design=design_vectors(model.tables, entity, rows),
        measured_design=design_vectors(model.tables, entity, measured),
        seconds_per_unit=model.seconds_per_unit, prior=fold_in_prior(model.tables, entity.axis),
        cost_exponent=cost_exponent)
