"""Where a study's trials are stored: an Optuna journal file by default, or a database.

* A path (default ``studies/<study>.journal``) is an Optuna journal file: safe for several
  processes on one machine (each append takes a lock file next to it).
* A URL (``postgresql://...``, ``sqlite:///...``) is an RDB storage. Use PostgreSQL for workers
  on several machines.

Both get Optuna's heartbeat: a RUNNING trial's worker beats every ``heartbeat.interval`` s
(Optuna's own for a database; a system attribute appended to the journal for a file) and
records its process. A trial silent for ``heartbeat.grace_period`` s, or whose worker process
on this host is gone, is stale: ``optuna.storages.fail_stale_trials`` (run by Optuna before
every trial, and by :func:`recover_dead_trials` under the admission lock) fails it, and the one
process whose FAIL the storage accepted re-queues it with ``RetryHeartbeatStaleTrialCallback``
(at most ``heartbeat.max_retry`` times) and calls ``on_stale`` (e.g. end its MLflow runs).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import (
    BaseStorage,
    JournalStorage,
    RDBStorage,
    RetryHeartbeatStaleTrialCallback,
)
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from pitot_tf.errors import ConfigError
from pitot_tf.search.processes import ProcessId
from pitot_tf.search.studies import Heartbeat, StudySpec

#: Trial system attributes: the worker process running it, and (journal) its last beat.
OWNER, BEAT = "pitot_worker", "pitot_heartbeat"
StaleHook = Callable[[FrozenTrial], None]


def is_url(location: str) -> bool:
    return "://" in location


def storage_location(spec: StudySpec, storage: str | None = None) -> str:
    """``storage`` as given, else the journal file next to the study file."""
    return storage or str(spec.path.with_suffix(".journal"))


def database_url(location: str) -> str:
    """``location`` with a PostgreSQL driver that is installed: SQLAlchemy 2.1 maps plain
    ``postgresql://`` to psycopg 3, while the ``postgres`` extra installs psycopg2."""
    import importlib.util

    scheme, sep, rest = location.partition("://")
    if (scheme in ("postgresql", "postgres") and importlib.util.find_spec("psycopg") is None
            and importlib.util.find_spec("psycopg2")):
        return f"postgresql+psycopg2{sep}{rest}"
    return f"postgresql{sep}{rest}" if scheme == "postgres" else location


def redact(location: str) -> str:
    """The location with any password hidden, for logs and MLflow params."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(location).render_as_string(hide_password=True) if is_url(location) \
            else location
    except ArgumentError:
        return location


def _record_owner(storage: BaseStorage, trial_id: int) -> None:
    """Write this process on a trial it beats for, once (a retry inherits its predecessor's
    attributes, hence the trial id in the record)."""
    owned = storage.__dict__.setdefault("_owned", set())
    if trial_id not in owned:
        owned.add(trial_id)
        me = ProcessId.this()
        _set_unless_finished(storage, trial_id, OWNER, {
            "host": me.host, "pid": me.pid, "started": me.start, "trial_id": trial_id})


def _set_unless_finished(storage: BaseStorage, trial_id: int, key: str, value: Any) -> None:
    """Set a heartbeat attribute; a trial another worker has just failed as stale takes none,
    and its heartbeat thread (Optuna's, which would die on the error) beats on harmlessly
    until this worker's own ``tell`` finds the trial finished."""
    try:
        storage.set_trial_system_attr(trial_id, key, value)
    except UpdateFinishedTrialError:
        pass


def _owner_gone(trial: FrozenTrial) -> bool:
    """Whether the worker recorded for this very trial ran on this host and has exited."""
    owner = trial.system_attrs.get(OWNER)
    if not isinstance(owner, dict) or owner.get("trial_id") != trial._trial_id:
        return False
    process = ProcessId.parse(owner.get("host"), owner.get("pid"), owner.get("started"))
    return process is not None and process.is_gone()


def _running(storage: BaseStorage, study_id: int) -> list[FrozenTrial]:
    return storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))


def _retry_callback(heartbeat: Heartbeat, on_stale: StaleHook | None
                    ) -> Callable[[optuna.Study, FrozenTrial], None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = RetryHeartbeatStaleTrialCallback(max_retry=heartbeat.max_retry)

    def retry_and_report(study: optuna.Study, trial: FrozenTrial) -> None:
        retry(study, trial)
        if on_stale is not None:
            on_stale(trial)

    return retry_and_report


class JournalHeartbeatStorage(JournalStorage, BaseHeartbeat):
    """A journal file with Optuna's heartbeat: each beat appends the time to the trial."""

    def __init__(self, path: str, heartbeat: Heartbeat, on_stale: StaleHook | None = None
                 ) -> None:
        super().__init__(JournalFileBackend(path))
        self.heartbeat, self._retry = heartbeat, _retry_callback(heartbeat, on_stale)

    def record_heartbeat(self, trial_id: int) -> None:
        _record_owner(self, trial_id)
        _set_unless_finished(self, trial_id, BEAT, time.time())

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        limit = time.time() - self.heartbeat.grace_period
        return [t._trial_id for t in _running(self, study_id)
                if _last_sign(t) < limit or _owner_gone(t)]

    def get_heartbeat_interval(self) -> int | None:
        return self.heartbeat.interval

    def get_heartbeat_stale_trial_callback(self) -> Callable[[optuna.Study, FrozenTrial], None]:
        return self._retry


def _last_sign(trial: FrozenTrial) -> float:
    """When the trial last showed life: its last beat, or its start (before the first beat)."""
    started = trial.datetime_start.timestamp() if trial.datetime_start else 0.0
    return max(float(trial.system_attrs.get(BEAT, 0.0)), started)


class RDBHeartbeatStorage(RDBStorage):
    """Optuna's RDB storage whose trials also record their worker process, so that a trial
    of a dead local worker is stale at once rather than after the grace period."""

    def record_heartbeat(self, trial_id: int) -> None:
        super().record_heartbeat(trial_id)
        _record_owner(self, trial_id)

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        silent = super()._get_stale_trial_ids(study_id)
        return silent + [t._trial_id for t in _running(self, study_id)
                         if t._trial_id not in silent and _owner_gone(t)]


def open_storage(location: str, heartbeat: Heartbeat | None = None,
                 on_stale: StaleHook | None = None) -> BaseStorage:
    """An Optuna storage with heartbeat for ``location`` (journal file path or database URL);
    ``on_stale`` runs after this process re-queues a dead worker's trial."""
    beat = heartbeat or Heartbeat()
    if not is_url(location):
        Path(location).parent.mkdir(parents=True, exist_ok=True)
        return JournalHeartbeatStorage(location, beat, on_stale)
    try:
        return RDBHeartbeatStorage(database_url(location), heartbeat_interval=beat.interval,
                                   grace_period=beat.grace_period,
                                   heartbeat_stale_trial_callback=_retry_callback(beat, on_stale))
    except Exception as error:  # sqlalchemy raises many kinds for a bad URL or server
        first_line = (str(error).strip() or repr(error)).splitlines()[0]
        raise ConfigError(f"storage {redact(location)}: cannot open ({first_line})") from error


def set_study_attrs(study: optuna.Study, values: Mapping[str, Any]) -> None:
    """Store ``values`` as the study's user attributes (those that changed)."""
    for key, value in values.items():
        if study.user_attrs.get(key) != value:
            study.set_user_attr(key, value)


def recover_dead_trials(study: optuna.Study) -> None:
    """Fail the study's stale trials and re-queue each once (see the module docstring)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
