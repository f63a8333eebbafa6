"""The sweep's MLflow parent run: one per sweep, shared by every invocation and worker.

It is the run of kind ``sweep`` tagged with the sweep id; the first invocation creates it (or,
under ``mlflow run``, tags the project's run), and as for cells the earliest run wins when two
start at once. Every invocation marks it RUNNING with its process (for ``pitot-tf runs
repair``) and ends it FINISHED when every cell is done, FAILED when some cell failed and
nothing else works on it, KILLED when interrupted.
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import RunStatus

from pitot_tf.sweep.tags import KIND_SWEEP, TAG_SWEEP_ID
from pitot_tf.tracking.liveness import ProcessId, process_tags
from pitot_tf.tracking.names import TAG_ERROR, TAG_KIND, TAG_RUN_NAME
from pitot_tf.tracking.run_log import log_params_to
from pitot_tf.tracking.runs import MAX_TAG_CHARS, standard_tags

DEFINITION_FILE = "sweep.json"
CELLS_FILE = "cells.csv"


def parents(client: MlflowClient, experiment_id: str, sweep_id: str) -> list[str]:
    """Ids of the runs that stand for sweep ``sweep_id``, oldest first."""
    query = f"tags.`{TAG_KIND}` = '{KIND_SWEEP}' and tags.`{TAG_SWEEP_ID}` = '{sweep_id}'"
    runs = client.search_runs([experiment_id], query, max_results=100)
    return [r.info.run_id for r in sorted(runs, key=lambda r: (r.info.start_time or 0,
                                                               r.info.run_id))]


def ensure_parent(client: MlflowClient, experiment_id: str, sweep_id: str,
                  settings: Mapping[str, Any], project_run: str | None = None,
                  settle_s: float = 1.0) -> str:
    """The sweep's parent run, created (or ``project_run`` adopted) if it has none yet."""
    found = parents(client, experiment_id, sweep_id)
    if found:
        return found[0]
    tags = {**standard_tags(KIND_SWEEP), TAG_SWEEP_ID: sweep_id}
    if project_run:
        run_id = project_run
        for key, value in tags.items():
            client.set_tag(run_id, key, value)
    else:
        tags[TAG_RUN_NAME] = f"sweep {sweep_id}"
        run_id = client.create_run(experiment_id, tags=tags,
                                   run_name=f"sweep {sweep_id}").info.run_id
    time.sleep(settle_s)
    winner = parents(client, experiment_id, sweep_id)[0]
    if winner != run_id:
        if not project_run:
            client.delete_run(run_id)
        return winner
    log_params_to(client, run_id, {f"sweep.{k}": str(json.dumps(v, default=str) if isinstance(
        v, (list, tuple, dict)) else v)[:6000] for k, v in settings.items()})
    client.log_text(run_id, json.dumps(dict(settings), indent=2, default=str), DEFINITION_FILE)
    return run_id


def mark_running(client: MlflowClient, run_id: str, process: ProcessId) -> None:
    client.update_run(run_id, status=RunStatus.to_string(RunStatus.RUNNING))
    for key, value in process_tags(process).items():
        client.set_tag(run_id, key, value)


def finish_parent(client: MlflowClient, run_id: str, status: int, error: str = "") -> None:
    """End the parent with ``status`` (a :class:`RunStatus`), with ``error`` as a tag."""
    if error:
        client.set_tag(run_id, TAG_ERROR, error[:MAX_TAG_CHARS])
    client.set_terminated(run_id, RunStatus.to_string(status))

