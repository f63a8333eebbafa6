"""Ensemble disagreement: the rows where the members' predicted log runtimes spread most
(their standard deviation), query-by-committee. Needs an ensemble model."""

from __future__ import annotations

import numpy as np

from pitot_tf.errors import PlanningError
from pitot_tf.planning.entity import Outlook
from pitot_tf.planning.picks import Pick, top_scores


def disagreement(outlook: Outlook, budget: int, rng: np.random.Generator) -> list[Pick]:
    members = outlook.members.shape[1]
    if members < 2:
        raise PlanningError("strategy disagreement needs an ensemble (training.ensemble > 1); "
                            "this model has one member: use doptimal, cost or bound")
    return top_scores(outlook.members.std(axis=1), budget, rng)
