"""One sweep worker: take cells from the sweep's study and train (or reuse) each.

Each cell is one admitted trial (:func:`~pitot_tf.search.gate.optimize_admitted` with
:func:`~pitot_tf.sweep.queue.cell_admission`), so that Optuna beats the trial's heartbeat while
it trains. Before training, the worker looks in MLflow for a FINISHED run with the cell's
``sweep_key`` and reuses it (a cell handed out again costs a lookup, not a training). A cell that
raises is marked FAIL and the worker goes on with the next; it stops when no cell is left. Run
in-process by the runner for one worker, or by :func:`~pitot_tf.search.processes.run_workers`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import mlflow
import optuna
from mlflow import MlflowClient
from optuna.trial import TrialState

from pitot_tf.errors import ConfigError
from pitot_tf.search.gate import optimize_admitted, storage_lock
from pitot_tf.search.processes import ATTR_RUN_ID, JsonJob, ProcessId, end_dead_runs
from pitot_tf.sweep import queue
from pitot_tf.sweep.cells import Cell
from pitot_tf.sweep.keys import KeyMaker
from pitot_tf.sweep.lookup import find_reusable
from pitot_tf.sweep.repair import kill_run
from pitot_tf.sweep.tags import (
    TAG_CELL,
    TAG_HAS_MODEL,
    TAG_SWEEP_ID,
    TAG_SWEEP_KEY,
    TAG_TRIAL,
    in_sweep_tag,
    process_tags,
)
from pitot_tf.tracking.runs import error_text

log = logging.getLogger(__name__)
TrialCallback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]


@dataclass(frozen=True)
class WorkerJob(JsonJob):
    """Everything a worker process needs (JSON-serialisable); ``since``: when the invocation
    started (cells that failed since then are not tried again by it)."""

    sweep_id: str
    storage: str
    tracking_uri: str
    experiment: str
    experiment_id: str
    parent_run_id: str
    overrides: dict[str, Any] = field(default_factory=dict)
    data_dir: str | None = None
    splits_dir: str | None = None
    log_model: bool = True
    code_version: str | None = None
    since: float = 0.0
    worker: int = 0


@dataclass(frozen=True)
class CellOutcome:
    cell: str
    run_id: str
    reused: bool
    wall_s: float


class CellRunner:
    """Trains one cell in a tracked run under the sweep's parent, or reuses a finished one."""

    def __init__(self, job: WorkerJob, expected_keys: dict[str, str]) -> None:
        self.job, self.expected = job, expected_keys
        self.client = MlflowClient(job.tracking_uri)
        self.keys = KeyMaker(job.overrides, job.data_dir, job.splits_dir)
        if job.code_version:  # the coordinator's, so that keys match on this machine
            self.keys.code = job.code_version

    def sweep_key(self, cell: Cell) -> str:
        """The cell's key, which must be the one the sweep was defined with."""
        key = self.keys.key(cell)
        if self.expected.get(cell.key, key) != key:
            raise ConfigError(f"cell {cell.key}: this worker's code, data or split differ from "
                              f"the sweep's (sweep_key {key} != {self.expected[cell.key]})")
        return key

    def run(self, cell: Cell, trial: optuna.Trial, process: ProcessId) -> CellOutcome:
        key = self.sweep_key(cell)
        found = find_reusable(self.client, self.job.experiment_id, key, self.job.log_model)
        if found is not None:
            self.client.set_tag(found.info.run_id, in_sweep_tag(self.job.sweep_id), cell.key)
            log.info("cell %s: reusing run %s", cell.key, found.info.run_id)
            return CellOutcome(cell.key, found.info.run_id, True, 0.0)
        return self.train(cell, key, trial, process)

    def train(self, cell: Cell, key: str, trial: optuna.Trial,
              process: ProcessId) -> CellOutcome:
        from pitot_tf.tracking.training import run_training

        job = self.job
        tags = {TAG_SWEEP_KEY: key, TAG_SWEEP_ID: job.sweep_id,
                in_sweep_tag(job.sweep_id): cell.key, TAG_CELL: cell.key,
                TAG_TRIAL: str(trial.number),
                TAG_HAS_MODEL: str(job.log_model).lower(), **process_tags(process)}
        started = time.perf_counter()
        run = run_training(cell.preset, job.overrides, cell.level, cell.replicate, job.data_dir,
                           job.splits_dir, experiment=job.experiment,
                           parent_run_id=job.parent_run_id, tags=tags, log_model=job.log_model,
                           on_start=partial(trial.set_user_attr, ATTR_RUN_ID))
        return CellOutcome(cell.key, run.run_id, False, time.perf_counter() - started)


class CellObjective:
    """The Optuna objective: the cell a popped trial carries, trained or reused; returns the
    seconds the cell took (0 when reused)."""

    def __init__(self, cells: list[str], runner: CellRunner) -> None:
        self.cells, self.runner, self.process = cells, runner, ProcessId.this()

    def __call__(self, trial: optuna.Trial) -> float:
        cell = queue.trial_cell(trial)
        if cell is None:  # not enqueued by a sweep: nothing to do
            raise optuna.TrialPruned("no cell")
        if cell in queue.completed_cells(trial.study) | {  # a copy queued by older versions
                queue.trial_cell(t) for t in trial.study.get_trials(
                    deepcopy=False, states=(TrialState.RUNNING,)) if t.number < trial.number}:
            raise optuna.TrialPruned(f"cell {cell} is another trial's")
        trial.suggest_int(queue.CELL_PARAM, 0, len(self.cells) - 1)
        try:
            outcome = self.runner.run(Cell.from_key(cell), trial, self.process)
        except Exception as error:
            trial.set_user_attr(queue.ATTR_ERROR, error_text(error))
            log.warning("cell %s failed: %s", cell, error_text(error))
            raise
        trial.set_user_attr(ATTR_RUN_ID, outcome.run_id)
        trial.set_user_attr(queue.ATTR_REUSED, outcome.reused)
        return outcome.wall_s


def run_worker(job: WorkerJob, on_trial: TrialCallback | None = None) -> None:
    """Work on the sweep's cells until none is left; ``on_trial`` runs after every cell."""
    mlflow.set_tracking_uri(job.tracking_uri)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures are logged one line each
    study = queue.open_queue(job.storage, job.sweep_id, create=False,
                             on_stale=partial(end_dead_runs, job.tracking_uri, end=kill_run))
    cells = list(study.user_attrs[queue.ATTR_CELLS])
    objective = CellObjective(cells, CellRunner(job, dict(study.user_attrs[queue.ATTR_KEYS])))
    admit = queue.cell_admission(cells, datetime.fromtimestamp(job.since))
    optimize_admitted(study, objective, admit, storage_lock(job.storage, study.study_name),
                      [on_trial] if on_trial else [], catch=(Exception,), poll_s=2.0)
