"""What the MLflow parent run of a ``pitot-tf search`` invocation records about its study.

The settings (params named like the MLproject's ``search`` parameters, so that ``mlflow run``
does not log them twice) and the study file; when the workers are done, the best trial's
params (``best.<key>``), metrics and tags ``best_run_id`` / ``best_trial_number``, or with
several objectives the Pareto front (``pareto_front.csv``, tag ``pareto_run_ids``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import mlflow
import optuna
import pandas as pd

from pitot_tf.search.objective import ATTR_RUN_ID
from pitot_tf.search.studies import StudySpec
from pitot_tf.tracking.run_log import log_metrics, log_params


def log_settings(spec: StudySpec, settings: Mapping[str, Any]) -> None:
    """The search settings as params and the study file as an artifact, on the active run."""
    log_params({k: str(v)[:6000] for k, v in settings.items()})
    mlflow.log_text(spec.path.read_text(), f"study/{spec.path.name}")


def log_study_result(study: optuna.Study, spec: StudySpec) -> None:
    """The best trial (or the Pareto front) of the whole study, on the active run."""
    if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        mlflow.set_tag("best_run_id", "none (no trial completed)")
    elif spec.multi_objective:
        front = pd.DataFrame([{
            "trial": trial.number, **dict(zip(spec.metric_names, trial.values, strict=True)),
            **{f"param.{k}": v for k, v in trial.params.items()},
            "mlflow_run_id": trial.user_attrs.get(ATTR_RUN_ID),
        } for trial in sorted(study.best_trials, key=lambda t: t.number)])
        mlflow.log_text(front.to_csv(index=False), "pareto_front.csv")
        mlflow.log_metric("pareto_size", float(len(front)))
        mlflow.set_tags({"pareto_trial_numbers": json.dumps(front["trial"].tolist()),
                         "pareto_run_ids": ",".join(map(str, front["mlflow_run_id"]))})
    else:
        best = study.best_trial
        log_params({f"best.{k}": v for k, v in best.params.items()})
        log_metrics(trial_metrics(best))
        mlflow.set_tags({"best_trial_number": str(best.number),
                         "best_run_id": str(best.user_attrs.get(ATTR_RUN_ID))})


def trial_metrics(trial: optuna.trial.FrozenTrial) -> dict[str, float]:
    """The trial's scores: its user attributes ``val_*``, ``best_step``, ... ."""
    return {key: float(value) for key, value in trial.user_attrs.items()
            if key.startswith("val_") or key in ("best_step", "train_wall_s", "steps_per_s")}
