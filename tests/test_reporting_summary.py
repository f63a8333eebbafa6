"""Summary tables: per-run rows from run metrics and the conformal table artifact, then
mean ± 2 standard errors over replicates (hand-made runs in a private MLflow store)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow_helpers import private_tracking

from pitot_tf.errors import ConfigError
from pitot_tf.reporting.summary import (
    METRICS,
    metric_rows,
    per_run_table,
    summarize,
    sweep_runs,
    sweep_summary,
)
from pitot_tf.sweep.tags import KIND_SWEEP, TAG_SWEEP_ID, TAG_SWEEP_KEY, in_sweep_tag
from pitot_tf.tracking import names


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowClient]:
    """A private SQLite store (made once: creating one takes seconds) in a temporary folder,
    which is also the working directory (artifacts go to ./mlruns)."""
    root = tmp_path_factory.mktemp("summary")
    with private_tracking(root, root.parent) as uri:
        yield MlflowClient(uri)


def conformal_csv(mape: float, width: float) -> str:
    """A conformal table with two heads per α; head 1 is chosen (its width is ``width``)."""
    rows = []
    for alpha in (0.1, 0.07, 0.05, 0.01):
        for head in (0, 1):
            rows.append({"objective": "mf", "split": "test", "alpha": alpha, "head": head,
                         "chosen": head == 1, "coverage": 1 - alpha, "mape": mape + head,
                         "width": width + alpha if head == 1 else 99.0})
            rows.append({**rows[-1], "split": "val", "width": 55.0})
    return pd.DataFrame(rows).to_csv(index=False)


def make_cell_run(client: MlflowClient, experiment_id: str, sweep: str, preset: str,
                  level: float, replicate: int, mape: float, width: float) -> str:
    cell = f"{preset}|{level:g}|{replicate}"
    tags = {names.TAG_PRESET: preset, names.TAG_FAMILY: preset.split("/")[0],
            names.TAG_LEVEL: f"{level:g}", names.TAG_REPLICATE: str(replicate),
            TAG_SWEEP_KEY: f"key-{cell}", in_sweep_tag(sweep): cell}
    run_id = client.create_run(experiment_id, tags=tags).info.run_id
    metrics = {"test_mf_mape": mape, "wall_s": 2.0}
    for alpha in (0.1, 0.05, 0.01):
        metrics[f"test_mf_coverage_{alpha:g}"] = 1 - alpha
        metrics[f"test_mf_width_{alpha:g}"] = width + alpha
    for key, value in metrics.items():
        client.log_metric(run_id, key, value)
    client.log_text(run_id, conformal_csv(mape, width), "conformal.csv")
    client.set_terminated(run_id, "FINISHED")
    return run_id


@pytest.fixture(scope="module")
def sweep(client: MlflowClient) -> str:
    experiment_id = client.create_experiment("sweep")
    client.create_run(experiment_id, tags={names.TAG_KIND: KIND_SWEEP, TAG_SWEEP_ID: "s1"})
    for preset, offset in (("pitot", 0.0), ("baseline/monolith", 1.0)):
        for replicate, mape in enumerate((0.2, 0.4)):
            make_cell_run(client, experiment_id, "s1", preset, 0.5, replicate, mape + offset,
                          0.3 + offset + replicate)
    failed = client.create_run(experiment_id, tags={in_sweep_tag("s1"): "pitot|0.5|2"})
    client.set_terminated(failed.info.run_id, "FAILED")
    return "s1"


def test_metric_rows_parse_objective_and_alpha(client: MlflowClient, sweep: str) -> None:
    run = next(iter(sweep_runs(client, sweep).runs.values()))
    rows = metric_rows(run).sort_values("alpha")
    assert rows["alpha"].tolist() == [0.01, 0.05, 0.1]
    assert set(rows["objective"]) == {"mf"}
    assert np.allclose(rows["coverage"], 1 - rows["alpha"])


def test_runs_are_the_sweeps_finished_cells(client: MlflowClient, sweep: str) -> None:
    found = sweep_runs(client, sweep)
    assert sorted(found.runs) == ["baseline/monolith|0.5|0", "baseline/monolith|0.5|1",
                                  "pitot|0.5|0", "pitot|0.5|1"]
    assert sweep_runs(client).sweep_id == "s1"  # the newest sweep of experiment "sweep"
    assert len(sweep_runs(client, experiment="sweep").runs) == 4
    with pytest.raises(ConfigError, match="no parent run of sweep 'zzz'"):
        sweep_runs(client, "zzz")


def test_per_run_rows_add_the_artifacts_other_alphas(client: MlflowClient, sweep: str) -> None:
    table = per_run_table(client, sweep_runs(client, sweep).runs)
    assert len(table) == 4 * 4  # 4 runs × α 0.1, 0.07 (artifact only), 0.05, 0.01
    extra = table[np.isclose(table["alpha"], 0.07)].sort_values(["preset", "replicate"])
    assert np.allclose(extra["width"], [1.37, 2.37, 0.37, 1.37])
    pitot0 = table[(table["preset"] == "pitot") & (table["replicate"] == 0)]
    assert np.allclose(pitot0.set_index("alpha")["width"].sort_index(),
                       [0.31, 0.35, 0.37, 0.4])  # chosen head's width = 0.3 + α
    assert (pitot0["mape"] == 0.2).all()  # from test_mf_mape, on every α row


def test_summary_is_mean_and_two_standard_errors(client: MlflowClient, sweep: str,
                                                 tmp_path: Path) -> None:
    result = sweep_summary(sweep, out=tmp_path / "summary.csv", log=True)
    table = result.table
    assert len(table) == 2 * 1 * 1 * 4  # presets × levels × objectives × α
    row = table[(table["preset"] == "pitot") & np.isclose(table["alpha"], 0.1)].iloc[0]
    assert row["replicates"] == 2
    assert row["mape"] == pytest.approx(0.3)
    assert row["mape_err"] == pytest.approx(2 * np.std([0.2, 0.4], ddof=1) / np.sqrt(2))
    assert row["width"] == pytest.approx(np.mean([0.4, 1.4]))
    assert pd.read_csv(tmp_path / "summary.csv").shape == table.shape
    logged = client.list_artifacts(str(result.parent_run_id))
    assert {a.path for a in logged} == {"summary.csv", "summary_runs.csv"}


def test_one_replicate_has_no_error_bar() -> None:
    per_run = pd.DataFrame({"run_id": ["a"], "preset": ["pitot"], "family": ["pitot"],
                            "level": [0.5], "replicate": [0], "objective": ["mf"],
                            "alpha": [0.1], "mape": [0.2], "coverage": [0.9], "width": [0.3],
                            "wall_s": [1.0]})
    table = summarize(per_run)
    assert table["replicates"].tolist() == [1]
    assert all(np.isnan(table[f"{m}_err"]).all() for m in METRICS)
    assert summarize(per_run.iloc[:0]).empty
