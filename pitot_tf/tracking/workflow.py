"""The ``main`` entry point: data → split → train → evaluate as one multistep workflow.

Each step is a child ``mlflow run`` of this project (in the pipeline run's experiment, with
the same ``env_manager``: MLflow does not pass ``--env-manager`` on by itself). Before
launching a step, the pipeline looks for a FINISHED run of the same entry point with the same
parameters and the same code version (package version + source hash, which also covers the
git commit) and reuses it instead, if what it produced is still there: the data files with
the same fingerprint, the split file, the same data for training.
"""

from __future__ import annotations

import logging
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Run
from mlflow.projects import ExecutionException

from pitot_tf.data.dataset import load_dataset
from pitot_tf.data.splits import split_path
from pitot_tf.errors import PitotError
from pitot_tf.tracking import names
from pitot_tf.tracking.fingerprint import data_fingerprint, source_version
from pitot_tf.tracking.run_log import log_metrics
from pitot_tf.tracking.runs import tracked_run

_log = logging.getLogger(__name__)
TAG_STEP = "pitot.step."
TAG_REUSED = "pitot.reused."
TAG_TRAIN_RUN = "pitot.train_run"


@dataclass(frozen=True)
class StepRun:
    """The run a step used, and whether it was an earlier identical one."""

    run_id: str
    reused: bool


@dataclass(frozen=True)
class PipelineSpec:
    """Parameters of the whole pipeline (the ``main`` entry point's, as ``pitot-tf pipeline``
    reads them). ``data_out`` ``default`` (the CLI's sentinel) lets the ``data`` step choose;
    ``overrides`` are ``key=value`` pairs; ``steps`` 0 keeps the preset's ``training.steps``."""

    source: str = "published"
    data_out: str = "default"
    splits_dir: str = "splits"
    split_seed: int = 42
    preset: str = "pitot"
    overrides: tuple[str, ...] = ()
    level: float = 0.5
    replicate: int = 0
    steps: int = 0
    env_manager: str = "local"
    experiment: str | None = None


def run_pipeline(spec: PipelineSpec, project_uri: str | Path) -> dict[str, StepRun]:
    """Run (or reuse) each step; return ``{step: StepRun}``. Each step gets its MLproject
    parameters (spelled as the CLI options they become). The pipeline run gets tags
    ``pitot.step.<step>`` (the run id) and ``pitot.reused.<step>`` (true/false)."""
    label = f"pipeline {spec.preset} L{spec.level:g} r{spec.replicate}"
    splits_dir = str(Path(spec.splits_dir).resolve())
    with tracked_run(names.KIND_PIPELINE, label, spec.experiment) as run:
        step = _Stepper(str(project_uri), run.info.experiment_id, spec.env_manager)
        data = step("data", {"source": spec.source, "out": spec.data_out}, _data_is_unchanged)
        data_dir = data.data.params[names.PARAM_DATA_DIR]
        fingerprint = data.data.params[names.PARAM_DATA_FINGERPRINT]
        step("split", {"data_dir": data_dir, "out": splits_dir, "levels": f"{spec.level:g}",
                       "replicates": spec.replicate, "seed": spec.split_seed},
             _split_file_exists(spec))
        train = step("train", {
            "preset": spec.preset, "set": " ".join(spec.overrides), "level": f"{spec.level:g}",
            "replicate": spec.replicate, "steps": spec.steps, "data_dir": data_dir,
            "splits_dir": splits_dir,
        }, lambda r: r.data.params.get(names.PARAM_DATA_FINGERPRINT) == fingerprint)
        step("evaluate", {"run_id": train.info.run_id}, lambda r: True)
        mlflow.set_tags({**{TAG_STEP + k: v for k, v in step.run_ids.items()},
                         **{TAG_REUSED + k: str(v).lower() for k, v in step.reused.items()}})
        show_training_on_pipeline(train)
    return {k: StepRun(v, step.reused[k]) for k, v in step.run_ids.items()}


def show_training_on_pipeline(train: Run) -> None:
    """Copy the training run's latest metrics and its preset/level/replicate tags onto the
    pipeline run, so that the runs table and charts show the result at top level while the
    training run sits nested under it (filter ``tags.`pitot.kind` = 'train'`` to list the
    training runs themselves flat; see docs/mlflow.md)."""
    tags = {k: train.data.tags[k] for k in (names.TAG_PRESET, names.TAG_FAMILY, names.TAG_LEVEL,
                                             names.TAG_REPLICATE) if k in train.data.tags}
    mlflow.set_tags({**tags, TAG_TRAIN_RUN: train.info.run_id})
    latest = mlflow.MlflowClient().get_run(train.info.run_id).data.metrics
    log_metrics(latest)


