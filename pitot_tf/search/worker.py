"""One search worker: run admitted trials until the study has its target of finished trials.

Each worker loads the study from the shared storage and the tuning data once, then runs one
trial at a time under :func:`~pitot_tf.search.gate.optimize_admitted` with the
:func:`~pitot_tf.search.gate.trial_budget` (an exact total across workers). Trials that raise
a :class:`~pitot_tf.errors.PitotError` are marked FAIL and the worker goes on; it gives up after
``max_failures`` failures of its own. Run in-process by the runner for one worker, or as
``python -m pitot_tf.search.processes pitot_tf.search.worker JOB_JSON`` for several.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import optuna
from mlflow import MlflowClient
from mlflow.entities import Run

from pitot_tf.search.algorithms import make_pruner, make_sampler
from pitot_tf.search.gate import optimize_admitted, storage_lock, trial_budget
from pitot_tf.search.objective import (
    Replicate,
    TrialObjective,
    TrialStateTagger,
    TrialTracking,
    load_tuning_data,
)
from pitot_tf.search.processes import JsonJob, end_dead_runs
from pitot_tf.search.storage import open_storage
from pitot_tf.search.studies import StudySpec, load_study
from pitot_tf.tracking.names import TAG_ERROR

log = logging.getLogger(__name__)


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


def open_study(spec: StudySpec, location: str, worker: int = 0,
               tracking_uri: str | None = None) -> optuna.Study:
    """The existing study at ``location`` with this worker's sampler and the pruner; a dead
    worker's trial that this process re-queues has its MLflow runs ended FAILED."""
    storage = open_storage(location, spec.heartbeat,
                           partial(end_dead_runs, tracking_uri, end=fail_run) if tracking_uri
                           else None)
    return optuna.load_study(study_name=spec.name, storage=storage,
                             sampler=make_sampler(spec.sampler, worker),
                             pruner=make_pruner(spec.pruner))


def fail_run(client: MlflowClient, run: Run, reason: str) -> None:
    """End a dead trial's run FAILED with ``reason`` as its error tag."""
    client.set_tag(run.info.run_id, TAG_ERROR, reason)
    client.set_terminated(run.info.run_id, "FAILED")


def run_worker(job: WorkerJob, replicates: list[Replicate] | None = None) -> None:
    """Run admitted trials until the study reaches ``job.target``, the deadline passes or
    this worker has failed ``job.max_failures`` trials."""
    spec = load_study(job.study_file).with_overrides(job.overrides)
    study = open_study(spec, job.storage, job.worker, job.tracking_uri)
    data = replicates or load_tuning_data(spec, job.data_dir, job.splits_dir)
    tracking = None
    if job.parent_run_id and job.tracking_uri and job.experiment_id:
        tracking = TrialTracking(job.tracking_uri, job.experiment_id, job.parent_run_id,
                                 spec.name)
    ran = optimize_admitted(
        study, TrialObjective(spec, data, tracking), trial_budget(job.target),
        storage_lock(job.storage, spec.name),
        [TrialStateTagger(tracking.tracking_uri)] if tracking else [], deadline=job.deadline,
        poll_s=job.poll_s, max_failures=job.max_failures)
    if sum(t.state == optuna.trial.TrialState.FAIL for t in ran) >= job.max_failures:
        log.warning("worker %d stops after %d failed trials", job.worker, job.max_failures)
