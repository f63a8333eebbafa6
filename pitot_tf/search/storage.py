"""Where a study's trials are stored: an Optuna journal file by default, or a database.

* A path (default ``studies/<study>.journal``) is an Optuna journal file: safe for several
  processes on one machine (each append takes a lock file next to it).
* A URL (``postgresql://...``, ``sqlite:///...``) is an RDB storage with heartbeats: a trial
  whose worker stops beating for the study's ``heartbeat.grace_period`` is failed and re-queued
  (``RetryHeartbeatStaleTrialCallback``, at most ``heartbeat.max_retry`` times). Use PostgreSQL
  for workers on several machines.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend

from pitot_tf.errors import ConfigError
from pitot_tf.search.studies import Heartbeat, StudySpec


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


def open_storage(location: str, heartbeat: Heartbeat | None = None) -> optuna.storages.BaseStorage:
    """An Optuna storage for ``location`` (journal file path or database URL)."""
    if not is_url(location):
        path = Path(location)
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    beat = heartbeat or Heartbeat()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            retry = RetryHeartbeatStaleTrialCallback(max_retry=beat.max_retry)
            return RDBStorage(database_url(location), heartbeat_interval=beat.interval,
                              grace_period=beat.grace_period,
                              heartbeat_stale_trial_callback=retry)
    except Exception as error:  # sqlalchemy raises many kinds for a bad URL or server
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise ConfigError(f"storage {redact(location)}: cannot open ({first_line})") from error
