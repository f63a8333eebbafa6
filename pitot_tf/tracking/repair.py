"""Mark runs left RUNNING by dead processes KILLED (``pitot-tf runs repair``; sweeps too).

A run is stale when

* it records its process (tags ``pitot.host``, ``pitot.pid``, ``pitot.pid_start``: sweep
  cells and sweep parents do) and that process on this host is gone; or
* ``older_than`` seconds are given, it started longer ago than that and has logged no metric
  for as long (runs of other hosts, or runs that record no process).

A repaired run gets an ``error`` tag with the reason and status KILLED; models it logged
that never became READY are marked FAILED. A sweep never reuses a KILLED run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import mlflow
from mlflow import MlflowClient
from mlflow.entities import LoggedModelStatus, Run, RunStatus

from pitot_tf.errors import ConfigError
from pitot_tf.redaction import redact
from pitot_tf.tracking.liveness import tagged_process
from pitot_tf.tracking.names import TAG_ERROR

TAG_REPAIRED = "pitot.repaired"
PAGE = 1000


def all_runs(client: MlflowClient, experiment_ids: list[str], query: str,
             order_by: list[str] | None = None) -> Iterator[Run]:
    """Every run matching ``query`` (all pages)."""
    token: str | None = None
    while True:
        page = client.search_runs(experiment_ids, query, max_results=PAGE,
                                  order_by=order_by, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


@dataclass(frozen=True)
class RepairedRun:
    """A run found stale, and why."""

    run_id: str
    name: str
    experiment_id: str
    reason: str


def experiment_ids(client: MlflowClient, names: list[str] | None = None) -> list[str]:
    """Ids of the named experiments (ConfigError for an unknown name), or of all active."""
    if not names:
        return [e.experiment_id for e in client.search_experiments()]
    ids = []
    for name in names:
        found = client.get_experiment_by_name(name)
        if found is None:
            raise ConfigError(f"experiment '{name}' not found in "
                              f"{redact(mlflow.get_tracking_uri())}")
        ids.append(found.experiment_id)
    return ids


def last_activity_s(client: MlflowClient, run: Run) -> float:
    """When the run last logged a metric (or started), in seconds since the epoch."""
    latest = run.info.start_time or 0
    for key in run.data.metrics:
        history = client.get_metric_history(run.info.run_id, key)
        latest = max([latest, *(m.timestamp for m in history)])
    return latest / 1000


def stale_reason(client: MlflowClient, run: Run, older_than: float | None,
                 now: float) -> str | None:
    """Why a RUNNING run is stale, or None while its process may still be working on it."""
    process = tagged_process(run.data.tags)
    if process is not None and process.is_local:
        return f"its process {process.pid} on {process.host} is gone" if process.is_gone() \
            else None
    if older_than is None or now - (run.info.start_time or 0) / 1000 < older_than:
        return None
    idle = now - last_activity_s(client, run)
    if idle < older_than:
        return None
    return f"RUNNING with no metric logged for {idle:.0f} s (--older-than {older_than:g})"


def repair_runs(experiments: list[str] | None = None, older_than: float | None = None,
                dry_run: bool = False, client: MlflowClient | None = None,
                ids: list[str] | None = None) -> list[RepairedRun]:
    """Find stale RUNNING runs in ``experiments`` (names; all when None, or experiment
    ``ids``) and, unless ``dry_run``, mark them KILLED. Returns what was (or would be) done."""
    if older_than is not None and older_than < 0:
        raise ConfigError(f"--older-than must be >= 0 seconds, got {older_than:g}")
    client = client or MlflowClient()
    chosen = ids if ids is not None else experiment_ids(client, experiments)
    if not chosen:
        return []
    now, repaired = time.time(), []
    for run in all_runs(client, chosen, "attributes.status = 'RUNNING'"):
        reason = stale_reason(client, run, older_than, now)
        if reason is None:
            continue
        repaired.append(RepairedRun(run.info.run_id, run.info.run_name or "",
                                    run.info.experiment_id, reason))
        if not dry_run:
            kill_run(client, run, reason)
    return repaired


def kill_run(client: MlflowClient, run: Run, reason: str) -> None:
    """Tag ``run`` with ``reason``, end it KILLED and fail its unfinished logged models."""
    run_id = run.info.run_id
    client.set_tag(run_id, TAG_ERROR, f"killed by repair: {reason}")
    client.set_tag(run_id, TAG_REPAIRED, "true")
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.KILLED))
    for model in client.search_logged_models(
            [run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'"):
        if model.status != LoggedModelStatus.READY:
            client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
