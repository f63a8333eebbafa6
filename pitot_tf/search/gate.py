"""Exactly N finished trials across any number of workers: admission under a lock.

``MaxTrialsCallback`` stops a worker only after one of its trials ends, so K workers that
each start a trial while the study is one short of its target finish up to K-1 trials too
many. Here a worker may start a trial only while holding a lock shared by all workers of the
storage, and only if ``finished + running < target``; it keeps the lock until the new trial
is RUNNING (popped from the queue or created; the objective's first act is to release it). A
trial that fails, or whose worker dies and is failed by the heartbeat check
(:func:`~pitot_tf.search.storage.recover_dead_trials`, run at every admission), frees its
place (and its retry waits in the queue). So exactly ``target`` trials end COMPLETE or PRUNED.

The lock is a PostgreSQL advisory lock for ``postgresql://`` storage (works across machines)
and a ``filelock`` next to the journal (or in the temporary folder) otherwise. Taking it gives
up after :data:`LOCK_TIMEOUT_S` with a PitotError, and an error during admission releases it.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import filelock
import optuna
from optuna.trial import TrialState

from pitot_tf.errors import PitotError
from pitot_tf.search.storage import database_url, is_url, recover_dead_trials

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
Admission = Literal["run", "wait", "done"]
#: Admission holds the lock for a storage round trip or two; a minute means something is stuck.
LOCK_TIMEOUT_S = 60.0


class Lock(Protocol):
    def acquire(self) -> None: ...

    def release(self) -> None: ...


def lock_timeout(where: str, timeout: float) -> PitotError:
    return PitotError(f"could not take the admission lock {where} within {timeout:g} s; "
                      "another search or sweep process holds it (stuck?)")


class FileLock:
    """An exclusive lock on ``path`` (``filelock``; Optuna's own journal lock is separate)."""

    def __init__(self, path: Path, timeout: float = LOCK_TIMEOUT_S) -> None:
        self.path, self.timeout = path, timeout
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = filelock.FileLock(str(path), timeout=timeout)

    def acquire(self) -> None:
        try:
            self._lock.acquire()
        except filelock.Timeout:
            raise lock_timeout(str(self.path), self.timeout) from None

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release()


class PostgresLock:
    """A session-level ``pg_advisory_lock`` keyed by the study name."""

    def __init__(self, url: str, name: str, timeout: float = LOCK_TIMEOUT_S) -> None:
        import sqlalchemy
        from sqlalchemy.pool import NullPool

        self._engine = sqlalchemy.create_engine(database_url(url), poolclass=NullPool)
        self._key = zlib.crc32(f"pitot-tf-search:{name}".encode())
        self._connection: sqlalchemy.Connection | None = None
        self.name, self.timeout = name, timeout

    def acquire(self) -> None:
        from sqlalchemy import text

        connection = self._engine.connect()
        deadline = time.monotonic() + self.timeout
        try:
            while not connection.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                         {"key": self._key}).scalar():
                if time.monotonic() > deadline:
                    raise lock_timeout(f"of study {self.name}", self.timeout)
                time.sleep(0.05)
            connection.commit()
        except BaseException:
            connection.close()  # a session lock goes with its connection
            raise
        self._connection = connection

    def release(self) -> None:
        from sqlalchemy import text

        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
                connection.commit()
            finally:
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
        running trials may reach the target; ``done``: the target is reached. On an error
        the lock is released."""
        self.lock.acquire()
        self._held = True
        try:
            recover_dead_trials(study)
            counts = count_trials(study)
        except BaseException:
            self.release()
            raise
        if counts.finished >= self.target or counts.finished + counts.running >= self.target:
            self.release()
            return "done" if counts.finished >= self.target else "wait"
        return "run"

    def release(self) -> None:
        if self._held:
            self._held = False
            self.lock.release()
