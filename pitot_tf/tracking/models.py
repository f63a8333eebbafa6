"""Log a trained model twice: the Keras model (``model``) and the ``pyfunc-model`` product.

For a Pitot model the pyfunc carries numpy tables (computed here and checked against the Keras
model, :func:`~pitot_tf.serving.keras_predictor.predictor_for`) and is logged with requirements
that name only numpy, pandas, mlflow-skinny (which brings MLflow's scoring server, FastAPI and
uvicorn) and orjson (the model's own JSON path under that server): it loads and serves without
TensorFlow. Other model kinds (the monolith and attention baselines) are served through their
Keras model and need Keras. Both models are logged with explicit pip requirements (installed
versions), so MLflow does not load the model in a subprocess to infer them, with a signature
and a two-row ``input_example`` (the pyfunc's is checked by MLflow, predicting it in this
process: about 0.05 s; the Keras model's is the one its signature was inferred from). The
pyfunc also carries the ``pitot_tf`` package (``code_paths``) so it loads where the package is
not installed.
"""

from __future__ import annotations

import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import keras
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import Model, ModelSignature, infer_signature
from mlflow.types.schema import AnyType, ColSpec, ParamSchema, ParamSpec, Schema

from pitot_tf.conformal.calibration import ConformalUpperBound
from pitot_tf.conformal.evaluate import Evaluation
from pitot_tf.conformal.few_shot import fold_in_bounds
from pitot_tf.data.counts import count_encoding
from pitot_tf.data.dataset import Dataset
from pitot_tf.models.numpy_predictor import NumpyPitot
from pitot_tf.serving.keras_predictor import predictor_for
from pitot_tf.serving.predictor import Predictor
from pitot_tf.serving.pyfunc_artifacts import (
    MODEL_FROM_CODE,
    calibration_state,
    write_artifacts,
)
from pitot_tf.tracking.fingerprint import PACKAGE_ROOT
from pitot_tf.tracking.names import MODEL_NAME, PYFUNC_NAME
from pitot_tf.training.batches import max_interferers

#: What the Keras model (and a pyfunc served through Keras) needs installed.
KERAS_PACKAGES = ("keras", "tensorflow-cpu", "tensorflow", "numpy", "pandas", "pyyaml",
                  "mlflow")
#: What the numpy pyfunc needs to load and to be served by ``mlflow models serve`` (orjson:
#: the direct JSON path of :mod:`~pitot_tf.serving.mlflow_guard`).
SERVING_PACKAGES = ("mlflow-skinny", "numpy", "pandas", "orjson")


def pip_requirements(packages: tuple[str, ...] = KERAS_PACKAGES) -> list[str]:
    """``name==version`` of those of ``packages`` that are installed (``mlflow-skinny`` at
    the installed MLflow's version where only the full ``mlflow`` is installed)."""
    pins = []
    for name in packages:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            if name == "mlflow-skinny":
                pins.append(f"{name}=={mlflow.__version__}")
    return pins


class KerasFlavor:
    """``mlflow.keras`` for ``Model.log``, saving into a folder made first: MLflow 3.17's
    ``mlflow.keras.save_model`` writes the input example before it creates the model's folder
    (a FileNotFoundError with any ``input_example``). ``Model.log`` hands the flavour its own
    options too; ``validate_serving_input`` is not one of ``save_model``'s."""

    __name__ = "mlflow.keras"

    @staticmethod
    def save_model(path: str, **kwargs: Any) -> None:
        os.makedirs(path, exist_ok=True)
        kwargs.pop("validate_serving_input", None)
        mlflow.keras.save_model(path=path, **kwargs)


def keras_example(dataset: Dataset) -> dict[str, np.ndarray]:
    """Two rows of the Keras model's index inputs: workloads 0 and 1 on platforms 0 and 1,
    the second beside workload 0 where the model takes co-runners."""
    width = max(max_interferers(dataset), 1)
    interferers = np.full((2, width), -1, np.int32)
    if max_interferers(dataset) and len(dataset.workloads) > 1:
        interferers[1, 0] = 0
    return {"platform": np.minimum(np.arange(2), len(dataset.platforms) - 1).astype(np.int32),
            "workload": np.minimum(np.arange(2), len(dataset.workloads) - 1).astype(np.int32),
            "interferers": interferers}


def keras_signature(model: keras.Model, example: dict[str, np.ndarray]) -> ModelSignature:
    """Inputs ``platform``, ``workload`` (int32, (n,)) and ``interferers`` (int32, (n, J),
    -1 = none); output log runtime (float32, (n, heads))."""
    return infer_signature(example, np.asarray(model.predict(example, verbose=0)))


def pyfunc_example(dataset: Dataset) -> pd.DataFrame:
    """Two request rows by real names: one workload alone, one beside a co-runner (where the
    model takes co-runners), at two alphas."""
    workloads = [str(name) for name in dataset.workloads.names[:2]]
    platforms = [str(name) for name in dataset.platforms.names[:2]]
    second = workloads[-1]
    co_runner = workloads[0] if max_interferers(dataset) else ""
    return pd.DataFrame({"workload": [workloads[0], second],
                         "platform": [platforms[0], platforms[-1]],
                         "co_runners": ["", co_runner], "alpha": [0.05, 0.1]})


