"""Log a trained model twice: the Keras model (``model``) and the ``pyfunc-model`` product.

Both are logged with explicit pip requirements (the installed versions of what they import),
so MLflow does not load the model in a subprocess to infer them, and with a signature.
The pyfunc also carries the ``pitot_tf`` package (``code_paths``) so it loads where the
package is not installed.
"""

from __future__ import annotations

import tempfile
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import keras
import mlflow
import numpy as np
from mlflow.models import ModelSignature, infer_signature
from mlflow.types.schema import AnyType, ColSpec, ParamSchema, ParamSpec, Schema

from pitot_tf.conformal.evaluate import Evaluation
from pitot_tf.data.counts import count_encoding
from pitot_tf.data.dataset import Dataset
from pitot_tf.serving.pyfunc import MODEL_FROM_CODE, calibration_state, write_artifacts
from pitot_tf.tracking.fingerprint import PACKAGE_ROOT
from pitot_tf.tracking.names import MODEL_NAME, PYFUNC_NAME
from pitot_tf.training.batches import max_interferers

_RUNTIME_PACKAGES = ("keras", "tensorflow-cpu", "tensorflow", "numpy", "pandas", "pyyaml",
                     "mlflow")


def pip_requirements() -> list[str]:
    """``name==version`` of the installed packages a loaded model needs."""
    pins = []
    for name in _RUNTIME_PACKAGES:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def keras_signature(model: keras.Model, width: int) -> ModelSignature:
    """Inputs ``platform``, ``workload`` (int32, (n,)) and ``interferers`` (int32, (n, J),
    -1 = none); output log runtime (float32, (n, heads))."""
    example = {
        "platform": np.zeros(2, np.int32), "workload": np.zeros(2, np.int32),
        "interferers": np.full((2, max(width, 1)), -1, np.int32),
    }
    return infer_signature(example, np.asarray(model.predict(example, verbose=0)))


def pyfunc_signature() -> ModelSignature:
    """The table the pyfunc takes and returns (see :mod:`pitot_tf.serving.pyfunc`)."""
    inputs = Schema([
        ColSpec("string", "workload"), ColSpec("string", "platform"),
        ColSpec(AnyType(), "co_runners", required=False),
        ColSpec("double", "alpha", required=False),
        ColSpec(AnyType(), "workload_features", required=False),
        ColSpec(AnyType(), "opcode_counts", required=False),
    ])
    outputs = Schema([
        ColSpec("string", "workload"), ColSpec("string", "platform"),
        ColSpec("string", "co_runners"), ColSpec("double", "alpha"),
        ColSpec("double", "predicted_runtime_s"), ColSpec("double", "upper_bound_s"),
        ColSpec("string", "calibration"), ColSpec("string", "note"),
    ])
    answer_form = ParamSchema([ParamSpec("orient", "string", "records")])  # or "columns"
    return ModelSignature(inputs, outputs, params=answer_form)


def pyfunc_state(dataset: Dataset, evaluation: Evaluation) -> dict[str, Any]:
    """Calibration JSON for the pyfunc: every evaluated objective's bound by degree, and how
    the dataset encodes opcode counts (so a served model encodes a new workload's counts)."""
    bounds = {name: (dataset.objectives[name].degree, bound)
              for name, bound in evaluation.bounds.items()}
    return calibration_state(dataset.workloads.names, dataset.platforms.names,
                             max_interferers(dataset), bounds, dataset.unit,
                             evaluation.cold_bounds, count_encoding(dataset))


def log_models(model: keras.Model, dataset: Dataset, evaluation: Evaluation) -> None:
    """Log the Keras model and then the pyfunc model to the active run."""
    requirements = pip_requirements()
    mlflow.keras.log_model(
        model, name=MODEL_NAME, signature=keras_signature(model, max_interferers(dataset)),
        pip_requirements=requirements)
    with tempfile.TemporaryDirectory(prefix="pitot-pyfunc-") as folder:
        artifacts = write_artifacts(model, pyfunc_state(dataset, evaluation), Path(folder))
        with warnings.catch_warnings():  # the signature is explicit: no example needed
            warnings.filterwarnings("ignore", message=".*An input example was not provided")
            _log_pyfunc(artifacts, requirements)


def _log_pyfunc(artifacts: dict[str, str], requirements: list[str]) -> None:
    mlflow.pyfunc.log_model(
        name=PYFUNC_NAME, python_model=str(MODEL_FROM_CODE),
        artifacts=artifacts, code_paths=[str(PACKAGE_ROOT)], signature=pyfunc_signature(),
        pip_requirements=requirements)
