"""The training data as an MLflow dataset input of the run (``mlflow.log_input``).

MLflow shows a run's inputs by name, digest and source, and links them to the models the run
logs. The digest is the data fingerprint
(:func:`~pitot_tf.tracking.fingerprint.data_fingerprint`: hashes of the files read and the
shapes), so two runs on the same data show the same digest; the source is the data folder,
or ``packaged published data`` for the dataset shipped in the package (its folder is an
install detail).

Workers that start runs at once on the same data race to create the one dataset record of an
experiment (MLflow looks it up, then inserts it): the loser's insert breaks the store's unique
key. :func:`log_training_data` then logs again, and finds the record the winner made.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

import mlflow
from mlflow.data.code_dataset_source import CodeDatasetSource
from mlflow.data.dataset_source import DatasetSource
from mlflow.data.dataset_source_registry import get_registered_sources
from mlflow.data.meta_dataset import MetaDataset
from mlflow.exceptions import MlflowException

from pitot_tf.data.packaged import PUBLISHED_DIR

#: The context MLflow records the input under.
TRAINING_CONTEXT = "training"
PACKAGED_SOURCE = "packaged published data"
#: How often the input is logged before a lost race to create its record is an error.
LOG_ATTEMPTS = 4
#: What a database says when an insert breaks a unique key (SQLite, PostgreSQL, MySQL).
_DUPLICATE_KEY = ("UNIQUE constraint failed", "UniqueViolation", "duplicate key",
                  "Duplicate entry", "IntegrityError")


def training_dataset(fingerprint: dict[str, Any]) -> MetaDataset:
    """The dataset of :func:`data_fingerprint` output: named after its folder (``published``
    for the packaged data), digest the fingerprint."""
    directory = fingerprint.get("directory")
    name = Path(directory).name if directory else "pitot-data"
    # MetaDataset is concrete at run time (``profile`` is None); mypy sees it abstract.
    return MetaDataset(  # type: ignore[abstract]
        data_source(directory), name=name, digest=fingerprint["fingerprint"])


def data_source(directory: str | None) -> DatasetSource:
    """The folder as a local source, or :data:`PACKAGED_SOURCE`."""
    if directory is None or Path(directory).resolve() == PUBLISHED_DIR:
        return CodeDatasetSource({"data": PACKAGED_SOURCE})
    # The class MLflow registers for local folders (resolving by path warns: two match).
    sources: list[Any] = list(get_registered_sources())
    local = next(s for s in sources if s.__name__ == "LocalArtifactDatasetSource")
    return cast(DatasetSource, local(str(Path(directory).resolve())))


def log_training_data(fingerprint: dict[str, Any]) -> None:
    """Log the training data as the active run's input, context ``training``; again (a few
    times) when another run created its dataset record at the same moment."""
    dataset = training_dataset(fingerprint)
    for attempt in range(1, LOG_ATTEMPTS + 1):
        try:
            mlflow.log_input(dataset, context=TRAINING_CONTEXT)
            return
        except MlflowException as error:
            if attempt == LOG_ATTEMPTS or not any(m in str(error) for m in _DUPLICATE_KEY):
                raise
            time.sleep(0.1 * attempt)
