"""The MLflow parent run of one ``pitot-tf search`` invocation, and its summary of the study.

The parent run holds the settings (study, storage, target, workers, overrides) and the study
file as an artifact; when the workers are done it gets the best trial's params and metrics
and tags ``best_run_id`` / ``best_trial_number`` (single objective), or the Pareto front as
``pareto_front.csv`` and tag ``pareto_run_ids`` (several objectives). Under ``mlflow run``
(``MLFLOW_RUN_ID`` set) the project's run is the parent. The parent run is in experiment
``pitot`` unless another is named, like training runs, so that trials and training runs can be
compared side by side; its metrics are the best trial's, so the study reads at top level.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import mlflow
import optuna
import pandas as pd
from mlflow import MlflowClient

from pitot_tf.search.objective import ATTR_RUN_ID, TAG_STUDY
from pitot_tf.search.studies import StudySpec
from pitot_tf.tracking.experiments import (
    experiment_id_for,
    mark_model_training,
    requested_experiment,
)
from pitot_tf.tracking.run_log import log_params_to
from pitot_tf.tracking.runs import standard_tags

SCORE_ATTRS = ("best_step", "train_wall_s", "steps_per_s")


@dataclass(frozen=True)
class ParentRun:
    run_id: str
    experiment_id: str
    tracking_uri: str


@contextmanager
def parent_run(spec: StudySpec, experiment: str | None = None) -> Iterator[ParentRun]:
    """Start (or, under ``mlflow run``, resume) the parent run; FAILED if the body raises."""
    tracking_uri = mlflow.get_tracking_uri()
    project_run = os.environ.pop("MLFLOW_RUN_ID", None)  # trials must not resume it
    tags = {**standard_tags("search"), TAG_STUDY: spec.name, "preset": spec.preset,
            "level": f"{spec.level:g}"}
    if project_run:
        context = mlflow.start_run(run_id=project_run, tags=tags)
    else:
        experiment_id = experiment_id_for(requested_experiment(experiment))
        context = mlflow.start_run(experiment_id=experiment_id, run_name=f"search {spec.name}",
                                   nested=mlflow.active_run() is not None, tags=tags)
    with context as run:
        mark_model_training(run.info.experiment_id)
        yield ParentRun(run.info.run_id, run.info.experiment_id, tracking_uri)


def existing_parent(run_id: str) -> ParentRun:
    """The parent run a ``--workers`` copy nests its trials under (its coordinator's)."""
    tracking_uri = mlflow.get_tracking_uri()
    run = MlflowClient(tracking_uri).get_run(run_id)
    return ParentRun(run_id, run.info.experiment_id, tracking_uri)


def log_settings(run: ParentRun, spec: StudySpec, settings: Mapping[str, Any]) -> None:
    """Search settings as params (named like the MLproject's ``search`` parameters, so that
``mlflow run`` does not log them twice) and the study file as an artifact."""
    client = MlflowClient(run.tracking_uri)
    log_params_to(client, run.run_id, {k: str(v)[:6000] for k, v in settings.items()})
    client.log_text(run.run_id, spec.path.read_text(), f"study/{spec.path.name}")


def log_study_result(run: ParentRun, study: optuna.Study, spec: StudySpec) -> None:
    """Best trial (or Pareto front) of the whole study onto the parent run."""
    client = MlflowClient(run.tracking_uri)
    finished = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not finished:
        client.set_tag(run.run_id, "best_run_id", "none (no trial completed)")
        return
    if spec.multi_objective:
        _log_pareto_front(client, run, study, spec)
        return
    best = study.best_trial
    log_params_to(client, run.run_id, {f"best.{k}": v for k, v in best.params.items()})
    for key, value in trial_metrics(best).items():
        client.log_metric(run.run_id, key, value)
    client.set_tag(run.run_id, "best_trial_number", str(best.number))
    client.set_tag(run.run_id, "best_run_id", str(best.user_attrs.get(ATTR_RUN_ID)))


def trial_metrics(trial: optuna.trial.FrozenTrial) -> dict[str, float]:
    """The trial's scores (user attributes ``val_*``, ``best_step``, ...; older studies kept
    them in one ``metrics`` attribute)."""
    metrics = dict(trial.user_attrs.get("metrics") or {})
    metrics.update({k: v for k, v in trial.user_attrs.items()
                    if k.startswith("val_") or k in SCORE_ATTRS})
    return {str(k): float(v) for k, v in metrics.items()}


def pareto_front(study: optuna.Study, spec: StudySpec) -> pd.DataFrame:
    """One row per Pareto-optimal trial: number, metrics, params, MLflow run id."""
    rows = []
    for trial in sorted(study.best_trials, key=lambda t: t.number):
        rows.append({
            "trial": trial.number,
            **dict(zip(spec.metric_names, trial.values or [], strict=False)),
            **{f"param.{k}": v for k, v in trial.params.items()},
            "mlflow_run_id": trial.user_attrs.get("mlflow_run_id"),
        })
    return pd.DataFrame(rows)


def _log_pareto_front(client: MlflowClient, run: ParentRun, study: optuna.Study,
                      spec: StudySpec) -> None:
    front = pareto_front(study, spec)
    client.log_text(run.run_id, front.to_csv(index=False), "pareto_front.csv")
    client.log_metric(run.run_id, "pareto_size", float(len(front)))
    client.set_tag(run.run_id, "pareto_trial_numbers", json.dumps(front["trial"].tolist()))
    client.set_tag(run.run_id, "pareto_run_ids", ",".join(map(str, front["mlflow_run_id"])))
