"""What a logged ``pyfunc-model`` carries: its calibration JSON and its model files.

:func:`calibration_state` builds the JSON the pyfunc (:mod:`pitot_tf.serving.pyfunc`) reads
its names, units and bounds from; :func:`write_artifacts` saves it beside the numpy tables
(a Pitot model) or the Keras model (any other kind), as MLflow artifacts; and the helpers
that read them back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pitot_tf.conformal.calibration import ConformalUpperBound
from pitot_tf.conformal.groups import COLD_WORKLOAD
from pitot_tf.data.counts import CountEncoding
from pitot_tf.data.units import DEFAULT_UNIT
from pitot_tf.models.numpy_predictor import NumpyPitot
from pitot_tf.models.numpy_store import save_tables
from pitot_tf.serving.cold_rows import STATE_KEYS
from pitot_tf.serving.predictor import Predictor

_logger = logging.getLogger(__name__)

#: The file MLflow runs to load the model (MLflow's "model from code":
#: :mod:`~pitot_tf.serving.pyfunc_model`), found beside this module wherever it is installed.
MODEL_FROM_CODE = Path(__file__).with_name("pyfunc_model.py")
KERAS_ARTIFACT = "keras_model"
TABLES_ARTIFACT = "numpy_tables"
TABLES_LAYOUT_ARTIFACT = "numpy_layout"
CALIBRATION_ARTIFACT = "calibration"
KERAS_FILE = "model.keras"
CALIBRATION_FILE = "calibration.json"
DEFAULT_ALPHA = 0.05
#: An objective's bound after k runs of workloads folded into a new platform, in the JSON.
PLATFORM_FOLD_IN_KEY = "platform_fold_in_bound"


def calibration_state(
    workloads: Iterable[Any], platforms: Iterable[Any], interferer_width: int,
    bounds: dict[str, tuple[int, ConformalUpperBound]], unit: str = DEFAULT_UNIT,
    cold_bounds: dict[str, ConformalUpperBound] | None = None,
    counts: CountEncoding | None = None,
    fold_in_bounds: dict[str, ConformalUpperBound] | None = None,
    kind_bounds: dict[str, dict[str, ConformalUpperBound]] | None = None,
    platform_fold_in_bounds: dict[str, ConformalUpperBound] | None = None,
) -> dict[str, Any]:
    """The JSON the pyfunc reads: axis names, the model's co-runner width, the dataset's
    runtime unit, per objective its degree and saved bound
    (``{"mf": (1, bound), "if2": (2, bound)}``) and, where given, its cold bound (new
    workloads), its bounds of other cold row kinds (``kind_bounds``: ``{"cold-platform":
    {objective: bound}, "cold-both": ...}``) and its bound after k measured runs of a new
    workload (Mondrian by the group of k; ``platform_fold_in_bounds``: of workloads on a new
    platform), and how opcode counts become workload features (``workload_counts``; absent
    if they cannot)."""
    extras = [(STATE_KEYS[kind], found) for kind, found in (kind_bounds or {}).items()
              if kind != COLD_WORKLOAD]
    extras += [("cold_bound", cold_bounds or {}), ("fold_in_bound", fold_in_bounds or {}),
               (PLATFORM_FOLD_IN_KEY, platform_fold_in_bounds or {})]
    objectives: dict[str, dict[str, Any]] = {}
    for name, (degree, bound) in bounds.items():
        objectives[name] = {"degree": degree, "bound": bound.to_dict()}
        for key, extra in extras:
            if extra and name in extra:
                objectives[name][key] = extra[name].to_dict()
    state = {
        "workloads": [str(n) for n in workloads], "platforms": [str(n) for n in platforms],
        "interferer_width": int(interferer_width), "default_alpha": DEFAULT_ALPHA,
        "runtime_unit": unit, "objectives": objectives,
    }
    if counts is not None:
        state["workload_counts"] = counts.to_dict()
    return state


def write_artifacts(model: Any, state: dict[str, Any], folder: Path,
                    predictor: Predictor | None = None) -> dict[str, str]:
    """Save what the pyfunc serves from into ``folder``; the pyfunc artifacts map. With
    ``predictor`` numpy tables (a Pitot model, checked against Keras by
    :func:`~pitot_tf.serving.keras_predictor.predictor_for`) those tables (``.npz`` and JSON),
    which load without Keras; else the Keras model. And the calibration JSON."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CALIBRATION_FILE).write_text(json.dumps(state))
    artifacts = {CALIBRATION_ARTIFACT: str(folder / CALIBRATION_FILE)}
    if isinstance(predictor, NumpyPitot):
        arrays, layout = save_tables(predictor, folder)
        return {TABLES_ARTIFACT: str(arrays), TABLES_LAYOUT_ARTIFACT: str(layout), **artifacts}
    model.save(folder / KERAS_FILE)
    return {KERAS_ARTIFACT: str(folder / KERAS_FILE), **artifacts}


def load_keras(path: str) -> Any:
    """A model kind served through Keras (not Pitot): its saved Keras model."""
    import keras

    import pitot_tf.models.build  # noqa: F401  (registers the custom layers)

    return keras.saving.load_model(path, compile=False)


def served_count_encoding(state: dict[str, Any], feature_dim: int | None) -> CountEncoding | None:
    """The saved opcode-count encoding, if any and if it makes vectors the model takes."""
    if "workload_counts" not in state:
        return None
    encoding = CountEncoding.from_dict(state["workload_counts"])
    if feature_dim is not None and len(encoding.features) != feature_dim:
        _logger.warning("saved opcode-count encoding makes %d features, the model takes %d; "
                        "opcode_counts will be refused", len(encoding.features), feature_dim)
        return None
    return encoding
