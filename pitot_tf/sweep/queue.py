"""The cells of a sweep handed out by an Optuna study, under the same admission as a search.

The study ``sweep-<id>`` lives in the same storage a search uses (a journal file, by default
``studies/sweeps.journal``, or a database URL; see :mod:`pitot_tf.search.storage`) and records
the cell list, their sweep keys, the parent run id and the experiment id as user attributes.
A worker takes the storage's lock (:func:`~pitot_tf.search.gate.optimize_admitted`) and
:func:`cell_admission` hands it one cell: a WAITING trial if there is one (a dead worker's cell
that the heartbeat re-queued exactly once), else a new trial enqueued for the first cell that
no trial holds (``enqueue_trial({"cell": i}, user_attrs={"cell": key})``). As the lock is held
until the popped trial is RUNNING, no cell is ever handed out twice at once. GridSampler is not
used: it would never hand out again a grid point whose trial failed.
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
from pitot_tf.search.gate import Admission, Admit, storage_lock
from pitot_tf.search.storage import StaleHook, open_storage, redact, set_study_attrs

DEFAULT_STORAGE = Path("studies") / "sweeps.journal"
STUDY_PREFIX = "sweep-"
CELL_PARAM = ATTR_CELL = "cell"
ATTR_REUSED, ATTR_ERROR = "reused", "error"
#: Study user attributes.
ATTR_CELLS, ATTR_KEYS, ATTR_PARENT = "cells", "sweep_keys", "parent_run_id"
ATTR_EXPERIMENT_ID = "experiment_id"
ACTIVE = (TrialState.WAITING, TrialState.RUNNING)


def study_name(sweep_id: str) -> str:
    return f"{STUDY_PREFIX}{sweep_id}"


def storage_location(storage: str | None) -> str:
    """``--storage`` as given (journal path or database URL), else the default journal."""
    return storage or str(DEFAULT_STORAGE)


def open_queue(location: str, sweep_id: str, create: bool = True,
               on_stale: StaleHook | None = None) -> optuna.Study:
    """The sweep's study (created when ``create``); ``on_stale`` as for
    :func:`~pitot_tf.search.storage.open_storage`."""
    storage, name = open_storage(location, on_stale=on_stale), study_name(sweep_id)
    if create:
        return optuna.create_study(storage=storage, study_name=name, load_if_exists=True)
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise ConfigError(f"sweep {sweep_id}: no study {name} in {redact(location)}") from None


@contextmanager
def queue_lock(location: str, sweep_id: str) -> Iterator[None]:
    """The sweep's admission lock, held while a process creates or resumes the sweep."""
    lock = storage_lock(location, study_name(sweep_id))
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def describe(study: optuna.Study, cells: list[str], keys: Mapping[str, str],
             attrs: Mapping[str, Any]) -> None:
    """Record the cell list, their sweep keys and ``attrs`` (parent run id, ...) once."""
    first = {ATTR_CELLS: cells, ATTR_KEYS: dict(keys)} if ATTR_CELLS not in study.user_attrs else {}
    set_study_attrs(study, {**first, **attrs})


def trial_cell(trial: FrozenTrial | optuna.Trial) -> str | None:
    """The cell a trial carries (set when it was enqueued)."""
    cell = trial.user_attrs.get(ATTR_CELL)
    return str(cell) if cell is not None else None


def cell_admission(cells: list[str], since: datetime) -> Admit:
    """Admission for a sweep (call under the lock): pop a WAITING trial if there is one, else
    enqueue the first cell that no trial holds (COMPLETE, RUNNING, or FAILED since ``since``,
    this invocation's start: a cell that failed earlier is tried again), else wait while other
    workers run the last cells, else done."""

    def admit(study: optuna.Study) -> Admission:
        trials = study.get_trials(deepcopy=False)
        if any(t.state == TrialState.WAITING for t in trials):
            return "run"
        held = {trial_cell(t) for t in trials if t.state in (TrialState.COMPLETE,
                                                             TrialState.RUNNING)
                or (t.state == TrialState.FAIL and (t.datetime_start or since) >= since)}
        free = [cell for cell in cells if cell not in held]
        if free:
            study.enqueue_trial({CELL_PARAM: cells.index(free[0])},
                                user_attrs={ATTR_CELL: free[0]})
            return "run"
        return "wait" if any(t.state == TrialState.RUNNING for t in trials) else "done"

    return admit


def completed_cells(study: optuna.Study, since: datetime | None = None) -> set[str]:
    """Cells with a COMPLETE trial (started at ``since`` or later, when given)."""
    return {c for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if (c := trial_cell(t)) is not None
            and (since is None or (t.datetime_start is not None and t.datetime_start >= since))}


def failed_cells(study: optuna.Study) -> dict[str, str]:
    """``{cell: error}`` for cells with a FAILED trial and none complete, waiting or running."""
    trials = study.get_trials(deepcopy=False)
    settled = {trial_cell(t) for t in trials if t.state in (TrialState.COMPLETE, *ACTIVE)}
    return {cell: str(t.user_attrs.get(ATTR_ERROR, "its worker died")) for t in trials
            if t.state == TrialState.FAIL and (cell := trial_cell(t)) not in settled
            and cell is not None}


def active_cells(study: optuna.Study) -> set[str]:
    """Cells with a WAITING or RUNNING trial (being handed out or trained now)."""
    return {c for t in study.get_trials(deepcopy=False, states=ACTIVE)
            if (c := trial_cell(t)) is not None}
