"""One table for a sweep: mean ± 2 standard errors over replicates per preset × level ×
objective × α, for MAPE, coverage and bound width (``pitot-tf sweep summary``).

Per-run numbers come from the run metrics (``test_<obj>_mape``, ``test_<obj>_coverage_<α>``,
``test_<obj>_width_<α>`` at α = 0.1, 0.05, 0.01) and, for the other α of the grid
(0.10 … 0.01), from the run's conformal table artifact (``conformal.csv``: test split, the
chosen head). MAPE does not depend on α and repeats on each α row. ``*_err`` columns are two
standard errors of the mean (NaN with one replicate).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.exceptions import MlflowException

from pitot_tf.errors import ConfigError
from pitot_tf.sweep.lookup import sweep_cell_runs
from pitot_tf.sweep.tags import KIND_SWEEP, TAG_CELL, TAG_SWEEP_ID, TAG_SWEEP_KEY
from pitot_tf.tracking import names
from pitot_tf.tracking.repair import all_runs, experiment_ids

SUMMARY_FILE = "summary.csv"
RUNS_FILE = "summary_runs.csv"
METRICS = ("mape", "coverage", "width")
GROUP = ["preset", "family", "level", "objective", "alpha"]
RUN_COLUMNS = ["run_id", "preset", "family", "level", "replicate", "objective", "alpha",
               *METRICS, "wall_s"]
_BOUND = re.compile(r"^test_(?P<objective>.+)_(?P<metric>coverage|width)_(?P<alpha>[0-9.e-]+)$")
_MAPE = re.compile(r"^test_(?P<objective>.+)_mape$")
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class SweepRuns:
    """The finished cell runs of a sweep (or of an experiment), and the sweep's parent."""

    runs: dict[str, Run]
    parent_run_id: str | None = None
    sweep_id: str | None = None


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


def find_parent(client: MlflowClient, sweep: str | None,
                experiment: str | None = None) -> Run:
    """The parent run of ``sweep`` (its id, ``sweep-<id>`` or the parent's run id), or the
    newest sweep in ``experiment`` (default ``sweep``)."""
    if sweep and _RUN_ID.match(sweep):
        return client.get_run(sweep)
    ids = experiment_ids(client, [experiment] if experiment else None)
    query = f"tags.`{names.TAG_KIND}` = '{KIND_SWEEP}'"
    if sweep:
        query += f" and tags.`{TAG_SWEEP_ID}` = '{sweep.removeprefix('sweep-')}'"
    found = client.search_runs(ids, query, max_results=1, order_by=["attributes.start_time DESC"])
    if not found:
        where = f"sweep '{sweep}'" if sweep else f"a sweep in experiment '{experiment}'"
        raise ConfigError(f"no parent run of {where} in the tracking store")
    return found[0]


def sweep_runs(client: MlflowClient, sweep: str | None = None,
               experiment: str | None = None) -> SweepRuns:
    """``--sweep``: that sweep's cells; ``--experiment`` alone: every sweep cell run there
    (newest per preset × level × replicate); neither: the newest sweep of experiment
    ``sweep``."""
    if experiment and not sweep:
        return SweepRuns(experiment_cells(client, experiment_ids(client, [experiment])))
    parent = find_parent(client, sweep, experiment or (None if sweep else "sweep"))
    sweep_id = parent.data.tags.get(TAG_SWEEP_ID)
    if not sweep_id:
        raise ConfigError(f"run {parent.info.run_id} is not a sweep's parent run")
    runs = sweep_cell_runs(client, [parent.info.experiment_id], sweep_id, "FINISHED")
    return SweepRuns(runs, parent.info.run_id, sweep_id)


def metric_rows(run: Run) -> pd.DataFrame:
    """``objective, alpha, mape, coverage, width`` from the run's ``test_*`` metrics."""
    metrics = run.data.metrics
    mape = {m["objective"]: v for k, v in metrics.items() if (m := _MAPE.match(k))}
    cells: dict[tuple[str, float], dict[str, float]] = {}
    for key, value in metrics.items():
        if match := _BOUND.match(key):
            at = (match["objective"], round(float(match["alpha"]), 6))
            cells.setdefault(at, {})[match["metric"]] = value
    rows = [{"objective": obj, "alpha": alpha, "mape": mape.get(obj, np.nan), **values}
            for (obj, alpha), values in cells.items()]
    return pd.DataFrame(rows, columns=["objective", "alpha", *METRICS])


