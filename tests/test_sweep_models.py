"""A sweep that logs models: the figures command analyses its Pitot run, and a later sweep
without models reuses that run instead of training it again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow_helpers import private_tracking

from pitot_tf.reporting.report import sweep_figures
from pitot_tf.sweep.runner import run_sweep
from pitot_tf.sweep.tags import TAG_HAS_MODEL, TAG_SWEEP_KEY

pytestmark = pytest.mark.end_to_end
OVERRIDES = {"training.steps": 40, "training.val_every": 20, "training.batch": 64,
             "model.layers": [16], "model.mf_dim": 8, "training.jit_compile": False}


@pytest.fixture()
def data(tmp_path: Path) -> Iterator[Path]:
    from pitot_tf.data.synth import synthesize_dataset

    folder = synthesize_dataset(tmp_path / "data", platforms=24, workloads=40, seed=3)
    with private_tracking(tmp_path, tmp_path.parent):
        yield folder


def test_models_are_analysed_and_reused_by_a_sweep_without_models(data: Path,
                                                                  tmp_path: Path) -> None:
    first = run_sweep(["pitot"], [0.5], [0], OVERRIDES, data_dir=data, progress=False)
    assert (first.done, first.trained) == (1, 1)
    client = MlflowClient()
    experiment = client.get_experiment_by_name("sweep")
    assert experiment is not None
    [run] = [r for r in client.search_runs([experiment.experiment_id], "")
             if TAG_SWEEP_KEY in r.data.tags]
    assert run.data.tags[TAG_HAS_MODEL] == "true"

    report = sweep_figures(out=tmp_path / "figures")
    assert report.analysis_run_id == run.info.run_id
    names = {p.name for p in report.paths}
    assert {"tsne_workloads_suite.png", "tsne_platforms_runtime.png", "tsne_platforms_uarch.png",
            "interference_norm.png", "error_by_platform_group.png", "mape_vs_level.png"} <= names

    second = run_sweep(["pitot"], [0.5], [0], OVERRIDES, data_dir=data,
                       log_model=False, progress=False)
    assert second.sweep_id != first.sweep_id
    assert (second.done, second.trained, second.reused) == (1, 0, 1)
