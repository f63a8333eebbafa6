"""Tags that sweeps and ``pitot-tf runs repair`` put on MLflow runs.

Kept apart from :mod:`pitot_tf.tracking.names` (the tags every run has): these belong to the
sweep machinery only.
"""

from __future__ import annotations

from collections.abc import Mapping

from pitot_tf.search.processes import ProcessId

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
#: The process that ran it: a RUNNING run whose process is gone was killed.
TAG_HOST = "pitot.host"
TAG_PID = "pitot.pid"
TAG_PID_START = "pitot.pid_start"
TAG_REPAIRED = "pitot.repaired"
#: ``pitot.kind`` of a sweep's parent run.
KIND_SWEEP = "sweep"


def in_sweep_tag(sweep_id: str) -> str:
    return f"{TAG_IN_SWEEP_PREFIX}{sweep_id}"


def process_tags(process: ProcessId) -> dict[str, str]:
    start = "" if process.start is None else f"{process.start:.2f}"
    return {TAG_HOST: process.host, TAG_PID: str(process.pid), TAG_PID_START: start}


def tagged_process(tags: Mapping[str, str]) -> ProcessId | None:
    """The process a run records, or None when it records none."""
    if TAG_HOST not in tags or TAG_PID not in tags:
        return None
    return ProcessId.parse(tags[TAG_HOST], tags[TAG_PID], tags.get(TAG_PID_START))
