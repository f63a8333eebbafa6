"""Which MLflow experiment runs go to, and how to open it in the MLflow UI.

Runs go to experiment ``pitot`` unless a name is given (``--experiment``, the MLproject's
``experiment`` parameter, ``MLFLOW_EXPERIMENT_NAME``/``MLFLOW_EXPERIMENT_ID``). Every
experiment a run lands in is tagged ``mlflow.experimentKind = custom_model_development``, the
tag MLflow's own UI writes when a user marks an experiment as "Machine learning"; MLflow 3.17's
UI chooses between its GenAI view and its training-runs view per browser, so the link we print
also carries ``?workflowType=machine_learning`` (see docs/mlflow.md).

``mlflow run`` without ``--experiment-name`` creates its run in ``Default`` before our code
starts; :func:`adopt_project_run` then moves the work to a run in the requested experiment.
"""

from __future__ import annotations

import os
import shlex

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from pitot_tf.db_drivers import TRACKING_VARIABLE
from pitot_tf.redaction import has_secret, redact

DEFAULT_EXPERIMENT = "pitot"
TAG_EXPERIMENT_KIND = "mlflow.experimentKind"
KIND_MODEL_TRAINING = "custom_model_development"
TAG_MOVED_TO = "pitot.moved_to"
TAG_MOVED_FROM = "pitot.moved_from"
TAG_NOTE = "mlflow.note.content"
DEFAULT_EXPERIMENT_ID = "0"


def requested_experiment(name: str | None = None) -> str:
    """``name``, else ``MLFLOW_EXPERIMENT_NAME``, else ``pitot``."""
    return name or os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT


def experiment_id_for(name: str, client: MlflowClient | None = None) -> str:
    """The id of experiment ``name`` (created if new), marked as a model-training experiment."""
    from pitot_tf.errors import ConfigError

    client = client or MlflowClient()
    found = client.get_experiment_by_name(name)
    if found is None:
        try:
            created = str(client.create_experiment(name))
        except MlflowException as error:
            # Another worker (on another machine) created it between the lookup and the create.
            found = client.get_experiment_by_name(name)
            if error.error_code != "RESOURCE_ALREADY_EXISTS" or found is None:
                raise
        else:
            return _marked(created, client)
    if found.lifecycle_stage == "deleted":
        raise ConfigError(f"experiment '{name}' is deleted; restore it or name another one")
    return _marked(str(found.experiment_id), client)


def _marked(experiment_id: str, client: MlflowClient) -> str:
    """``experiment_id``, after tagging the experiment as model training."""
    mark_model_training(experiment_id, client)
    return experiment_id


def mark_model_training(experiment_id: str, client: MlflowClient | None = None) -> None:
    """Tag the experiment as model training (not GenAI) unless it already has a kind.

    Two processes starting at once may both find the tag missing; the tracking server's store
    then refuses the second insert (a unique-key error), which is fine once the tag is there."""
    client = client or MlflowClient()
    if TAG_EXPERIMENT_KIND in client.get_experiment(experiment_id).tags:
        return
    try:
        client.set_experiment_tag(experiment_id, TAG_EXPERIMENT_KIND, KIND_MODEL_TRAINING)
    except MlflowException:
        if TAG_EXPERIMENT_KIND not in client.get_experiment(experiment_id).tags:
            raise


def adopt_project_run(experiment: str | None) -> str | None:
    """Under ``mlflow run`` without ``--experiment-name`` the project's run sits in
    ``Default``: start a run with the same params and tags in the requested experiment (default
    ``pitot``), point ``MLFLOW_RUN_ID`` at it and leave a note on the first. Returns the id now
    in ``MLFLOW_RUN_ID`` (None outside ``mlflow run``)."""
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id:
        return None
    client = MlflowClient()
    stub = client.get_run(run_id)
    target = requested_experiment(experiment)
    if stub.info.experiment_id != DEFAULT_EXPERIMENT_ID or target == "Default":
        mark_model_training(stub.info.experiment_id, client)
        return run_id
    experiment_id = experiment_id_for(target, client)
    tags = {k: v for k, v in stub.data.tags.items() if not k.startswith("mlflow.log-model")}
    tags[TAG_MOVED_FROM] = run_id
    moved = client.create_run(experiment_id, tags=tags, run_name=stub.info.run_name)
    from mlflow.entities import Param

    params = [Param(k, v) for k, v in stub.data.params.items()]
    if params:
        client.log_batch(moved.info.run_id, params=params)
    client.set_tag(run_id, TAG_MOVED_TO, moved.info.run_id)
    client.set_tag(run_id, TAG_NOTE, f"This run continues in experiment '{target}' as run "
                                     f"{moved.info.run_id}.")
    os.environ["MLFLOW_RUN_ID"] = moved.info.run_id
    return moved.info.run_id


def shown_tracking_uri() -> str:
    """The tracking URI as it may be printed: with its password or token hidden."""
    return redact(mlflow.get_tracking_uri())


def ui_command() -> str:
    """The shell command that opens this tracking store in the MLflow UI. A URI that holds a
    secret is never printed: the command reads it from ``$MLFLOW_TRACKING_URI`` where it came
    from, else shows it redacted."""
    uri = mlflow.get_tracking_uri()
    if uri.startswith(("http://", "https://")):
        return f"open {redact(uri)}"
    if has_secret(uri) and os.environ.get(TRACKING_VARIABLE) == uri:
        return f'mlflow ui --backend-store-uri "${TRACKING_VARIABLE}"'
    return f"mlflow ui --backend-store-uri {shlex.quote(redact(uri))}"


def ui_url(experiment_id: str, run_id: str | None = None,
           base: str = "http://127.0.0.1:5000") -> str:
    """A link to the experiment's runs (or one run) in the training-runs view."""
    uri = redact(mlflow.get_tracking_uri())
    root = uri.rstrip("/") if uri.startswith(("http://", "https://")) else base
    page = f"#/experiments/{experiment_id}" + (f"/runs/{run_id}" if run_id else "")
    return f"{root}/{page}?workflowType=machine_learning"


def where_text(run_id: str) -> str:
    """Two lines for the terminal: where the run is and how to look at it."""
    run = MlflowClient().get_run(run_id)
    experiment = MlflowClient().get_experiment(run.info.experiment_id)
    return (f"MLflow: run {run_id} in experiment '{experiment.name}' "
            f"({shown_tracking_uri()})\n"
            f"open it: {ui_command()}  then {ui_url(run.info.experiment_id, run_id)}")


def is_pipeline_step(run_id: str) -> bool:
    """Whether the run is a step of the ``main`` pipeline (a child of its run)."""
    tags = MlflowClient().get_run(run_id).data.tags
    return "mlflow.parentRunId" in tags and "mlflow.project.entryPoint" in tags
