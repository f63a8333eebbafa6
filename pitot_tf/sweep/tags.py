"""Tags that sweeps put on MLflow runs (the process that ran one: ``tracking.liveness``).

Kept apart from :mod:`pitot_tf.tracking.names` (the tags every run has): these belong to the
sweep machinery only.
"""

from __future__ import annotations

#: Hash of what makes a finished run reusable (see :mod:`pitot_tf.sweep.keys`).
TAG_SWEEP_KEY = "pitot.sweep_key"
#: The sweep whose worker trained the run (and, on the parent, the sweep it stands for).
TAG_SWEEP_ID = "pitot.sweep.id"
#: ``pitot.in_sweep.<sweep id>`` = cell key: the run is that sweep's cell (trained or reused).
TAG_IN_SWEEP_PREFIX = "pitot.in_sweep."
TAG_CELL = "pitot.sweep.cell"
#: On a cell run: when its worker last showed life (seconds since the epoch, renewed by a
#: thread while it trains); a RUNNING claim silent for longer than ``stale_after`` is dead.
TAG_HEARTBEAT = "pitot.sweep.heartbeat"
#: "true" when the run logged its model (a sweep that wants models reuses only those).
TAG_HAS_MODEL = "pitot.sweep.model"
#: ``pitot.kind`` of a sweep's parent run.
KIND_SWEEP = "sweep"


def in_sweep_tag(sweep_id: str) -> str:
    return f"{TAG_IN_SWEEP_PREFIX}{sweep_id}"
