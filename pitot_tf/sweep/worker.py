"""One sweep worker: pop cells from the sweep's study and train (or reuse) each.

Each cell is one ``study.optimize(n_trials=1)`` call, so that with a database storage Optuna
beats the trial's heartbeat while it trains. Before training, the worker looks in MLflow for
a FINISHED run with the cell's ``sweep_key`` and reuses it (a cell handed out twice costs a
lookup, not a training). A cell that raises is marked FAIL and the worker goes on with the
next; it stops when ``ask()`` hands out a trial with no cell (the queue is empty). Run
in-process by the runner for one worker, or as ``python -m pitot_tf.sweep.worker JOB_JSON``.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mlflow
import optuna
from mlflow import MlflowClient

from pitot_tf.errors import ConfigError
from pitot_tf.search.processes import JsonJob, worker_main
from pitot_tf.sweep import queue
from pitot_tf.sweep.cells import Cell
from pitot_tf.sweep.keys import KeyMaker
from pitot_tf.sweep.lookup import find_reusable
from pitot_tf.sweep.processes import ProcessId, this_process
from pitot_tf.sweep.repair import kill_run
from pitot_tf.sweep.tags import (
    TAG_CELL,
    TAG_HAS_MODEL,
    TAG_HOST,
    TAG_PID,
    TAG_PID_START,
    TAG_SWEEP_ID,
    TAG_SWEEP_KEY,
    TAG_TRIAL,
    in_sweep_tag,
)
from pitot_tf.tracking.runs import error_text

log = logging.getLogger(__name__)
TrialCallback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]


@dataclass(frozen=True)
class WorkerJob(JsonJob):
    """Everything a worker process needs (JSON-serialisable)."""

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
    worker: int = 0


@dataclass(frozen=True)
class CellOutcome:
    cell: str
    run_id: str
    reused: bool
    wall_s: float


@dataclass(frozen=True)
class WorkerReport:
    trained: int
    reused: int
    failed: int


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
        self.retire_stale_run(trial)
        key = self.sweep_key(cell)
        found = find_reusable(self.client, self.job.experiment_id, key, self.job.log_model)
        if found is not None:
            self.client.set_tag(found.info.run_id, in_sweep_tag(self.job.sweep_id), cell.key)
            log.info("cell %s: reusing run %s", cell.key, found.info.run_id)
            return CellOutcome(cell.key, found.info.run_id, True, 0.0)
        return self.train(cell, key, trial, process)

    def retire_stale_run(self, trial: optuna.Trial) -> None:
        """A trial re-queued after its worker's heartbeat stopped (database storage) inherits
        that worker's run id: end that run KILLED if it is still RUNNING."""
        stale = trial.user_attrs.get(queue.ATTR_RUN_ID)
        if not stale:
            return
        run = self.client.get_run(str(stale))
        if run.info.status == "RUNNING":
            kill_run(self.client, run, "its trial was re-queued after a stale heartbeat")

    def train(self, cell: Cell, key: str, trial: optuna.Trial,
              process: ProcessId) -> CellOutcome:
        from pitot_tf.tracking.training import run_training

        job = self.job
        tags = {TAG_SWEEP_KEY: key, TAG_SWEEP_ID: job.sweep_id,
                in_sweep_tag(job.sweep_id): cell.key, TAG_CELL: cell.key,
                TAG_TRIAL: str(trial.number),
                TAG_HAS_MODEL: str(job.log_model).lower(), TAG_HOST: process.host,
                TAG_PID: str(process.pid), TAG_PID_START: process.start}
        started = time.perf_counter()
        run = run_training(cell.preset, job.overrides, cell.level, cell.replicate, job.data_dir,
                           job.splits_dir, experiment=job.experiment,
                           parent_run_id=job.parent_run_id, tags=tags, log_model=job.log_model,
                           on_validation=_remember_run(trial))
        return CellOutcome(cell.key, run.run_id, False, time.perf_counter() - started)


def _remember_run(trial: optuna.Trial) -> Callable[[int, float, dict[str, float]], None]:
    """A validation callback that stores the active MLflow run's id on the trial (at the first
    validation), so that the run can be found if this worker dies."""
    stored: list[str] = []

    def on_validation(step: int, loss: float, losses: dict[str, float]) -> None:
        active = mlflow.active_run()
        if active is not None and not stored:
            trial.set_user_attr(queue.ATTR_RUN_ID, active.info.run_id)
            stored.append(active.info.run_id)

    return on_validation


class CellObjective:
    """The Optuna objective: the cell a popped trial carries, trained or reused.

    Returns the seconds the cell took (0 when reused); a trial without a cell means the queue
    is empty: it is pruned with a note and :attr:`queue_empty` set. A trial whose cell another
    trial has done or is doing (:func:`~pitot_tf.sweep.queue.duplicate_of`) is pruned too.
    """

    def __init__(self, cells: list[str], runner: CellRunner) -> None:
        self.cells, self.runner = cells, runner
        self.process = this_process()
        self.queue_empty = self.duplicate = False
        self.last: CellOutcome | None = None

    def __call__(self, trial: optuna.Trial) -> float:
        self.last, self.duplicate = None, False
        cell = queue.trial_cell(trial)
        if cell is None:
            self.queue_empty = True
            trial.set_user_attr("note", "queue empty: every cell was handed out")
            raise optuna.TrialPruned("queue empty")
        duplicate = queue.duplicate_of(trial.study, trial)
        if duplicate is not None:
            self.duplicate = True
            trial.set_user_attr("note", f"cell {cell} is trial {duplicate}'s")
            raise optuna.TrialPruned(f"duplicate of trial {duplicate}")
        trial.suggest_int(queue.CELL_PARAM, 0, len(self.cells) - 1)
        try:
            outcome = self.runner.run(Cell.from_key(cell), trial, self.process)
        except Exception as error:
            trial.set_user_attr(queue.ATTR_ERROR, error_text(error))
            log.warning("cell %s failed: %s", cell, error_text(error))
            raise
        trial.set_user_attr(queue.ATTR_RUN_ID, outcome.run_id)
        trial.set_user_attr(queue.ATTR_REUSED, outcome.reused)
        self.last = outcome
        return outcome.wall_s


def run_worker(job: WorkerJob, on_trial: TrialCallback | None = None) -> WorkerReport:
    """Work on the sweep's queue until it is empty; ``on_trial`` runs after every cell."""
    mlflow.set_tracking_uri(job.tracking_uri)
    study = queue.open_queue(job.storage, job.sweep_id, create=False)
    cells = list(study.user_attrs[queue.ATTR_CELLS])
    objective = CellObjective(cells, CellRunner(job, dict(study.user_attrs[queue.ATTR_KEYS])))
    return work(study, objective, [on_trial] if on_trial else [])


def work(study: optuna.Study, objective: CellObjective,
         callbacks: list[TrialCallback]) -> WorkerReport:
    """One ``study.optimize(n_trials=1)`` per popped cell until the queue is empty."""
    trained = reused = failed = 0
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures are logged one line each
    while True:
        study.optimize(objective, n_trials=1, catch=(Exception,), callbacks=callbacks,
                       gc_after_trial=True)
        if objective.queue_empty:
            break
        if objective.duplicate:
            continue
        if objective.last is None:
            failed += 1
        elif objective.last.reused:
            reused += 1
        else:
            trained += 1
    return WorkerReport(trained, reused, failed)


def main(argv: list[str] | None = None) -> int:
    """``python -m pitot_tf.sweep.worker JOB_JSON``; prints the report as JSON."""
    return worker_main(WorkerJob, run_worker, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
