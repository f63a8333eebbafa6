"""``pitot-tf sweep``: train and evaluate every (preset × level × replicate), resumably.

:func:`run_sweep` validates the whole sweep first (presets, overrides, levels, data, split
files), names it by its cells' ``sweep_key`` s, finds or creates its MLflow parent run and ends
the runs of dead local processes KILLED. Then it walks the cells (:mod:`~pitot_tf.sweep.worker`)
or starts ``workers`` copies of the same command, each walking from its own offset. Nothing is
queued: running the same command again, here or on another machine with the same tracking
server, resumes the sweep or helps with it.
"""
from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import RunStatus
from tqdm import tqdm

from pitot_tf.data.dataset import default_data_dir
from pitot_tf.errors import ConfigError
from pitot_tf.search.processes import copy_args, spawn_copies, worker_rank
from pitot_tf.sweep import parent
from pitot_tf.sweep.cells import Cell, SweepPlan, make_plan
from pitot_tf.sweep.claims import STALE_AFTER_S
from pitot_tf.sweep.keys import KeyMaker, sweep_id
from pitot_tf.sweep.lookup import sweep_cell_runs
from pitot_tf.sweep.tags import TAG_SWEEP_ID
from pitot_tf.sweep.worker import CellRunner, SweepJob
from pitot_tf.tracking.experiments import experiment_id_for
from pitot_tf.tracking.liveness import ProcessId
from pitot_tf.tracking.names import TAG_ERROR
from pitot_tf.tracking.repair import repair_runs

DEFAULT_EXPERIMENT = "sweep"
#: Set for ``--workers`` copies: when their invocation started (cells failed since are skipped).
SINCE_VARIABLE = "PITOT_SWEEP_SINCE"
PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class SweepResult:
    """Where the sweep stands after this invocation; ``reused``: cells done by runs of other
    sweeps, ``trained``: cell runs that finished since this invocation started."""

    sweep_id: str
    experiment: str
    parent_run_id: str
    cells: int
    done: int
    trained: int
    reused: int
    failed: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0


