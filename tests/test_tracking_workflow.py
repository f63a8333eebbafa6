"""The pipeline's reuse rule: same entry point, same parameters, same code, FINISHED, and the
step's outputs still valid."""

from __future__ import annotations

from collections.abc import Iterator

import mlflow
import pytest
from mlflow_helpers import experiment as create_experiment
from mlflow_helpers import private_tracking

from pitot_tf.tracking.fingerprint import source_version
from pitot_tf.tracking.names import TAG_ENTRY_POINT, TAG_SOURCE_VERSION
from pitot_tf.tracking.workflow import find_finished_run


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("mlflow")
    with private_tracking(root, tmp_path_factory.getbasetemp()):
        yield create_experiment("workflow", root)


def logged_run(
    experiment: str, entry: str, params: dict[str, str], status: str = "FINISHED",
    code: str | None = None,
) -> str:
    """A run as ``mlflow run`` would leave it: entry-point tag, params as logged, status."""
    client = mlflow.MlflowClient()
    run = client.create_run(experiment, tags={TAG_ENTRY_POINT: entry,
                                              TAG_SOURCE_VERSION: code or source_version()})
    for key, value in params.items():
        client.log_param(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id, status)
    return str(run.info.run_id)


def test_a_finished_run_with_the_same_params_is_reused(experiment: str) -> None:
    run_id = logged_run(experiment, "split", {"out": "/s", "levels": "0.5", "seed": "42"})
    found = find_finished_run("split", {"out": "/s", "levels": "0.5", "seed": 42}, experiment)
    assert found is not None and found.info.run_id == run_id


def test_empty_params_logged_shell_quoted_still_match(experiment: str) -> None:
    run_id = logged_run(experiment, "evaluate", {"run_id": "abc", "groupings": "''"})
    found = find_finished_run("evaluate", {"run_id": "abc", "groupings": ""}, experiment)
    assert found is not None and found.info.run_id == run_id


@pytest.mark.parametrize(
    ("entry", "params", "status", "code"),
    [
        ("train", {"preset": "other"}, "FINISHED", None),  # different parameter value
        ("train", {"preset": "pitot"}, "FAILED", None),  # not finished
        ("train", {"preset": "pitot"}, "FINISHED", "0.0.1+deadbeef"),  # other code
        ("data", {"preset": "pitot"}, "FINISHED", None),  # other entry point
    ],
)
def test_runs_that_differ_are_not_reused(
    experiment: str, entry: str, params: dict[str, str], status: str, code: str | None
) -> None:
    fresh = mlflow.create_experiment(f"differ-{entry}-{status}-{code}-{params['preset']}")
    logged_run(fresh, entry, params, status, code)
    assert find_finished_run("train", {"preset": "pitot"}, fresh) is None


def test_a_run_whose_outputs_are_gone_is_not_reused(experiment: str) -> None:
    logged_run(experiment, "data", {"source": "synthetic", "out": "/gone"})
    assert find_finished_run("data", {"source": "synthetic", "out": "/gone"}, experiment,
                             lambda run: False) is None
    assert find_finished_run("data", {"source": "synthetic", "out": "/gone"}, experiment,
                             lambda run: True) is not None
