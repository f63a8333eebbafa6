"""One nested MLflow run per trial, written with the plain MLflow client.

The objective opens the run when the trial starts (params, tags, the trial's number) and logs
the intermediate validation loss with its step and the final metrics; the trial keeps the
run id as user attribute ``mlflow_run_id``. :class:`TrialRunLogger` is also an Optuna callback:
once Optuna has recorded the trial's final state it tags the run with it (``optuna.state`` =
COMPLETE, PRUNED or FAIL) and ends it: FINISHED, or FAILED for a failed trial (the reason is
tag ``optuna.fail_reason``). The client is used instead of the fluent API so that runs of
several worker processes can hang under one parent run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from pitot_tf.config import Config

INTERMEDIATE_METRIC = "intermediate_val_loss"
MAX_TAG = 5000


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


class TrialRunLogger:
    """Nested runs for the trials of ``study_name`` under ``parent_run_id``."""

    def __init__(self, tracking_uri: str, experiment_id: str, parent_run_id: str,
                 study_name: str, tags: Mapping[str, str] | None = None) -> None:
        self.client = MlflowClient(tracking_uri)
        self.experiment_id, self.parent_run_id = experiment_id, parent_run_id
        self.study_name = study_name
        self.tags = dict(tags or {})

    def start(self, trial: optuna.Trial) -> str:
        """Open the trial's run (tags and Optuna params); store its id on the trial."""
        tags = {
            MLFLOW_PARENT_RUN_ID: self.parent_run_id, "optuna.study": self.study_name,
            "optuna.trial_number": str(trial.number), "optuna.state": "RUNNING", **self.tags,
        }
        run = self.client.create_run(self.experiment_id, tags=tags,
                                     run_name=f"{self.study_name}-trial-{trial.number}")
        run_id = run.info.run_id
        trial.set_user_attr("mlflow_run_id", run_id)
        self.client.log_batch(run_id, params=[Param(k, str(v)) for k, v in trial.params.items()])
        return run_id

    def log_config(self, run_id: str, config: Config, skip: Mapping[str, Any]) -> None:
        """The trial's whole resolved config as params (keys in ``skip`` are logged already)."""
        params = [Param(k, str(v)) for k, v in config.flat().items() if k not in skip]
        self.client.log_batch(run_id, params=params)

    def intermediate(self, run_id: str, step: int, value: float) -> None:
        self.client.log_metric(run_id, INTERMEDIATE_METRIC, value, step=step)

    def result(self, run_id: str, metrics: Mapping[str, float]) -> None:
        now = _now_ms()
        self.client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0)
                                               for k, v in metrics.items()])

    def fail_reason(self, run_id: str, reason: str) -> None:
        self.client.set_tag(run_id, "optuna.fail_reason", reason[:MAX_TAG])

    def end(self, run_id: str, state: optuna.trial.TrialState) -> None:
        end_run(self.client, run_id, state)

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Optuna callback: tag the final state and end the run."""
        run_id = trial.user_attrs.get("mlflow_run_id")
        if run_id is not None:
            self.end(run_id, trial.state)


def end_run(client: MlflowClient, run_id: str, state: optuna.trial.TrialState) -> None:
    """Tag a trial's run with its Optuna state and terminate it (FAILED for FAIL)."""
    client.set_tag(run_id, "optuna.state", state.name)
    failed = state == optuna.trial.TrialState.FAIL
    client.set_terminated(run_id, status="FAILED" if failed else "FINISHED")
