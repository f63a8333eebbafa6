"""Where a study's trials are stored: an Optuna journal file by default, or a database.

* A path (default ``studies/<study>.journal``) is an Optuna journal file: safe for several
  processes on one machine (each append takes a lock file next to it).
* A URL (``postgresql://...``, ``sqlite:///...``) is an RDB storage. Use PostgreSQL for workers
  on several machines.

Both get Optuna's heartbeat: a RUNNING trial's worker beats every ``heartbeat.interval`` s
(Optuna's own for a database; a system attribute appended to the journal for a file). A trial
that has not beaten for ``heartbeat.grace_period`` s, or whose worker process on this host is
gone (psutil), is stale: ``optuna.storages.fail_stale_trials`` (which Optuna runs before every
trial, and :func:`recover_dead_trials` at admission) fails it, and exactly one process, the one
whose FAIL the storage accepted, re-queues it with ``RetryHeartbeatStaleTrialCallback`` (at most
``heartbeat.max_retry`` times).
"""

from __future__ import annotations

import socket
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import psutil
from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from pitot_tf.errors import ConfigError
from pitot_tf.search.studies import Heartbeat, StudySpec

#: Trial system attributes: the worker process running it, and (journal) its last beat.
OWNER, BEAT = "pitot_worker", "pitot_heartbeat"


def is_url(location: str) -> bool:
    return "://" in location


def storage_location(spec: StudySpec, storage: str | None = None) -> str:
    """``storage`` as given, else the journal file next to the study file."""
    if storage:
        return storage
    return str(spec.path.with_suffix(".journal"))


def database_url(location: str) -> str:
    """``location`` with a PostgreSQL driver that is installed: SQLAlchemy 2.1 maps plain
    ``postgresql://`` to psycopg 3, while the ``postgres`` extra installs psycopg2."""
    scheme, sep, rest = location.partition("://")
    if scheme not in ("postgresql", "postgres"):
        return location
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
        return f"postgresql+psycopg2{sep}{rest}"
    return f"postgresql{sep}{rest}"


def redact(location: str) -> str:
    """The location with any password hidden, for logs and MLflow params."""
    if not is_url(location):
        return location
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(location).render_as_string(hide_password=True)
    except ArgumentError:
        return location


def this_worker() -> dict[str, Any]:
    """This process: host, pid and start time (so that a reused pid is not mistaken for it)."""
    return {"host": socket.gethostname(), "pid": psutil.Process().pid,
            "started": psutil.Process().create_time()}


def worker_is_gone(owner: Any) -> bool:
    """Whether ``owner`` (see :func:`this_worker`) ran on this host and has exited (a zombie
    counts as exited). Processes on other hosts are left to the heartbeat's grace period."""
    if not isinstance(owner, dict) or owner.get("host") != socket.gethostname():
        return False
    try:
        process = psutil.Process(int(owner["pid"]))
        return (process.status() == psutil.STATUS_ZOMBIE
                or abs(process.create_time() - float(owner["started"])) > 0.01)
    except psutil.NoSuchProcess:
        return True
    except (psutil.Error, KeyError, TypeError, ValueError):
        return False


def _owner_record(trial_id: int) -> dict[str, Any]:
    """What a worker writes on a trial it runs (a retry inherits its predecessor's attributes,
    hence the trial id)."""
    return {**this_worker(), "trial_id": trial_id}


def _dead_owner(trials: list[FrozenTrial]) -> list[int]:
    """The trials whose recorded worker (recorded for that very trial) has exited."""
    return [t._trial_id for t in trials
            if (owner := t.system_attrs.get(OWNER)) and isinstance(owner, dict)
            and owner.get("trial_id") == t._trial_id and worker_is_gone(owner)]


StaleHook = Callable[[FrozenTrial], None]


def _retry_callback(heartbeat: Heartbeat, on_stale: StaleHook | None
                    ) -> Callable[[optuna.Study, FrozenTrial], None]:
    """Optuna's re-queue, then ``on_stale`` (e.g. end the trial's MLflow run); called only in
    the process whose FAIL the storage accepted."""
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
        self.heartbeat = heartbeat
        self._retry = _retry_callback(heartbeat, on_stale)
        self._owned: set[int] = set()

    def record_heartbeat(self, trial_id: int) -> None:
        if trial_id not in self._owned:
            self._owned.add(trial_id)
            self.set_trial_system_attr(trial_id, OWNER, _owner_record(trial_id))
        self.set_trial_system_attr(trial_id, BEAT, time.time())

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        running = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        limit = time.time() - self.heartbeat.grace_period
        silent = [t._trial_id for t in running if _last_sign(t) < limit]
        return silent + [i for i in _dead_owner(running) if i not in silent]

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

    _owned: set[int]

    def record_heartbeat(self, trial_id: int) -> None:
        super().record_heartbeat(trial_id)
        owned = self.__dict__.setdefault("_owned", set())
        if trial_id not in owned:
            owned.add(trial_id)
            self.set_trial_system_attr(trial_id, OWNER, _owner_record(trial_id))

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        silent = super()._get_stale_trial_ids(study_id)
        running = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        return silent + [i for i in _dead_owner(running) if i not in silent]


def open_storage(location: str, heartbeat: Heartbeat | None = None,
                 on_stale: StaleHook | None = None) -> optuna.storages.BaseStorage:
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
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise ConfigError(f"storage {redact(location)}: cannot open ({first_line})") from error


def recover_dead_trials(study: optuna.Study) -> None:
    """Fail the study's stale trials and re-queue each once (see the module docstring); safe
    to call from any number of processes at once."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
