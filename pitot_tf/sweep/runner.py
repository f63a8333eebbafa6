"""``pitot-tf sweep``: train and evaluate every (preset × level × replicate), resumably.

:func:`run_sweep` validates the whole sweep first (presets, overrides, levels, data, split
files), derives the sweep id from the cells' ``sweep_key`` s, and, holding the sweep's lock,
creates (or loads) its Optuna study and MLflow parent run and ends the runs of dead local
workers KILLED. Then ``workers`` workers (in-process for one, else ``python -m
pitot_tf.sweep.worker`` processes, then one last in-process worker if some died) take the
cells one by one (:mod:`pitot_tf.sweep.queue`). A tqdm bar counts the cells done, also by
other machines. Run the same command again, here or on another machine with the same storage
and tracking server, to resume or to help.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import mlflow
import optuna
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import RunStatus
from optuna.trial import TrialState
from tqdm import tqdm

from pitot_tf.data.dataset import default_data_dir
from pitot_tf.errors import ConfigError
from pitot_tf.search.processes import ProcessId, run_workers
from pitot_tf.search.storage import redact
from pitot_tf.sweep import parent, queue
from pitot_tf.sweep.cells import Cell, SweepPlan, make_plan
from pitot_tf.sweep.keys import KeyMaker, sweep_id
from pitot_tf.sweep.lookup import finished_cells
from pitot_tf.sweep.repair import repair_runs
from pitot_tf.sweep.tags import TAG_SWEEP_ID
from pitot_tf.sweep.worker import WorkerJob, run_worker
from pitot_tf.tracking.experiments import experiment_id_for

DEFAULT_EXPERIMENT = "sweep"
POLL_S = 2.0
PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class SweepResult:
    """Where the sweep stands after this invocation."""

    sweep_id: str
    study: str
    storage: str
    experiment: str
    parent_run_id: str
    cells: int
    done: int
    trained: int
    reused: int
    failed: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0


@dataclass(frozen=True)
class Sweep:
    """A started sweep: its cells, study, worker job and the cells done when it started."""

    cells: list[str]
    study: optuna.Study
    job: WorkerJob
    done: set[str]


def run_sweep(
    presets: Iterable[str], levels: Iterable[float | str] | None = None,
    replicates: Iterable[int | str] | None = None, overrides: Mapping[str, Any] | None = None,
    *, data_dir: PathLike | None = None, splits_dir: PathLike | None = None,
    experiment: str | None = None, workers: int = 1, storage: str | None = None,
    log_model: bool = True, progress: bool = True,
) -> SweepResult:
    """Run the sweep until every cell is done or has failed in this invocation."""
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    started_at, clock = datetime.now(), time.perf_counter()
    sweep = start_sweep(make_plan(presets, levels, replicates, overrides), data_dir, splits_dir,
                        experiment, storage, log_model, started_at)
    client = MlflowClient(sweep.job.tracking_uri)
    bar = tqdm(total=len(sweep.cells), initial=len(sweep.done), unit="cell", desc="sweep",
               disable=not progress, dynamic_ncols=True)

    def refresh(*_: object) -> None:
        bar.update(len(sweep.done | queue.completed_cells(sweep.study, started_at)) - bar.n)

    try:
        jobs = [replace(sweep.job, worker=i) for i in range(workers)]
        run_workers("pitot_tf.sweep.worker", list(jobs), lambda: run_worker(sweep.job, refresh),
                    refresh, POLL_S)
    except KeyboardInterrupt:
        parent.finish_parent(client, sweep.job.parent_run_id, RunStatus.KILLED, "interrupted")
        raise
    finally:
        bar.close()
    return conclude(sweep, client, started_at, time.perf_counter() - clock)


def start_sweep(plan: SweepPlan, data_dir: PathLike | None, splits_dir: PathLike | None,
                experiment: str | None, storage: str | None, log_model: bool,
                started_at: datetime) -> Sweep:
    """Validate, name the sweep, and (under its lock) create or resume its study and parent
    run and end dead local workers' runs KILLED."""
    keys = KeyMaker(plan.cell_overrides(), data_dir, splits_dir)
    cell_keys = keys.keys(plan.cells())
    project_run = os.environ.pop("MLFLOW_RUN_ID", None)  # under `mlflow run`: the parent
    client, tracking_uri = MlflowClient(), mlflow.get_tracking_uri()
    if not experiment and project_run:
        experiment_id = client.get_run(project_run).info.experiment_id
        experiment = str(client.get_experiment(experiment_id).name)
    name = experiment or DEFAULT_EXPERIMENT
    identity, location = sweep_id(cell_keys, name, log_model), queue.storage_location(storage)
    data = str(default_data_dir(data_dir).resolve())
    splits = str(Path(splits_dir).resolve()) if splits_dir else None
    with queue.queue_lock(location, identity):
        experiment_id = experiment_id_for(name, client)
        study = queue.open_queue(location, identity)
        parent_id = study.user_attrs.get(queue.ATTR_PARENT)
        if parent_id:
            parent.check_parent(client, parent_id, identity, tracking_uri)
            if project_run:
                client.set_tag(project_run, TAG_SWEEP_ID, identity)
        else:
            parent_id = parent.create_parent(client, experiment_id, identity, {
                "id": identity, "study": study.study_name, "storage": redact(location),
                "experiment": name, "presets": list(plan.presets), "levels": list(plan.levels),
                "replicates": list(plan.replicates), "overrides": plan.overrides,
                "cells": len(cell_keys), "log_model": log_model, "data_dir": data,
                "splits_dir": splits or "(made)"}, project_run)
        queue.describe(study, list(cell_keys), cell_keys, {
            queue.ATTR_PARENT: parent_id, queue.ATTR_EXPERIMENT_ID: experiment_id})
        repair_runs(ids=[experiment_id], client=client)
    parent.mark_running(client, parent_id, ProcessId.this())
    job = WorkerJob(identity, location, tracking_uri, name, experiment_id, parent_id,
                    plan.cell_overrides(), data, splits, log_model, keys.code,
                    started_at.timestamp())
    return Sweep(list(cell_keys), study, job, set(finished_cells(client, [experiment_id],
                                                                 identity)))


