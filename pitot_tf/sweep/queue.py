"""The cells of a sweep handed out by an Optuna study, exactly as a search hands out trials.

The study ``sweep-<id>`` lives in the same storage a search uses (a journal file, by default
``studies/sweeps.journal``, or a database URL with heartbeats; see
:mod:`pitot_tf.search.storage`). When the sweep starts, every cell that has neither a finished
MLflow run nor a waiting or running trial is enqueued once (``enqueue_trial({"cell": i},
user_attrs={"cell": key})``); workers pop them with ``study.ask()`` (inside
``study.optimize``), which Optuna makes atomic across processes and machines. A trial that
``ask()`` creates without a cell means the queue is empty. GridSampler is not used: it would
never hand out again a grid point whose trial failed.

A dead worker's trial is failed and its cell re-queued once by the storage's heartbeat
(:mod:`pitot_tf.search.storage`: at once for a process on this host, after the grace period
for one elsewhere). A cell may still be queued twice (a re-run enqueues it while a heartbeat
retry is on its way); the worker that pops it then skips it (:func:`duplicate_of`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from pitot_tf.errors import ConfigError
from pitot_tf.search.gate import storage_lock
from pitot_tf.search.storage import open_storage, recover_dead_trials, redact

DEFAULT_STORAGE = Path("studies") / "sweeps.journal"
STUDY_PREFIX = "sweep-"
CELL_PARAM = "cell"
ATTR_CELL = "cell"
ATTR_RUN_ID, ATTR_REUSED, ATTR_ERROR = "mlflow_run_id", "reused", "error"
#: Study user attributes.
ATTR_CELLS, ATTR_KEYS, ATTR_PARENT = "cells", "sweep_keys", "parent_run_id"
ATTR_EXPERIMENT_ID, ATTR_DEFINITION = "experiment_id", "definition"
ACTIVE = (TrialState.WAITING, TrialState.RUNNING)


def study_name(sweep_id: str) -> str:
    return f"{STUDY_PREFIX}{sweep_id}"


def storage_location(storage: str | None) -> str:
    """``--storage`` as given (journal path or database URL), else the default journal."""
    return storage or str(DEFAULT_STORAGE)


def open_queue(location: str, sweep_id: str, create: bool = True) -> optuna.Study:
    """The sweep's study (created when ``create``); random sampling, as params are fixed."""
    storage = open_storage(location)
    sampler = optuna.samplers.RandomSampler()
    if create:
        return optuna.create_study(storage=storage, study_name=study_name(sweep_id),
                                   sampler=sampler, load_if_exists=True)
    try:
        return optuna.load_study(study_name=study_name(sweep_id), storage=storage,
                                 sampler=sampler)
    except KeyError:
        raise ConfigError(f"sweep {sweep_id}: no study {study_name(sweep_id)} in "
                          f"{redact(location)}") from None


@contextmanager
def queue_lock(location: str, sweep_id: str) -> Iterator[None]:
    """Exclusive among the processes starting this sweep (file lock, or a PostgreSQL
    advisory lock for ``postgresql://`` storage), so the cells are enqueued only once."""
    lock = storage_lock(location, study_name(sweep_id))
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def describe(study: optuna.Study, cells: list[str], keys: Mapping[str, str],
             attrs: Mapping[str, Any]) -> None:
    """Record the cell list, their sweep keys and ``attrs`` (parent run id, ...) once."""
    if ATTR_CELLS not in study.user_attrs:
        study.set_user_attr(ATTR_CELLS, cells)
        study.set_user_attr(ATTR_KEYS, dict(keys))
    for name, value in attrs.items():
        if study.user_attrs.get(name) != value:
            study.set_user_attr(name, value)


def trial_cell(trial: FrozenTrial | optuna.Trial) -> str | None:
    """The cell a trial carries (set when it was enqueued), or None for a fresh trial."""
    cell = trial.user_attrs.get(ATTR_CELL)
    return str(cell) if cell is not None else None


def duplicate_of(study: optuna.Study, trial: optuna.Trial) -> int | None:
    """The number of another trial of ``trial``'s cell that makes it redundant: one COMPLETE,
    or one RUNNING with a smaller number (of two popped at once, the older one runs)."""
    cell = trial_cell(trial)
    for other in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,
                                                          TrialState.RUNNING)):
        if other.number != trial.number and trial_cell(other) == cell and (
                other.state == TrialState.COMPLETE or other.number < trial.number):
            return other.number
    return None


def active_cells(study: optuna.Study) -> set[str]:
    """Cells with a WAITING or RUNNING trial (being handed out or trained now)."""
    return {c for t in study.get_trials(deepcopy=False, states=ACTIVE)
            if (c := trial_cell(t)) is not None}


def enqueue_missing(study: optuna.Study, cells: list[str], done: set[str]) -> list[str]:
    """Recover dead workers' trials, then enqueue every cell that is neither ``done`` nor
    active; return those enqueued."""
    recover_dead_trials(study)
    active = active_cells(study)
    missing = [c for c in cells if c not in done and c not in active]
    for cell in missing:
        study.enqueue_trial({CELL_PARAM: cells.index(cell)}, user_attrs={ATTR_CELL: cell})
    return missing


def completed_cells(study: optuna.Study, since: datetime | None = None) -> set[str]:
    """Cells with a COMPLETE trial (started at ``since`` or later, when given)."""
    return {c for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if (c := trial_cell(t)) is not None
            and (since is None or (t.datetime_start is not None and t.datetime_start >= since))}


def failed_cells(study: optuna.Study) -> dict[str, str]:
    """``{cell: error}`` for cells whose latest trial FAILED and none is active or complete."""
    settled = completed_cells(study) | active_cells(study)
    errors: dict[str, str] = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        cell = trial_cell(trial)
        if cell is not None and cell not in settled:
            errors[cell] = str(trial.user_attrs.get(ATTR_ERROR, "its worker died"))
    return errors
