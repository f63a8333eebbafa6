"""A tiny sweep end to end (2 presets × 2 levels × 2 replicates, synthetic data) on two worker
processes: one run per cell under the parent, a rerun trains nothing, the summary matches the
runs, figures draw."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import Run, ViewType
from mlflow_helpers import private_tracking
from typer.testing import CliRunner, Result

from pitot_tf.cli.app import app, register_commands
from pitot_tf.sweep.tags import TAG_SWEEP_ID, TAG_SWEEP_KEY, in_sweep_tag
from pitot_tf.tracking import names

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
#: One ``--set`` for every preset, so no model size: each kind reads its own (a key a preset's
#: kind never reads is an error).
FAST = ["training.steps=40", "training.val_every=20", "training.batch=64",
        "training.jit_compile=false"]


@dataclass(frozen=True)
class World:
    root: Path
    data: Path
    client: MlflowClient


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Synthetic data and a private tracking store; the folder is the cwd."""
    from pitot_tf.data.synth import synthesize_dataset

    root = tmp_path_factory.mktemp("sweep")
    data = synthesize_dataset(root / "data", platforms=24, workloads=40, seed=3)
    with private_tracking(root, root.parent) as uri:
        yield World(root, data, MlflowClient(uri))


def invoke(*args: str) -> Result:
    register_commands()
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def sweep_args(world: World) -> list[str]:
    return ["sweep", "--presets", "pitot,baseline/monolith", "--levels", "0.3,0.6",
            "--replicates", "0-1", "--set", " ".join(FAST), "--data-dir", str(world.data),
            "--log-model", "false", "--no-progress"]


@pytest.fixture(scope="module")
def first(world: World) -> Result:
    return invoke(*sweep_args(world), "--workers", "2")


def all_runs(client: MlflowClient, view: int = ViewType.ACTIVE_ONLY) -> list[Run]:
    """Every run (deleted ones too with ``ViewType.ALL``: a claim that lost is deleted)."""
    ids = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_runs(ids, "", run_view_type=view, max_results=1000))


@pytest.fixture(scope="module")
def parent(world: World, first: Result) -> Run:
    [found] = [r for r in all_runs(world.client) if r.data.tags.get(names.TAG_KIND) == "sweep"]
    return found


def cell_runs(world: World) -> list[Run]:
    return [r for r in all_runs(world.client) if TAG_SWEEP_KEY in r.data.tags]


def test_two_workers_train_every_cell_once_under_the_parent(world: World, first: Result,
                                                            parent: Run) -> None:
    assert first.exit_code == 0, first.output
    assert "8/8 cells done; this run trained 8, reused 0, 0 failed" in first.output
    runs = cell_runs(world)
    assert len(runs) == 8
    assert {r.info.status for r in runs} == {"FINISHED"}
    sweep_id = parent.data.tags[TAG_SWEEP_ID]
    cells = sorted(str(r.data.tags[in_sweep_tag(sweep_id)]) for r in runs)
    assert cells == sorted(f"{p}|{lv}|{r}" for p in ("pitot", "baseline/monolith")
                           for lv in ("0.3", "0.6") for r in (0, 1))
    assert {r.data.tags[names.TAG_PARENT] for r in runs} == {parent.info.run_id}
    assert len({r.data.tags[TAG_SWEEP_KEY] for r in runs}) == 8
    hosts = {r.data.tags["pitot.pid"] for r in runs}
    assert len(hosts) == 2, "both worker copies trained cells"
    assert world.client.get_run(parent.info.run_id).info.status == "FINISHED"
    table = pd.read_csv(world.client.download_artifacts(parent.info.run_id, "cells.csv",
                                                        str(world.root)))
    assert (table["state"] == "done").all() and len(table) == 8


def test_a_rerun_trains_nothing(world: World, first: Result) -> None:
    before = len(all_runs(world.client, ViewType.ALL))
    again = invoke(*sweep_args(world))
    assert again.exit_code == 0, again.output
    assert "8/8 cells done; this run trained 0, reused 0, 0 failed" in again.output
    assert len(all_runs(world.client, ViewType.ALL)) == before