def table_rows(client: MlflowClient, run_id: str) -> pd.DataFrame | None:
    """``objective, alpha, coverage, width`` of the chosen head on the test split from the
    run's ``conformal.csv``; None when the run has no such artifact."""
    from pitot_tf.conformal.evaluate import TABLE_FILE  # (imports Keras: only when needed)

    with tempfile.TemporaryDirectory(prefix="pitot-summary-") as folder:
        try:
            path = client.download_artifacts(run_id, TABLE_FILE, folder)
        except (MlflowException, OSError):
            return None
        table = pd.read_csv(path)
    chosen = table[(table["split"] == "test") & table["chosen"].astype(bool)]
    chosen = chosen.assign(alpha=chosen["alpha"].astype(float).round(6))
    return chosen[["objective", "alpha", "coverage", "width"]].reset_index(drop=True)


def run_rows(client: MlflowClient, run: Run, all_alphas: bool = True) -> pd.DataFrame:
    """One row per objective × α of one run, with its preset, level and replicate."""
    rows = metric_rows(run)
    extra = table_rows(client, run.info.run_id) if all_alphas else None
    if extra is not None and len(extra):
        known = set(zip(rows["objective"], rows["alpha"], strict=True))
        extra = extra[[(o, a) not in known for o, a in zip(extra["objective"], extra["alpha"],
                                                            strict=True)]]
        mape = dict(zip(rows["objective"], rows["mape"], strict=True))
        extra = extra.assign(mape=extra["objective"].map(mape))
        rows = pd.concat([rows, extra[rows.columns]], ignore_index=True)
    tags = run.data.tags
    return rows.assign(
        run_id=run.info.run_id, preset=tags.get(names.TAG_PRESET, ""),
        family=tags.get(names.TAG_FAMILY, ""), level=float(tags.get(names.TAG_LEVEL, "nan")),
        replicate=int(tags.get(names.TAG_REPLICATE, "-1")),
        wall_s=run.data.metrics.get("wall_s", np.nan))[RUN_COLUMNS]


def per_run_table(client: MlflowClient, runs: Mapping[str, Run],
                  all_alphas: bool = True) -> pd.DataFrame:
    """:func:`run_rows` of every run, stacked."""
    frames = [run_rows(client, run, all_alphas) for run in runs.values()]
    if not frames:
        return pd.DataFrame(columns=RUN_COLUMNS)
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values([*GROUP, "replicate"]).reset_index(drop=True)


def summarize(per_run: pd.DataFrame) -> pd.DataFrame:
    """Mean and two standard errors over replicates per preset × level × objective × α."""
    columns = [*GROUP, "replicates", *[c for m in METRICS for c in (m, f"{m}_err")], "wall_s"]
    if per_run.empty:
        return pd.DataFrame(columns=columns)
    grouped = per_run.groupby(GROUP, sort=True)
    table = grouped.agg(replicates=("run_id", "nunique"), wall_s=("wall_s", "mean"))
    for metric in METRICS:
        table[metric] = grouped[metric].mean()
        table[f"{metric}_err"] = 2 * grouped[metric].sem(ddof=1)
    return table.reset_index()[columns]


@dataclass(frozen=True)
class SweepSummary:
    """The summary, the per-run rows it was computed from, and the runs themselves."""

    table: pd.DataFrame
    per_run: pd.DataFrame
    runs: dict[str, Run]
    parent_run_id: str | None
    sweep_id: str | None


def sweep_summary(sweep: str | None = None, experiment: str | None = None,
                  out: str | Path | None = None, log: bool = False,
                  all_alphas: bool = True) -> SweepSummary:
    """Gather and summarize; write ``out`` (CSV) if given and, when the runs belong to one
    sweep and ``log``, log ``summary.csv`` and ``summary_runs.csv`` to its parent run."""
    client = MlflowClient()
    found = sweep_runs(client, sweep, experiment)
    if not found.runs:
        raise ConfigError("no finished sweep runs found; run `pitot-tf sweep` first")
    per_run = per_run_table(client, found.runs, all_alphas)
    table = summarize(per_run)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False)
    if log and found.parent_run_id:
        client.log_text(found.parent_run_id, table.to_csv(index=False), SUMMARY_FILE)
        client.log_text(found.parent_run_id, per_run.to_csv(index=False), RUNS_FILE)
    return SweepSummary(table, per_run, found.runs, found.parent_run_id, found.sweep_id)