def run_sweep(
    presets: Iterable[str], levels: Iterable[float] | None = None,
    replicates: Iterable[int] | None = None, overrides: Mapping[str, Any] | None = None,
    *, data_dir: PathLike | None = None, splits_dir: PathLike | None = None,
    experiment: str | None = None, workers: int = 1, log_model: bool = True,
    progress: bool = True, stale_after: float = STALE_AFTER_S,
) -> SweepResult:
    """Run the sweep until every cell is done or has failed in this invocation."""
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if stale_after <= 0:
        raise ConfigError(f"--stale-after must be > 0 seconds, got {stale_after:g}")
    clock, since = time.perf_counter(), float(os.environ.get(SINCE_VARIABLE) or time.time())
    plan = make_plan(presets, levels, replicates, overrides)
    job = start_sweep(plan, data_dir, splits_dir, experiment, log_model, since, stale_after)
    client, cells = MlflowClient(), list(job.keys)
    bar = tqdm(total=len(cells), unit="cell", desc="sweep", disable=not progress,
               dynamic_ncols=True)

    def refresh() -> None:
        done = sweep_cell_runs(client, [job.experiment_id], job.sweep_id, "FINISHED")
        bar.update(len(done) - bar.n)

    runner = CellRunner(job, client)
    try:
        if workers == 1:
            rank, count = worker_rank()
            runner.walk(cells, rank * len(cells) // count, refresh)
        else:
            args = copy_args("sweep", {
                "--experiment": job.experiment, "--data-dir": job.data_dir,
                "--splits-dir": job.splits_dir, "--stale-after": stale_after,
                "--log-model": str(log_model).lower(), "--presets": plan.presets,
                "--levels": plan.levels, "--replicates": plan.replicates}, plan.overrides)
            if any(spawn_copies(args + ["--no-progress"], workers, {SINCE_VARIABLE: str(since)},
                                refresh, job.poll_s)):
                runner.walk(cells, 0, refresh)  # a copy failed: finish what it left
    except KeyboardInterrupt:
        parent.finish_parent(client, job.parent_run_id, RunStatus.KILLED, "interrupted")
        raise
    finally:
        bar.close()
    return conclude(job, client, time.perf_counter() - clock)


def start_sweep(plan: SweepPlan, data_dir: PathLike | None, splits_dir: PathLike | None,
                experiment: str | None, log_model: bool, since: float,
                stale_after: float) -> SweepJob:
    """Validate, name the sweep, find or create its parent run, end dead local runs."""
    cell_keys = KeyMaker(plan.cell_overrides(), data_dir, splits_dir).keys(plan.cells())
    project_run = os.environ.pop("MLFLOW_RUN_ID", None)  # under `mlflow run`: the parent
    client = MlflowClient()
    if not experiment and project_run:
        experiment_id = client.get_run(project_run).info.experiment_id
        experiment = str(client.get_experiment(experiment_id).name)
    name = experiment or DEFAULT_EXPERIMENT
    identity, experiment_id = sweep_id(cell_keys, name, log_model), experiment_id_for(name)
    data = str(default_data_dir(data_dir).resolve())
    splits = str(Path(splits_dir).resolve()) if splits_dir else None
    parent_id = parent.ensure_parent(client, experiment_id, identity, {
        "id": identity, "experiment": name, "presets": list(plan.presets),
        "levels": list(plan.levels), "replicates": list(plan.replicates),
        "overrides": plan.overrides, "cells": len(cell_keys), "log_model": log_model,
        "data_dir": data, "splits_dir": splits or "(made)"}, project_run)
    repair_runs(ids=[experiment_id], client=client)
    parent.mark_running(client, parent_id, ProcessId.this())
    return SweepJob(identity, name, experiment_id, parent_id, cell_keys, plan.cell_overrides(),
                    data, splits, log_model, since, stale_after)


def conclude(job: SweepJob, client: MlflowClient, wall_s: float) -> SweepResult:
    """Count what is done, log ``cells.csv`` and end the parent run: FINISHED when every
    cell is done, FAILED when some failed and no cell is being trained."""
    cells = list(job.keys)
    newest = sweep_cell_runs(client, [job.experiment_id], job.sweep_id)
    runs = sweep_cell_runs(client, [job.experiment_id], job.sweep_id, "FINISHED")
    failed = {c: r.data.tags.get(TAG_ERROR, "failed") for c, r in newest.items()
              if c not in runs and r.info.status == "FAILED"
              and (r.info.start_time or 0) / 1000 >= job.since}
    table = pd.DataFrame([{
        "cell": key, **dataclasses.asdict(Cell.from_key(key)),
        "state": "done" if key in runs else "failed" if key in failed else "pending",
        "run_id": runs[key].info.run_id if key in runs else "", "error": failed.get(key, "")}
        for key in cells])
    client.log_text(job.parent_run_id, table.to_csv(index=False), parent.CELLS_FILE)
    if len(runs) == len(cells):
        parent.finish_parent(client, job.parent_run_id, RunStatus.FINISHED)
    elif not any(r.info.status == "RUNNING" for r in newest.values()):
        first = next(iter(failed.items()), ("?", "not done"))
        parent.finish_parent(client, job.parent_run_id, RunStatus.FAILED,
                             f"{len(cells) - len(runs)} cell(s) not done; "
                             f"{first[0]}: {first[1]}")
    trained = sum((r.info.start_time or 0) / 1000 >= job.since for r in runs.values())
    reused = sum(r.data.tags.get(TAG_SWEEP_ID) != job.sweep_id for r in runs.values())
    return SweepResult(job.sweep_id, job.experiment, job.parent_run_id, len(cells), len(runs),
                       trained, reused, failed, wall_s)