class _Stepper:
    """Launches steps as child ``mlflow run``s, or reuses a finished identical one."""

    def __init__(self, project_uri: str, experiment_id: str, env_manager: str) -> None:
        self.project_uri, self.experiment_id = project_uri, experiment_id
        self.env_manager = env_manager
        self.run_ids: dict[str, str] = {}
        self.reused: dict[str, bool] = {}

    def __call__(
        self, entry_point: str, params: Mapping[str, Any], still_valid: Callable[[Run], bool]
    ) -> Run:
        found = find_finished_run(entry_point, params, self.experiment_id, still_valid)
        self.reused[entry_point] = found is not None
        if found is None:
            _log.info("running step %s with %s", entry_point, dict(params))
            found = self.launch(entry_point, params)
        else:
            _log.info("reusing run %s for step %s", found.info.run_id, entry_point)
        self.run_ids[entry_point] = found.info.run_id
        return found


    def launch(self, entry_point: str, params: Mapping[str, Any]) -> Run:
        """Run the step as a child ``mlflow run``; a failed step is a one-line PitotError
        with the step's own error (its run's ``error`` tag)."""
        started = int(time.time() * 1000)
        try:
            submitted = mlflow.projects.run(
                self.project_uri, entry_point, parameters={k: str(v) for k, v in params.items()},
                env_manager=self.env_manager, experiment_id=self.experiment_id,
                synchronous=True)
        except ExecutionException:
            raise PitotError(f"step {entry_point} failed: "
                             f"{self.failure(entry_point, started)}") from None
        return mlflow.MlflowClient().get_run(submitted.run_id)

    def failure(self, entry_point: str, since_ms: int) -> str:
        """The error tag of the step's run that just failed."""
        query = (f"tags.`{names.TAG_ENTRY_POINT}` = '{entry_point}' "
                 f"and attributes.start_time >= {since_ms}")
        runs = mlflow.MlflowClient().search_runs(
            [self.experiment_id], query, order_by=["attributes.start_time DESC"], max_results=5)
        for run in runs:
            if names.TAG_ERROR in run.data.tags:
                return run.data.tags[names.TAG_ERROR]
        return "see the output above"


def find_finished_run(
    entry_point: str, params: Mapping[str, Any], experiment_id: str,
    still_valid: Callable[[Run], bool] = lambda run: True,
) -> Run | None:
    """The newest FINISHED run of ``entry_point`` with exactly ``params`` (as MLflow logged
    them) and this code version, whose outputs ``still_valid`` accepts; None if there is none."""
    query = (f"tags.`{names.TAG_ENTRY_POINT}` = '{entry_point}' "
             f"and attributes.status = 'FINISHED' "
             f"and tags.`{names.TAG_SOURCE_VERSION}` = '{source_version()}'")
    runs = mlflow.MlflowClient().search_runs(
        [experiment_id], query, order_by=["attributes.start_time DESC"], max_results=200)
    for run in runs:
        if _same_params(run.data.params, params) and _safely(still_valid, run):
            return run
    return None


def _same_params(logged: Mapping[str, str], wanted: Mapping[str, Any]) -> bool:
    """MLflow logs a project's parameters shell-quoted (``''`` for empty): accept either."""
    return all(logged.get(k) in (str(v), shlex.quote(str(v))) for k, v in wanted.items())


def _safely(check: Callable[[Run], bool], run: Run) -> bool:
    try:
        return bool(check(run))
    except (PitotError, OSError, KeyError):
        return False


def _data_is_unchanged(run: Run) -> bool:
    """The data run's directory still holds data with the fingerprint it logged."""
    params = run.data.params
    dataset = load_dataset(params[names.PARAM_DATA_DIR])
    return bool(data_fingerprint(dataset)["fingerprint"] == params[names.PARAM_DATA_FINGERPRINT])


def _split_file_exists(spec: PipelineSpec) -> Callable[[Run], bool]:
    path = split_path(Path(spec.splits_dir).resolve(), spec.level, spec.replicate)
    return lambda run: path.is_file()
