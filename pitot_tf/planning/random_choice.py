"""Random: ``budget`` candidates drawn uniformly without replacement, the baseline every
other strategy must beat."""

from __future__ import annotations

import numpy as np

from pitot_tf.planning.entity import Outlook
from pitot_tf.planning.picks import Pick


def random_choice(outlook: Outlook, budget: int, rng: np.random.Generator) -> list[Pick]:
    chosen = rng.choice(len(outlook.rows), size=budget, replace=False)
    return [Pick(int(i), float("nan")) for i in chosen]
