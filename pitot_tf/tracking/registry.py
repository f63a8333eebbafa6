"""Register a run's ``pyfunc-model`` in the MLflow model registry and point an alias at it,
so that orchestrators load ``models:/<name>@<alias>`` (e.g. ``models:/pitot@champion``)."""

from __future__ import annotations

from dataclasses import dataclass

import mlflow

from pitot_tf.errors import ConfigError
from pitot_tf.tracking.names import PYFUNC_NAME


@dataclass(frozen=True)
class Registration:
    """A registered model version, and the URI to load it by."""

    name: str
    version: str
    alias: str | None

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@{self.alias}" if self.alias else \
            f"models:/{self.name}/{self.version}"


def register_run_model(
    run_id: str, name: str, alias: str | None = None, artifact: str = PYFUNC_NAME
) -> Registration:
    """Register ``runs:/<run_id>/<artifact>`` as a new version of ``name`` (created if new)
    and, when ``alias`` is given, move that alias to the new version. Only a FINISHED run
    qualifies, so a model of a crashed or killed run can never be registered."""
    if not name.strip():
        raise ConfigError("registered model name must not be empty")
    if alias is not None and (not alias.strip() or alias.lower().startswith("v")
                              and alias[1:].isdigit()):
        raise ConfigError(f"alias '{alias}' is not allowed (empty, or looks like a version)")
    status = mlflow.MlflowClient().get_run(run_id).info.status
    if status != "FINISHED":
        raise ConfigError(f"run {run_id} is {status}: only a FINISHED run's model is registered")
    version = mlflow.register_model(f"runs:/{run_id}/{artifact}", name)
    if alias:
        mlflow.MlflowClient().set_registered_model_alias(name, alias, version.version)
    return Registration(name, str(version.version), alias)
