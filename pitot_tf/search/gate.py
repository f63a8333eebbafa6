"""Exactly N finished trials across any number of workers: admission under a lock.

``MaxTrialsCallback`` stops a worker only after one of its trials ends, so K workers that
each start a trial while the study is one short of its target finish up to K-1 trials too
many. Here a worker may start a trial only while holding a lock shared by all workers of the
storage, and only if ``finished + running < target``; it keeps the lock until the new trial
is RUNNING (popped from the queue or created; the objective's first act is to release it). A
trial that fails, or whose worker dies and is failed by the heartbeat check, frees its place
(and its retry waits in the queue). So exactly ``target`` trials end COMPLETE or PRUNED and
none runs twice.

The lock is a PostgreSQL advisory lock for ``postgresql://`` storage (works across machines)
and an ``flock`` on a file for journal files and other databases (one machine).
"""

from __future__ import annotations

import fcntl
import hashlib
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import optuna
from optuna.trial import TrialState

from pitot_tf.search.storage import database_url, is_url

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
Admission = Literal["run", "wait", "done"]


class Lock(Protocol):
    def acquire(self) -> None: ...

    def release(self) -> None: ...


class FileLock:
    """An exclusive ``flock`` on ``path`` (advisory; Optuna's own journal lock is separate)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: int | None = None

    def acquire(self) -> None:
        import os

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(handle, fcntl.LOCK_EX)
        self._handle = handle

    def release(self) -> None:
        import os

        if self._handle is not None:
            handle, self._handle = self._handle, None
            fcntl.flock(handle, fcntl.LOCK_UN)
            os.close(handle)


class PostgresLock:
    """A session-level ``pg_advisory_lock`` keyed by the study name."""

    def __init__(self, url: str, name: str) -> None:
        import sqlalchemy
        from sqlalchemy.pool import NullPool

        self._engine = sqlalchemy.create_engine(database_url(url), poolclass=NullPool)
        self._key = zlib.crc32(f"pitot-tf-search:{name}".encode())
        self._connection: sqlalchemy.Connection | None = None

    def acquire(self) -> None:
        from sqlalchemy import text

        connection = self._engine.connect()
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": self._key})
        connection.commit()
        self._connection = connection

    def release(self) -> None:
        from sqlalchemy import text

        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
            connection.commit()
            connection.close()


def storage_lock(location: str, study_name: str) -> Lock:
    """The admission lock for a study at ``location`` (journal path or database URL)."""
    if location.startswith(("postgresql://", "postgresql+", "postgres://")):
        return PostgresLock(location, study_name)
    if not is_url(location):
        return FileLock(Path(location).with_name(Path(location).name + ".admit"))
    digest = hashlib.sha1(f"{location}|{study_name}".encode()).hexdigest()[:16]
    return FileLock(Path(tempfile.gettempdir()) / f"pitot-tf-search-{digest}.lock")


@dataclass(frozen=True)
class TrialCounts:
    finished: int
    running: int
    waiting: int


def count_trials(study: optuna.Study) -> TrialCounts:
    states = [t.state for t in study.get_trials(deepcopy=False)]
    return TrialCounts(
        finished=sum(s in FINISHED for s in states),
        running=states.count(TrialState.RUNNING),
        waiting=states.count(TrialState.WAITING))


class TrialBudget:
    """Admits trials so that exactly ``target`` finish (COMPLETE or PRUNED) in the study."""

    def __init__(self, lock: Lock, target: int) -> None:
        self.lock, self.target = lock, target
        self._held = False

    def admit(self, study: optuna.Study) -> Admission:
        """``run``: start a trial now (the lock stays held until :meth:`release`); ``wait``:
        running trials may reach the target; ``done``: the target is reached."""
        self.lock.acquire()
        self._held = True
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        counts = count_trials(study)
        if counts.finished >= self.target:
            self.release()
            return "done"
        if counts.finished + counts.running >= self.target:
            self.release()
            return "wait"
        return "run"

    def release(self) -> None:
        if self._held:
            self._held = False
            self.lock.release()