def conclude(sweep: Sweep, client: MlflowClient, started_at: datetime,
             wall_s: float) -> SweepResult:
    """Count what this invocation did, log ``cells.csv`` and end the parent run: FINISHED
    when every cell is done, FAILED when some failed and nothing else is working on it."""
    job, study = sweep.job, sweep.study
    runs = finished_cells(client, [job.experiment_id], job.sweep_id)
    failed = {c: e for c, e in queue.failed_cells(study).items() if c not in runs}
    recent = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
              if t.datetime_start is not None and t.datetime_start >= started_at]
    reused = sum(bool(t.user_attrs.get(queue.ATTR_REUSED)) for t in recent)
    table = pd.DataFrame([{
        "cell": key, **dataclasses.asdict(Cell.from_key(key)),
        "state": "done" if key in runs else "failed" if key in failed else "pending",
        "run_id": runs[key].info.run_id if key in runs else "", "error": failed.get(key, "")}
        for key in sweep.cells])
    client.log_text(job.parent_run_id, table.to_csv(index=False), parent.CELLS_FILE)
    if len(runs) == len(sweep.cells):
        parent.finish_parent(client, job.parent_run_id, RunStatus.FINISHED)
    elif not queue.active_cells(study):
        first = next(iter(failed.items()), ("?", "not done"))
        parent.finish_parent(client, job.parent_run_id, RunStatus.FAILED,
                             f"{len(sweep.cells) - len(runs)} cell(s) not done; "
                             f"{first[0]}: {first[1]}")
    return SweepResult(job.sweep_id, queue.study_name(job.sweep_id), redact(job.storage),
                       job.experiment, job.parent_run_id, len(sweep.cells), len(runs),
                       len(recent) - reused, reused, failed, wall_s)
