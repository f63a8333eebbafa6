"""What every strategy returns: the chosen candidates in order, each with its gain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pitot_tf.planning.entity import Outlook


@dataclass(frozen=True)
class Pick:
    """Candidate ``index`` (into the outlook's rows), chosen with this ``gain`` (the
    strategy's own score when it was chosen; NaN for random)."""

    index: int
    gain: float


#: ``(outlook, budget, rng) -> picks``: ``budget`` distinct candidates, best first.
Strategy = Callable[[Outlook, int, np.random.Generator], list[Pick]]


def top_scores(score: np.ndarray, budget: int, rng: np.random.Generator) -> list[Pick]:
    """The ``budget`` highest scores, ties in random order (a score that does not change as
    rows are chosen, such as a bound's width)."""
    order = rng.permutation(len(score))
    ranked = order[np.argsort(-score[order], kind="stable")][:budget]
    return [Pick(int(i), float(score[i])) for i in ranked]
