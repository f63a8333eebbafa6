"""Model kinds: ``model.kind`` → the function that builds its interaction layer.

A kind is one module with an interaction layer and a ``build(config, dataset, heads)``
function, plus one entry in :data:`KINDS` and one in :data:`pitot_tf.config.KIND_KEYS` (the
``model.*`` keys it reads: pure data, so that config validation needs no model). The layer
takes ``(platform, workload, interferers)`` and returns ``(batch, heads)`` log runtime (added
to the linear-scaling baseline), and exposes ``set_features(platform_features,
workload_features)`` and ``row_weights()`` (:mod:`pitot_tf.models.rows`, for cold start).
Everything else follows from the entries: config validation accepts the name and the keys,
search spaces accept every ``model.*_layers`` key by its type, and cold start reads the roles
of row-indexed weights from the layer. A kind with new hyperparameters also adds them to
:class:`pitot_tf.config.ModelConfig`, where every key is typed and validated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from pitot_tf.config import KIND_KEYS, Config
from pitot_tf.data.dataset import Dataset
from pitot_tf.models import attention, monolith, pitot
from pitot_tf.models.rows import RowWeight


class Interaction(Protocol):
    """What :func:`pitot_tf.models.build.build_model` needs of an interaction layer."""

    def __call__(self, platform: Any, workload: Any, interferers: Any) -> Any: ...

    def set_features(self, platform: np.ndarray, workload: np.ndarray) -> None: ...

    def row_weights(self) -> list[RowWeight]: ...


Builder = Callable[[Config, Dataset, int], Interaction]

KINDS: dict[str, Builder] = {
    "pitot": pitot.build,
    "monolith": monolith.build,
    "attention": attention.build,
}

if set(KINDS) != set(KIND_KEYS):
    raise ImportError(f"pitot_tf.models.registry.KINDS {sorted(KINDS)} and "
                      f"pitot_tf.config.KIND_KEYS {sorted(KIND_KEYS)} must name the same kinds")
