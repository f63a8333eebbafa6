"""Cost-aware planning: a strategy's gain divided by the row's predicted runtime in seconds
(to the power ``cost_exponent``, :meth:`~pitot_tf.planning.entity.Outlook.cost`), so
information is bought per device-second: at exponent 1 a platform that takes 30 s is chosen
only when it teaches about 30 times what a 1 s one would; below 1 the planner spends more on
slow rows that teach much. ``cost`` divides the D-optimal log-det gain
(:mod:`pitot_tf.planning.doptimal`), ``cost-variance`` the predictive variance removed
(:mod:`pitot_tf.planning.variance`)."""

from __future__ import annotations

import numpy as np

from pitot_tf.planning.doptimal import greedy_log_det
from pitot_tf.planning.entity import Outlook
from pitot_tf.planning.picks import Pick
from pitot_tf.planning.variance import greedy_variance


def cost_aware(outlook: Outlook, budget: int, rng: np.random.Generator) -> list[Pick]:
    return greedy_log_det(outlook.design, outlook.measured_design, budget, cost=outlook.cost(),
                          prior=outlook.prior)


def cost_aware_variance(outlook: Outlook, budget: int, rng: np.random.Generator) -> list[Pick]:
    """:func:`~pitot_tf.planning.variance.greedy_variance` per predicted second."""
    return greedy_variance(outlook.design, outlook.measured_design, budget, outlook.prior,
                           outlook.cost())
