"""Finding a sweep's runs in MLflow, the record of what was trained: a cell is done only when
a FINISHED run carries its ``sweep_key`` (KILLED and FAILED runs are never reused)."""

from __future__ import annotations

from mlflow import MlflowClient
from mlflow.entities import Run

from pitot_tf.sweep.tags import in_sweep_tag
from pitot_tf.tracking.repair import all_runs


def sweep_cell_runs(client: MlflowClient, experiment_ids: list[str], sweep_id: str,
                    status: str | None = None) -> dict[str, Run]:
    """``{cell key: newest run}`` of sweep ``sweep_id`` (trained or reused by it), of any
    status or of ``status`` only (``"FINISHED"``: the cells done)."""
    tag = in_sweep_tag(sweep_id)
    query = f"tags.`{tag}` LIKE '%'"
    if status:
        query += f" and attributes.status = '{status}'"
    found: dict[str, Run] = {}
    for run in all_runs(client, experiment_ids, query, ["attributes.start_time DESC"]):
        found.setdefault(run.data.tags[tag], run)
    return found

