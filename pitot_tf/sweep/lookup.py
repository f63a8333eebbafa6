"""Finding a sweep's runs in MLflow: a reusable run for a cell, and every finished cell.

MLflow is the record of what was trained: a cell counts as done only when a FINISHED run
carries its ``sweep_key`` (KILLED and FAILED runs are never reused), whatever the Optuna
queue says.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlflow import MlflowClient
from mlflow.entities import Run

from pitot_tf.sweep.tags import TAG_CELL, TAG_HAS_MODEL, TAG_SWEEP_KEY, in_sweep_tag
from pitot_tf.tracking import names

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


def find_reusable(client: MlflowClient, experiment_id: str, sweep_key: str,
                  need_model: bool) -> Run | None:
    """The newest FINISHED run with ``sweep_key`` (and a logged model if ``need_model``)."""
    query = f"tags.`{TAG_SWEEP_KEY}` = '{sweep_key}' and attributes.status = 'FINISHED'"
    if need_model:
        query += f" and tags.`{TAG_HAS_MODEL}` = 'true'"
    runs = client.search_runs([experiment_id], query, max_results=1,
                              order_by=["attributes.start_time DESC"])
    return runs[0] if runs else None


def finished_cells(client: MlflowClient, experiment_ids: list[str],
                   sweep_id: str) -> dict[str, Run]:
    """``{cell key: newest FINISHED run}`` of sweep ``sweep_id`` (trained or reused by it)."""
    tag = in_sweep_tag(sweep_id)
    query = f"tags.`{tag}` LIKE '%' and attributes.status = 'FINISHED'"
    found: dict[str, Run] = {}
    for run in all_runs(client, experiment_ids, query, ["attributes.start_time DESC"]):
        found.setdefault(run.data.tags[tag], run)
    return found


def experiment_cells(client: MlflowClient, experiment_ids: list[str]) -> dict[str, Run]:
    """``{cell key: newest FINISHED run}`` over every sweep cell run in the experiments."""
    query = f"tags.`{TAG_SWEEP_KEY}` LIKE '%' and attributes.status = 'FINISHED'"
    found: dict[str, Run] = {}
    for run in all_runs(client, experiment_ids, query, ["attributes.start_time DESC"]):
        tags = run.data.tags
        cell = tags.get(TAG_CELL) or "|".join(
            tags.get(k, "") for k in (names.TAG_PRESET, names.TAG_LEVEL, names.TAG_REPLICATE))
        found.setdefault(cell, run)
    return found