def test_the_entry_point_resumes_the_same_sweep(world: World, first: Result) -> None:
    """The MLflow entry point's spelling (``-P presets=... -P set=...``) is the same sweep."""
    from pitot_tf.cli import run_command

    before = len(all_runs(world.client))
    status = run_command("sweep", [
        "--presets", "pitot,baseline/monolith", "--levels", "0.3,0.6", "--replicates", "0-1",
        "--set", " ".join(FAST), "--data-dir", str(world.data),
        "--splits-dir", "default", "--log-model", "false", "--no-progress"])
    assert status == 0
    assert len(all_runs(world.client)) == before


def test_the_summary_is_recomputed_from_the_runs(world: World, first: Result,
                                                 parent: Run) -> None:
    result = invoke("sweep", "summary", "--out", str(world.root / "summary.csv"), "--log")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(world.root / "summary.csv")
    keys = ["preset", "level", "objective", "alpha"]
    assert not table.duplicated(keys).any()
    assert set(table["preset"]) == {"pitot", "baseline/monolith"}
    assert set(table["objective"]) == {"mf", "if2"}
    assert {0.1, 0.07, 0.05} <= set(table["alpha"].round(2))  # 0.01 needs more rows
    assert (table["replicates"] == 2).all()
    runs = [r for r in cell_runs(world) if r.data.tags[names.TAG_PRESET] == "pitot"
            and r.data.tags[names.TAG_LEVEL] == "0.6"]
    mape = [r.data.metrics["test_if2_mape"] for r in runs]
    row = table[(table["preset"] == "pitot") & (table["level"] == 0.6)
                & (table["objective"] == "if2") & np.isclose(table["alpha"], 0.05)].iloc[0]
    assert row["mape"] == pytest.approx(np.mean(mape))
    assert row["mape_err"] == pytest.approx(2 * np.std(mape, ddof=1) / np.sqrt(2))
    widths = [r.data.metrics["test_if2_width_0.05"] for r in runs]
    assert row["width"] == pytest.approx(np.mean(widths))
    artifacts = {a.path for a in world.client.list_artifacts(parent.info.run_id)}
    assert {"summary.csv", "summary_runs.csv", "cells.csv", "sweep.json"} <= artifacts


def test_other_alphas_come_from_the_conformal_tables(world: World, first: Result) -> None:
    from pitot_tf.reporting.summary import sweep_summary

    table = sweep_summary().table
    runs = [r for r in cell_runs(world) if r.data.tags[names.TAG_PRESET] == "baseline/monolith"
            and r.data.tags[names.TAG_LEVEL] == "0.3"]
    widths = []
    for run in runs:
        conformal = pd.read_csv(world.client.download_artifacts(
            run.info.run_id, "conformal.csv", str(world.root / run.info.run_id)))
        chosen = conformal[(conformal["split"] == "test") & conformal["chosen"]
                           & (conformal["objective"] == "mf")
                           & np.isclose(conformal["alpha"], 0.07)]
        widths.append(float(chosen["width"].iloc[0]))
    row = table[(table["preset"] == "baseline/monolith") & (table["level"] == 0.3)
                & (table["objective"] == "mf") & np.isclose(table["alpha"], 0.07)].iloc[0]
    assert row["width"] == pytest.approx(np.mean(widths))


def test_figures_draw_from_the_sweep_and_go_to_the_parent(world: World, first: Result,
                                                          parent: Run) -> None:
    out = world.root / "figures"
    result = invoke("sweep", "figures", "--out", str(out), "--log")
    assert result.exit_code == 0, result.output
    assert "analysis skipped" in result.output  # the sweep logged no models
    drawn = sorted(p.name for p in out.iterdir())
    assert drawn == ["mape_vs_level.png", "tightness_baselines.png", "tightness_cqr.png"]
    logged = world.client.list_artifacts(parent.info.run_id, "figures")
    assert sorted(Path(a.path).name for a in logged) == drawn
