"""One measurement plan: the next ``budget`` rows to measure for one workload or platform.

:func:`propose` checks the budget, drops the candidates already measured (and duplicates),
asks the strategy, and returns each chosen row with the model's predicted runtime and
conformal upper bound (seconds) and the strategy's gain. Every proposal is a distinct,
valid, unmeasured candidate row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pitot_tf.errors import PlanningError
from pitot_tf.models.fold_in import Entity
from pitot_tf.planning.entity import PlanningModel, outlook
from pitot_tf.planning.rows import Rows
from pitot_tf.planning.strategies import strategy

#: The largest budget one plan may ask for.
MAX_BUDGET = 100
#: The range of the cost-aware strategies' exponent on predicted seconds.
COST_EXPONENTS = (0.0, 1.0)


@dataclass(frozen=True)
class Proposal:
    """A row to measure: its index on the other axis (the platform a workload runs on, or the
    workload a platform runs) and co-runner indices, predicted runtime and bound in seconds,
    and the strategy's gain when it chose the row."""

    other: int
    co_runners: tuple[int, ...]
    predicted_s: float
    bound_s: float
    gain: float


def check_budget(budget: int, available: int) -> None:
    """PlanningError unless ``1 <= budget <= min(MAX_BUDGET, available)``."""
    if budget < 1:
        raise PlanningError(f"budget must be at least 1, got {budget}")
    if budget > MAX_BUDGET:
        raise PlanningError(f"budget {budget} is over the limit of {MAX_BUDGET}")
    if budget > available:
        raise PlanningError(f"budget {budget} is more than the {available} candidate rows not "
                            f"yet measured")


def check_cost_exponent(exponent: float) -> None:
    """PlanningError unless ``exponent`` lies in :data:`COST_EXPONENTS`."""
    low, high = COST_EXPONENTS
    if not low <= exponent <= high:  # also refuses NaN
        raise PlanningError(f"cost exponent must be between {low:g} and {high:g}, got "
                            f"{exponent}")


def propose(model: PlanningModel, entity: Entity, candidates: Rows, measured: Rows,
            strategy_name: str, budget: int, seed: int = 0, cost_exponent: float = 1.0,
            ) -> list[Proposal]:
    """The next ``budget`` rows of ``candidates`` to measure for ``entity`` (a row of
    ``model.tables``), given the rows already ``measured``, chosen by ``strategy_name``
    (the cost-aware ones dividing their gain by predicted seconds to ``cost_exponent``)."""
    named = strategy(strategy_name)
    check_cost_exponent(cost_exponent)
    rows = candidates.distinct().without(measured)
    check_budget(budget, len(rows))
    view = outlook(model, entity, rows, measured, cost_exponent)
    picks = named.choose(view, budget, np.random.default_rng(seed))
    chosen = rows.take([p.index for p in picks])
    keys = chosen.keys()
    predicted = view.seconds(view.log_runtime)
    bound = view.seconds(view.log_bound)
    return [Proposal(other=keys[i][0], co_runners=keys[i][1],
                     predicted_s=float(predicted[p.index]), bound_s=float(bound[p.index]),
                     gain=p.gain) for i, p in enumerate(picks)]
