"""Where a study's trial runs go, and their Optuna state once the trial has ended.

Each replicate a trial trains is an ordinary training run made by
:func:`~pitot_tf.tracking.training.run_training` (same params, tags, config artifact, data
fingerprint and code version as ``pitot-tf train``), nested under the search's parent run and
tagged with the study and trial number. The trial keeps the run id as user attribute
``mlflow_run_id`` (``mlflow_run_ids`` when it trains several replicates). Once Optuna has
recorded the trial's final state, :class:`TrialStateTagger` tags the runs with it
(``optuna.state`` = COMPLETE, PRUNED or FAIL): a pruned trial's run ends KILLED with a
``stopped`` tag, a failed one FAILED with an ``error`` tag, as any training run would.
"""

from __future__ import annotations

from dataclasses import dataclass

import optuna
from mlflow import MlflowClient

TAG_STUDY = "optuna.study"
TAG_TRIAL = "optuna.trial_number"
TAG_STATE = "optuna.state"
ATTR_RUN_ID = "mlflow_run_id"
ATTR_RUN_IDS = "mlflow_run_ids"


@dataclass(frozen=True)
class TrialTracking:
    """The MLflow experiment and parent run that a study's trial runs go to."""

    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    study_name: str

    def tags(self, trial: optuna.Trial) -> dict[str, str]:
        return {TAG_STUDY: self.study_name, TAG_TRIAL: str(trial.number),
                TAG_STATE: "RUNNING"}

    def run_name(self, trial: optuna.Trial, replicate: int, replicates: int) -> str:
        suffix = f" r{replicate}" if replicates > 1 else ""
        return f"{self.study_name} trial {trial.number}{suffix}"


def trial_run_ids(trial: optuna.Trial | optuna.trial.FrozenTrial) -> list[str]:
    """The MLflow runs a trial made (one per replicate it trained)."""
    several = trial.user_attrs.get(ATTR_RUN_IDS)
    if several:
        return str(several).split(",")
    single = trial.user_attrs.get(ATTR_RUN_ID)
    return [str(single)] if single else []


class TrialStateTagger:
    """Optuna callback: tag a finished trial's runs with its final state."""

    def __init__(self, tracking_uri: str) -> None:
        self.client = MlflowClient(tracking_uri)

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        for run_id in trial_run_ids(trial):
            self.client.set_tag(run_id, TAG_STATE, trial.state.name)

