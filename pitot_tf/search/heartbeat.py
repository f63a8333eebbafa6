"""A journal file with a heartbeat: the one place that reaches into Optuna's internals.

Optuna's ``RDBStorage`` fails a dead worker's trial through its heartbeat; its ``JournalStorage``
has none, so a killed worker's trial would stay RUNNING for ever. This class drives the same
protocol (``BaseHeartbeat``): each beat appends the time to the trial as a system attribute,
and the first also records the worker's process, so that a trial whose worker on this host is
gone is stale at once, not after the grace period.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import JournalStorage
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from pitot_tf.tracking.liveness import ProcessId

#: Trial system attributes: the worker process running it, and its last beat.
OWNER, BEAT = "pitot_worker", "pitot_heartbeat"
StaleCallback = Callable[[optuna.Study, FrozenTrial], None]


# Checked against Optuna 5.0.0 and 5.1.0, pinned optuna>=5.0,<5.2 (private: _heartbeat,
# _get_stale_trial_ids, FrozenTrial._trial_id); re-check them, then widen the pin, when Optuna is
# upgraded. Keep this the only module that touches private attributes of Optuna or MLflow.
class JournalHeartbeatStorage(JournalStorage, BaseHeartbeat):
    """A journal file whose trials beat every ``interval`` s; a trial silent for
    ``grace_period`` s, or whose local worker process is gone, goes to ``on_stale``."""

    def __init__(self, path: str, interval: int, grace_period: int,
                 on_stale: StaleCallback | None = None) -> None:
        super().__init__(JournalFileBackend(path))
        self.interval, self.grace_period, self.on_stale = interval, grace_period, on_stale
        self.owned: set[int] = set()

    def record_heartbeat(self, trial_id: int) -> None:
        if trial_id not in self.owned:  # a retry inherits its predecessor's attributes
            self.owned.add(trial_id)
            me = ProcessId.this()
            self._set(trial_id, OWNER, {"host": me.host, "pid": me.pid, "started": me.start,
                                        "trial_id": trial_id})
        self._set(trial_id, BEAT, time.time())

    def _set(self, trial_id: int, key: str, value: Any) -> None:
        """A trial that another worker has just failed as stale takes no beat; Optuna's beat
        thread would die on the error, and this worker's own ``tell`` will find it finished."""
        try:
            self.set_trial_system_attr(trial_id, key, value)
        except UpdateFinishedTrialError:
            pass

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        limit = time.time() - self.grace_period
        running = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        return [t._trial_id for t in running if _last_sign(t) < limit or _owner_gone(t)]

    def get_heartbeat_interval(self) -> int | None:
        return self.interval

    def get_heartbeat_stale_trial_callback(self) -> StaleCallback | None:
        return self.on_stale


def _last_sign(trial: FrozenTrial) -> float:
    """When the trial last showed life: its last beat, or its start (before the first beat)."""
    started = trial.datetime_start.timestamp() if trial.datetime_start else 0.0
    return max(float(trial.system_attrs.get(BEAT, 0.0)), started)


def _owner_gone(trial: FrozenTrial) -> bool:
    """Whether the worker recorded for this very trial ran on this host and has exited."""
    owner = trial.system_attrs.get(OWNER)
    if not isinstance(owner, dict) or owner.get("trial_id") != trial._trial_id:
        return False
    process = ProcessId.parse(owner.get("host"), owner.get("pid"), owner.get("started"))
    return process is not None and process.is_gone()
