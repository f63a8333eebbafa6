"""Cost-aware planning: a strategy's gain divided by the row's predicted runtime in seconds,
so information is bought per device-second: a platform that takes 30 s is chosen only when
it teaches about 30 times what a 1 s one would. ``cost`` divides the D-optimal log-det gain
(:mod:`pitot_tf.planning.doptimal`), ``cost-variance`` the predictive variance removed
(:mod:`pitot_tf.planning.variance`)."""

from __future__ import annotations

import numpy as np

from pitot_tf.planning.doptimal import greedy_log_det
from pitot_tf.planning.entity import Outlook
from pitot_tf.planning.picks import Pick
from pitot_tf.planning.variance import greedy_variance


def cost_aware(outlook: Outlook, budget: int, rng: np.random.Generator) -> list[Pick]:
    cost = outlook.seconds(outlook.log_runtime)
    return greedy_log_det(outlook.design, outlook.measured_design, budget, cost=cost,
                          prior=outlook.prior)


def cost_aware_variance(outlook: Outlook, budget: int, rng: np.random.Generator) -> list[Pick]:
    """:func:`~pitot_tf.planning.variance.greedy_variance` per predicted second."""
    cost = outlook.seconds(outlook.log_runtime)
    return greedy_variance(outlook.design, outlook.measured_design, budget, outlook.prior, cost)
