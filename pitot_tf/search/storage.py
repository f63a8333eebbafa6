"""Where a study's trials are stored: an Optuna journal file by default, or a database.

A path (default ``studies/<study>.journal``) is a journal file, safe for several processes on
one machine; a URL (``postgresql://...``) is Optuna's ``RDBStorage``, for workers on several
machines. On both, a trial whose worker stopped beating (or, on a journal, whose local process
is gone) is failed by Optuna and re-queued by ``RetryHeartbeatStaleTrialCallback`` in the
process whose FAIL the storage accepted, which then calls ``on_stale`` (e.g. end its runs).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial

from pitot_tf.db_drivers import installed_url, require_driver
from pitot_tf.errors import ConfigError
from pitot_tf.redaction import redact
from pitot_tf.search.heartbeat import JournalHeartbeatStorage
from pitot_tf.search.studies import Heartbeat, StudySpec

StaleHook = Callable[[FrozenTrial], None]


def is_url(location: str) -> bool:
    return "://" in location


def storage_location(spec: StudySpec, storage: str | None = None) -> str:
    """``storage`` as given, else the journal file next to the study file."""
    return storage or str(spec.path.with_suffix(".journal"))


def database_url(location: str) -> str:
    """``location`` with a database driver that is installed (:func:`installed_url`)."""
    return installed_url(location)


def open_storage(location: str, heartbeat: Heartbeat | None = None,
                 on_stale: StaleHook | None = None) -> BaseStorage:
    """An Optuna storage with a heartbeat for ``location`` (journal file path or database
    URL); ``on_stale`` runs after this process re-queues a dead worker's trial."""
    beat = heartbeat or Heartbeat()
    with warnings.catch_warnings():  # experimental since Optuna 2.8, stable in use
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = RetryHeartbeatStaleTrialCallback(max_retry=beat.max_retry)

    def callback(study: optuna.Study, trial: FrozenTrial) -> None:
        retry(study, trial)
        if on_stale is not None:
            on_stale(trial)

    if not is_url(location):
        Path(location).parent.mkdir(parents=True, exist_ok=True)
        return JournalHeartbeatStorage(location, beat.interval, beat.grace_period, callback)
    url = database_url(location)
    require_driver(url, "storage")
    try:
        return RDBStorage(url, heartbeat_interval=beat.interval,
                          grace_period=beat.grace_period,
                          heartbeat_stale_trial_callback=callback)
    except Exception as error:  # sqlalchemy raises many kinds for a bad URL or server
        first_line = redact((str(error).strip() or repr(error)).splitlines()[0])
        raise ConfigError(f"storage {redact(location)}: cannot open ({first_line})") from error


def set_study_attrs(study: optuna.Study, values: Mapping[str, Any]) -> None:
    """Store ``values`` as the study's user attributes (those that changed)."""
    for key, value in values.items():
        if study.user_attrs.get(key) != value:
            study.set_user_attr(key, value)
