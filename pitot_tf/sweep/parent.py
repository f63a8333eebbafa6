"""The sweep's MLflow parent run: one per sweep, shared by every invocation and worker.

The first process that creates the sweep's study creates the parent (or, under ``mlflow run``,
uses the project's run) and records its id in the study. Every later invocation, on any
machine, nests its cells under that same run, marks it RUNNING while it works (with its host
and pid, so ``pitot-tf runs repair`` can tell when it died) and ends it FINISHED when every
cell is done, FAILED when some cell failed, KILLED when interrupted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Param, RunStatus
from mlflow.exceptions import MlflowException

from pitot_tf.errors import ConfigError
from pitot_tf.search.processes import ProcessId
from pitot_tf.sweep.tags import KIND_SWEEP, TAG_SWEEP_ID, process_tags
from pitot_tf.tracking.names import TAG_ERROR, TAG_RUN_NAME
from pitot_tf.tracking.runs import MAX_TAG_CHARS, standard_tags

DEFINITION_FILE = "sweep.json"
CELLS_FILE = "cells.csv"


def create_parent(client: MlflowClient, experiment_id: str, sweep_id: str,
                  settings: Mapping[str, Any], project_run: str | None = None) -> str:
    """Create the parent run (or adopt ``project_run``): tags, ``sweep.*`` params and the
    definition as ``sweep.json``. Returns its id."""
    tags = {**standard_tags(KIND_SWEEP), TAG_SWEEP_ID: sweep_id}
    if project_run:
        run_id = project_run
        for key, value in tags.items():
            client.set_tag(run_id, key, value)
    else:
        tags[TAG_RUN_NAME] = f"sweep {sweep_id}"
        run_id = client.create_run(experiment_id, tags=tags,
                                   run_name=f"sweep {sweep_id}").info.run_id
    params = [Param(f"sweep.{k}", _text(v)[:6000]) for k, v in settings.items()]
    client.log_batch(run_id, params=params)
    client.log_text(run_id, json.dumps(dict(settings), indent=2, default=str), DEFINITION_FILE)
    return run_id


def check_parent(client: MlflowClient, run_id: str, sweep_id: str, tracking_uri: str) -> None:
    """ConfigError unless the recorded parent run exists in this tracking store."""
    try:
        client.get_run(run_id)
    except MlflowException:
        raise ConfigError(f"sweep {sweep_id}: its parent run {run_id} is not in {tracking_uri}; "
                          "use the tracking store the sweep started with, or another "
                          "--storage") from None


def mark_running(client: MlflowClient, run_id: str, process: ProcessId) -> None:
    client.update_run(run_id, status=RunStatus.to_string(RunStatus.RUNNING))
    for key, value in process_tags(process).items():
        client.set_tag(run_id, key, value)


def finish_parent(client: MlflowClient, run_id: str, status: int, error: str = "") -> None:
    """End the parent with ``status`` (a :class:`RunStatus`), with ``error`` as a tag."""
    if error:
        client.set_tag(run_id, TAG_ERROR, error[:MAX_TAG_CHARS])
    client.set_terminated(run_id, RunStatus.to_string(status))


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=str)
    return str(value)
