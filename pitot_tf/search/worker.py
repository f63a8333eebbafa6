"""One search worker: run trials of a study until it has its target of finished trials.

Each worker loads the study from the shared storage, loads the tuning data once, and runs
``study.optimize`` one trial at a time, each admitted by :class:`~pitot_tf.search.gate.
TrialBudget` (exact total across workers) and ended by a ``MaxTrialsCallback`` on (COMPLETE,
PRUNED). Trials that raise a :class:`~pitot_tf.errors.PitotError` are marked FAIL and the
worker goes on; it gives up after ``max_failures`` failures of its own. Run in-process by the
runner for one worker, or as ``python -m pitot_tf.search.worker JOB_JSON`` for several.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import optuna
from optuna.study import MaxTrialsCallback

from pitot_tf.errors import PitotError
from pitot_tf.search.algorithms import make_pruner, make_sampler
from pitot_tf.search.gate import FINISHED, TrialBudget, storage_lock
from pitot_tf.search.mlflow_callback import TrialStateTagger, TrialTracking, trial_run_ids
from pitot_tf.search.objective import TrialObjective
from pitot_tf.search.processes import JsonJob, worker_main
from pitot_tf.search.storage import open_storage
from pitot_tf.search.studies import StudySpec, load_study
from pitot_tf.search.tuning_data import Replicate, load_tuning_data

log = logging.getLogger(__name__)


class GatedObjective(Protocol):
    """An objective that releases the admission lock first and says how its trial ended."""

    last_state: str | None

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]: ...


@dataclass(frozen=True)
class WorkerJob(JsonJob):
    """Everything a worker process needs (JSON-serialisable)."""

    study_file: str
    storage: str
    target: int
    overrides: dict[str, Any] = field(default_factory=dict)
    data_dir: str | None = None
    splits_dir: str | None = None
    tracking_uri: str | None = None
    experiment_id: str | None = None
    parent_run_id: str | None = None
    deadline: float | None = None
    worker: int = 0
    max_failures: int = 10
    poll_s: float = 1.0


@dataclass(frozen=True)
class WorkerReport:
    ran: int
    failed: int


def job_spec(job: WorkerJob) -> StudySpec:
    return load_study(job.study_file).with_overrides(job.overrides)


def open_study(spec: StudySpec, location: str, worker: int = 0,
               tracking_uri: str | None = None) -> optuna.Study:
    """The existing study at ``location`` with this worker's sampler and the pruner; a dead
    worker's trial that this process re-queues has its MLflow run ended FAILED."""
    storage = open_storage(location, spec.heartbeat,
                           partial(fail_dead_run, tracking_uri) if tracking_uri else None)
    return optuna.load_study(study_name=spec.name, storage=storage,
                             sampler=make_sampler(spec.sampler, worker),
                             pruner=make_pruner(spec.pruner))


def fail_dead_run(tracking_uri: str, trial: optuna.trial.FrozenTrial) -> None:
    """End the MLflow run of ``trial`` (whose worker died) FAILED, if it is still RUNNING."""
    from mlflow import MlflowClient

    from pitot_tf.tracking.names import TAG_ERROR

    client = MlflowClient(tracking_uri)
    for run_id in trial_run_ids(trial):
        try:
            if client.get_run(run_id).info.status == "RUNNING":
                client.set_tag(run_id, TAG_ERROR,
                               f"its worker died; trial {trial.number} re-queued")
                client.set_terminated(run_id, "FAILED")
        except Exception as error:  # the tracking server: `runs repair` can end it later
            log.warning("could not end run %s of dead trial %d: %s", run_id, trial.number,
                        error)


def trial_tracking(job: WorkerJob, spec: StudySpec) -> TrialTracking | None:
    """Where this worker's trial runs go (None for an untracked search)."""
    if not (job.parent_run_id and job.tracking_uri and job.experiment_id):
        return None
    return TrialTracking(job.tracking_uri, job.experiment_id, job.parent_run_id, spec.name)


def run_worker(job: WorkerJob, replicates: list[Replicate] | None = None) -> WorkerReport:
    """Run admitted trials until the study reaches ``job.target``, the deadline passes or
    this worker has failed ``job.max_failures`` trials."""
    spec = job_spec(job)
    study = open_study(spec, job.storage, job.worker, job.tracking_uri)
    data = replicates or load_tuning_data(spec, job.data_dir, job.splits_dir)
    budget = TrialBudget(storage_lock(job.storage, spec.name), job.target)
    tracking = trial_tracking(job, spec)
    objective = TrialObjective(spec, data, tracking, on_start=budget.release)
    callbacks = [TrialStateTagger(tracking.tracking_uri)] if tracking else []
    return optimize_within_budget(study, objective, budget, callbacks, job)


def optimize_within_budget(study: optuna.Study, objective: GatedObjective, budget: TrialBudget,
                           callbacks: list[Any], job: WorkerJob) -> WorkerReport:
    """The worker loop: one ``study.optimize`` call per admitted trial (``objective`` must
    release ``budget`` when it starts, see :mod:`pitot_tf.search.gate`)."""
    callbacks = [MaxTrialsCallback(job.target, states=FINISHED), *callbacks]
    ran = failed = 0
    while job.deadline is None or time.time() < job.deadline:
        admission = budget.admit(study)
        if admission == "done":
            break
        if admission == "wait":
            time.sleep(job.poll_s)
            continue
        try:
            study.optimize(objective, n_trials=1, catch=(PitotError,), callbacks=callbacks,
                           gc_after_trial=True)
        finally:
            budget.release()
        ran += 1
        failed += objective.last_state == "FAIL"
        if failed >= job.max_failures:
            log.warning("worker %d stops after %d failed trials", job.worker, failed)
            break
    return WorkerReport(ran, failed)


def main(argv: list[str] | None = None) -> int:
    """``python -m pitot_tf.search.worker JOB_JSON``; prints the report as JSON."""
    optuna.logging.set_verbosity(optuna.logging.INFO)
    return worker_main(WorkerJob, run_worker, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
