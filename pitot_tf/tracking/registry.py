"""Register a run's ``pyfunc-model`` in the MLflow model registry and point an alias at it,
so that orchestrators load ``models:/<name>@<alias>`` (e.g. ``models:/pitot@champion``).

Each version is tagged with what it was trained on and how well it did (:func:`version_tags`),
so that the registry alone tells versions apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mlflow

from pitot_tf.errors import ConfigError
from pitot_tf.tracking import names
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
    client = mlflow.MlflowClient()
    for key, value in version_tags(client.get_run(run_id)).items():
        client.set_model_version_tag(name, str(version.version), key, value)
    if alias:
        mlflow.MlflowClient().set_registered_model_alias(name, alias, version.version)
    return Registration(name, str(version.version), alias)


#: Run tags and params copied onto a registered version, under the same names.
_VERSION_KEYS = (names.TAG_PRESET, names.TAG_LEVEL, names.TAG_REPLICATE)


def version_tags(run: Any) -> dict[str, str]:
    """A version's tags: the run's preset, level and replicate, its data digest
    (``data.fingerprint``), the run id, and every test MAPE it logged (``test_<obj>_mape``)."""
    data = run.data
    tags = {key: str(data.tags.get(key, data.params.get(key)))
            for key in _VERSION_KEYS if key in data.tags or key in data.params}
    if names.PARAM_DATA_FINGERPRINT in data.params:
        tags["data_digest"] = str(data.params[names.PARAM_DATA_FINGERPRINT])
    tags["run_id"] = str(run.info.run_id)
    for key, value in sorted(data.metrics.items()):
        if key.startswith("test_") and key.endswith("_mape"):
            tags[key] = f"{value:.6g}"
    return tags
