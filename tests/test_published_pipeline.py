"""README's first command on a fresh machine: ``mlflow run . -e main --env-manager local``
with no ``PITOT_DATA`` runs the whole pipeline on the published dataset shipped in the package
(a small step count, so that it takes a few minutes)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow_helpers import experiment, private_tracking

from pitot_tf.data.packaged import PUBLISHED_DIR
from pitot_tf.tracking import names

REPO = Path(__file__).resolve().parents[1]
OVERRIDES = ("training.val_every=25 training.progress=false training.batch=64 "
             "model.layers=[16] model.mf_dim=8 training.jit_compile=false")
pytestmark = pytest.mark.end_to_end


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("published")
    with private_tracking(root, tmp_path_factory.getbasetemp()):
        experiment("published", root)
        yield root


def test_main_without_pitot_data_runs_on_the_published_data(workspace: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PITOT_DATA", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID",
                        "MLFLOW_EXPERIMENT_NAME")}
    env["PATH"] = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    command = [sys.executable, "-m", "mlflow", "run", str(REPO), "-e", "main",
               "--env-manager", "local", "--experiment-name", "published",
               "-P", "steps=50", "-P", f"set={OVERRIDES}",
               "-P", f"splits_dir={workspace / 'splits'}"]
    done = subprocess.run(command, cwd=workspace, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "test at alpha=0.05" in done.stdout + done.stderr

    (pipeline,) = mlflow.search_runs(
        experiment_names=["published"], output_format="list",
        filter_string=f"tags.`{names.TAG_ENTRY_POINT}` = 'main'")
    assert pipeline.info.status == "FINISHED" and pipeline.data.params["source"] == "published"
    client = mlflow.MlflowClient()
    data = client.get_run(pipeline.data.tags["pitot.step.data"])
    assert data.data.params[names.PARAM_DATA_DIR] == str(PUBLISHED_DIR)
    assert data.data.metrics["rows_mf"] == 53_637 and data.data.metrics["rows_if2"] == 98_957
    train = client.get_run(pipeline.data.tags["pitot.step.train"])
    assert train.data.params["training.steps"] == "50"
    assert 0 < train.data.metrics["test_mf_mape"] < 1
    assert 0.8 < train.data.metrics["test_if2_coverage_0.05"] <= 1