def pyfunc_signature() -> ModelSignature:
    """The table the pyfunc takes and returns (see :mod:`pitot_tf.serving.pyfunc`)."""
    inputs = Schema([
        ColSpec("string", "workload"), ColSpec("string", "platform"),
        ColSpec(AnyType(), "co_runners", required=False),
        ColSpec("double", "alpha", required=False),
        ColSpec(AnyType(), "workload_features", required=False),
        ColSpec(AnyType(), "opcode_counts", required=False),
        ColSpec(AnyType(), "measured", required=False),
        ColSpec(AnyType(), "platform_features", required=False),
    ])
    outputs = Schema([
        ColSpec("string", "workload"), ColSpec("string", "platform"),
        ColSpec("string", "co_runners"), ColSpec("double", "alpha"),
        ColSpec("double", "predicted_runtime_s"), ColSpec("double", "upper_bound_s"),
        ColSpec("string", "calibration"), ColSpec("string", "note"),
    ])
    answer_form = ParamSchema([ParamSpec("orient", "string", "records")])  # or "columns"
    return ModelSignature(inputs, outputs, params=answer_form)


def pyfunc_state(dataset: Dataset, evaluation: Evaluation,
                 fold_in: dict[str, ConformalUpperBound] | None = None,
                 platform_fold_in: dict[str, ConformalUpperBound] | None = None,
                 ) -> dict[str, Any]:
    """Calibration JSON for the pyfunc: every evaluated objective's bound by degree (and its
    bound after k measurements of a workload, ``fold_in``, or of workloads on a platform,
    ``platform_fold_in``), and how the dataset encodes opcode counts (so a served model
    encodes a new workload's counts)."""
    bounds = {name: (dataset.objectives[name].degree, bound)
              for name, bound in evaluation.bounds.items()}
    return calibration_state(dataset.workloads.names, dataset.platforms.names,
                             max_interferers(dataset), bounds, dataset.unit,
                             evaluation.cold_bounds, count_encoding(dataset), fold_in,
                             evaluation.kind_bounds, platform_fold_in)


def served_parts(model: keras.Model, dataset: Dataset,
                 evaluation: Evaluation) -> tuple[Predictor, dict[str, Any]]:
    """What the pyfunc serves: the model's predictor (numpy tables for a Pitot model) and
    its calibration JSON. A Pitot model evaluated on held-out validation workloads (a
    cold-workload split; platforms: a cold-platform split) gets that axis's fold-in prior
    calibrated on them and bounds after k measured runs
    (:func:`~pitot_tf.conformal.few_shot.fold_in_bounds`)."""
    predictor = predictor_for(model)
    after: dict[str, dict[str, ConformalUpperBound]] = {}
    if isinstance(predictor, NumpyPitot):
        alphas = sorted({a for bound in evaluation.bounds.values() for a in bound.alphas})
        for axis, rows in (("workload", evaluation.cold_rows),
                           ("platform", evaluation.cold_platform_rows)):
            if rows:
                predictor, after[axis] = fold_in_bounds(predictor, dataset, rows, alphas,
                                                        axis=axis)
    return predictor, pyfunc_state(dataset, evaluation, after.get("workload"),
                                   after.get("platform"))


def log_models(model: keras.Model, dataset: Dataset, evaluation: Evaluation) -> list[str]:
    """Log the Keras model and then the pyfunc model to the active run; their LoggedModel
    ids (Keras first), to link the evaluation's metrics to."""
    example = keras_example(dataset)
    keras_info = Model.log(
        artifact_path=None, name=MODEL_NAME, flavor=KerasFlavor, flavor_name="mlflow.keras",
        model=model, signature=keras_signature(model, example), input_example=example,
        pip_requirements=pip_requirements(KERAS_PACKAGES),
        # The signature was just inferred by running the model on this very example; MLflow's
        # check would run it again (0.7 s) and draw a Keras progress bar in the run's output.
        validate_serving_input=False)
    predictor, state = served_parts(model, dataset, evaluation)
    packages = SERVING_PACKAGES if isinstance(predictor, NumpyPitot) else KERAS_PACKAGES
    with tempfile.TemporaryDirectory(prefix="pitot-pyfunc-") as folder:
        artifacts = write_artifacts(model, state, Path(folder), predictor)
        pyfunc_info = mlflow.pyfunc.log_model(
            name=PYFUNC_NAME, python_model=str(MODEL_FROM_CODE), artifacts=artifacts,
            code_paths=[str(PACKAGE_ROOT)], signature=pyfunc_signature(),
            input_example=pyfunc_example(dataset), pip_requirements=pip_requirements(packages))
    return [keras_info.model_id, pyfunc_info.model_id]
