"""Admission: every trial of a search or a sweep starts under one lock shared by all workers.

``MaxTrialsCallback`` stops a worker only after one of its trials ends, so K workers that each
start a trial while the study is one short of its target finish up to K-1 trials too many. Here
a worker takes the storage's lock, fails and re-queues dead workers' trials
(:func:`~pitot_tf.search.storage.recover_dead_trials`), asks an ``admit`` function whether to
start a trial (``run``), wait (``wait``) or stop (``done``), and keeps the lock until its trial
is RUNNING (popped from the queue or created; the objective's first act releases it). A search
admits while ``finished + running < target`` (:func:`trial_budget`), so exactly ``target``
trials end COMPLETE or PRUNED; a sweep enqueues one cell that no trial holds
(:mod:`pitot_tf.sweep.queue`), so each cell is handed out once.

The lock is a PostgreSQL advisory lock for ``postgresql://`` storage (works across machines)
and a ``filelock`` next to the journal (or in the temporary folder) otherwise. Taking it gives
up after :data:`LOCK_TIMEOUT_S` with a PitotError, and an error during admission releases it.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import filelock
import optuna
from optuna.trial import FrozenTrial, TrialState

from pitot_tf.errors import PitotError
from pitot_tf.search.storage import database_url, is_url, recover_dead_trials

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
Finished = optuna.exceptions.UpdateFinishedTrialError
Admission = Literal["run", "wait", "done"]
Admit = Callable[[optuna.Study], Admission]
#: Admission holds the lock for a storage round trip or two; a minute means something is stuck.
LOCK_TIMEOUT_S = 60.0
log = logging.getLogger(__name__)


class Lock(Protocol):
    def acquire(self) -> None: ...

    def release(self) -> None: ...


def lock_timeout(where: str, timeout: float) -> PitotError:
    return PitotError(f"could not take the admission lock {where} within {timeout:g} s; "
                      "another search or sweep process holds it (stuck?)")


class FileLock:
    """An exclusive lock on ``path`` (``filelock``; Optuna's own journal lock is separate)."""

    def __init__(self, path: Path, timeout: float = LOCK_TIMEOUT_S) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self._lock = path, filelock.FileLock(str(path), timeout=timeout)

    def acquire(self) -> None:
        try:
            self._lock.acquire()
        except filelock.Timeout:
            raise lock_timeout(str(self.path), self._lock.timeout) from None

    def release(self) -> None:
        self._lock.release()


class PostgresLock:
    """A session-level ``pg_try_advisory_lock`` keyed by the study name, polled until timeout."""

    def __init__(self, url: str, name: str, timeout: float = LOCK_TIMEOUT_S) -> None:
        import sqlalchemy
        from sqlalchemy.pool import NullPool

        self._engine = sqlalchemy.create_engine(database_url(url), poolclass=NullPool)
        self._key = {"key": zlib.crc32(f"pitot-tf-search:{name}".encode())}
        self._connection: Any = None
        self.name, self.timeout = name, timeout

    def acquire(self) -> None:
        from sqlalchemy import text

        connection = self._engine.connect()
        deadline = time.monotonic() + self.timeout
        try:
            while not connection.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                         self._key).scalar():
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

        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), self._key)
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


def trial_budget(target: int) -> Admit:
    """Admit while ``finished + running < target``; done once ``finished >= target``."""

    def admit(study: optuna.Study) -> Admission:
        states = [t.state for t in study.get_trials(deepcopy=False)]
        finished = sum(s in FINISHED for s in states)
        if finished >= target:
            return "done"
        return "run" if finished + states.count(TrialState.RUNNING) < target else "wait"

    return admit


def optimize_admitted(
    study: optuna.Study, objective: Callable[[optuna.Trial], Any], admit: Admit, lock: Lock,
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
    catch: tuple[type[Exception], ...] = (PitotError,), deadline: float | None = None,
    poll_s: float = 1.0, max_failures: int | None = None,
) -> list[FrozenTrial]:
    """One ``study.optimize(n_trials=1)`` per admitted trial until ``admit`` says done, the
    ``deadline`` (epoch seconds) passes or ``max_failures`` of these trials FAILed. A trial that
    another process failed meanwhile (a heartbeat that seemed silent) is left to its retry.
    Returns the trials this worker ran."""
    ran: list[FrozenTrial] = []
    attempt: list[Any] = [None, None]  # the trial being run, and what its objective raised

    def released(trial: optuna.Trial) -> Any:
        lock.release()  # the trial is RUNNING: others may be admitted now
        attempt[:] = [trial, None]
        try:
            return objective(trial)
        except Exception as error:
            attempt[1] = error
            raise

    while deadline is None or time.time() < deadline:
        lock.acquire()
        try:
            recover_dead_trials(study)
            admission = admit(study)
            if admission == "run":
                attempt[:] = [None, None]
                try:
                    study.optimize(released, n_trials=1, catch=catch, gc_after_trial=True,
                                   callbacks=[*callbacks, lambda _, trial: ran.append(trial)])
                except Exception:  # Optuna cannot tell a trial that another process failed
                    trial, error = attempt
                    if trial is None or not isinstance(error, (type(None), *catch, Finished)) \
                            or not _failed_elsewhere(study, trial):
                        raise
        finally:
            lock.release()
        failed = sum(t.state == TrialState.FAIL for t in ran)
        if admission == "done" or (max_failures is not None and failed >= max_failures):
            break
        if admission == "wait":
            time.sleep(poll_s)
    return ran


def _failed_elsewhere(study: optuna.Study, trial: optuna.Trial) -> bool:
    """Whether this worker's trial was FAILED by another process (its heartbeat seemed silent
    for the grace period, e.g. a long GIL-holding step under load): the retry runs elsewhere,
    so this worker goes on."""
    if study.get_trials(deepcopy=False)[trial.number].state != TrialState.FAIL:
        return False
    log.warning("trial %d was failed by another worker (no heartbeat for the grace period); "
                "its retry runs there", trial.number)
    return True
