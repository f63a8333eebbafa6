"""The planning strategies by name, with what each one's gain means."""

from __future__ import annotations

from dataclasses import dataclass

from pitot_tf.errors import PlanningError
from pitot_tf.planning.cost_aware import cost_aware, cost_aware_variance
from pitot_tf.planning.disagreement import disagreement
from pitot_tf.planning.doptimal import d_optimal
from pitot_tf.planning.picks import Strategy
from pitot_tf.planning.random_choice import random_choice
from pitot_tf.planning.variance import least_variance
from pitot_tf.planning.widest_bound import widest_bound


@dataclass(frozen=True)
class Named:
    """A strategy, and the unit of the gain it reports (``per_cost``: what it divides by
    predicted seconds, for a cost-aware one)."""

    choose: Strategy
    gain: str
    per_cost: str = ""

    def gain_unit(self, cost_exponent: float = 1.0) -> str:
        """The unit of the gain at ``cost_exponent`` (:mod:`pitot_tf.planning.cost_aware`)."""
        if not self.per_cost:
            return self.gain
        seconds = "second" if cost_exponent == 1.0 else f"(predicted seconds)^{cost_exponent:g}"
        return f"{self.per_cost} per {'predicted ' if cost_exponent == 1.0 else ''}{seconds}"


STRATEGIES: dict[str, Named] = {
    "random": Named(random_choice, "none"),
    "bound": Named(widest_bound, "log width of the bound"),
    "disagreement": Named(disagreement, "std of the members' log runtimes"),
    "doptimal": Named(d_optimal, "log-det gain (nats)"),
    "cost": Named(cost_aware, "log-det gain per predicted second", "log-det gain"),
    "variance": Named(least_variance, "summed predictive variance removed (noise units)"),
    "cost-variance": Named(cost_aware_variance, "predictive variance removed per predicted second",
                           "predictive variance removed"),
}


def strategy(name: str) -> Named:
    """The strategy called ``name``; PlanningError listing them if there is none."""
    if name not in STRATEGIES:
        raise PlanningError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    return STRATEGIES[name]
