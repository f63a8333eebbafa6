"""The ``pyfunc-model``: runtime and conformal upper bound for (workload, platform, co-runners).

Input: a pandas table with columns ``workload`` and ``platform`` (names as in the dataset),
optionally ``co_runners`` (a list of workload names, or one string separated by ``;``; empty
for a workload alone) and ``alpha`` (miscoverage, default 0.05). Output: one row per input
row with ``predicted_runtime_s`` (the first head's prediction) and ``upper_bound_s`` (holds
with probability about ``1 - alpha``), ``calibration`` (which objective's margins were used)
and ``note``. The model predicts log runtimes in its dataset's unit (``runtime_unit`` in the
calibration JSON; a model logged without one is in microseconds, the published data's unit);
the answer is converted to seconds.

The margins are those calibrated on the run's validation split, per objective degree: a row
with ``k`` co-runners uses the objective of degree ``k + 1`` (``mf`` alone, ``if2`` with one
co-runner, ...); without such a calibration it falls back to the highest degree calibrated
and says so in ``note``.

Cold start: a row may give ``workload_features`` (the workload's encoded feature vector, a list
of numbers or one ``;``-separated string, in the dataset's ``f_workload`` order; for the
published data, log(1 + count) per opcode). Its workload name may then be new: the model is
extended with one row per such workload (:func:`pitot_tf.models.cold.extend_model`), predicted
from its features alone, and ``note`` says so. Its bound uses the run's calibration, which holds
for new workloads only if that run was calibrated on held-out workloads (``split --mode
cold-workload``).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from pitot_tf.conformal.calibration import ConformalUpperBound
from pitot_tf.data.units import DEFAULT_UNIT, seconds_per
from pitot_tf.errors import PredictionError
from pitot_tf.training.predict import predict_inputs

KERAS_ARTIFACT = "keras_model"
CALIBRATION_ARTIFACT = "calibration"
KERAS_FILE = "model.keras"
CALIBRATION_FILE = "calibration.json"
DEFAULT_ALPHA = 0.05
INPUT_COLUMNS = ("workload", "platform", "co_runners", "alpha", "workload_features")
COLD_NOTE = "new workload predicted from its features (cold start)"
OUTPUT_COLUMNS = ("workload", "platform", "co_runners", "alpha", "predicted_runtime_s",
                  "upper_bound_s", "calibration", "note")


def calibration_state(
    workloads: Iterable[Any], platforms: Iterable[Any], interferer_width: int,
    bounds: dict[str, tuple[int, ConformalUpperBound]], unit: str = DEFAULT_UNIT,
) -> dict[str, Any]:
    """The JSON the pyfunc reads: axis names, the model's co-runner width, the dataset's
    runtime unit and, per objective, its degree and saved bound
    (``{"mf": (1, bound), "if2": (2, bound)}``)."""
    return {
        "workloads": [str(n) for n in workloads], "platforms": [str(n) for n in platforms],
        "interferer_width": int(interferer_width), "default_alpha": DEFAULT_ALPHA,
        "runtime_unit": unit,
        "objectives": {name: {"degree": degree, "bound": bound.to_dict()}
                       for name, (degree, bound) in bounds.items()},
    }


def write_artifacts(model: Any, state: dict[str, Any], folder: Path) -> dict[str, str]:
    """Save the Keras model and the calibration into ``folder``; the pyfunc artifacts map."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / KERAS_FILE)
    (folder / CALIBRATION_FILE).write_text(json.dumps(state))
    return {KERAS_ARTIFACT: str(folder / KERAS_FILE),
            CALIBRATION_ARTIFACT: str(folder / CALIBRATION_FILE)}


class PitotRuntimeModel(PythonModel):  # type: ignore[misc]
    """Predicted runtime and conformal upper bound, in seconds, looked up by name."""

    def load_context(self, context: Any) -> None:
        import keras

        import pitot_tf.models  # noqa: F401  (registers the custom layers)

        self.model = keras.saving.load_model(context.artifacts[KERAS_ARTIFACT], compile=False)
        state = json.loads(Path(context.artifacts[CALIBRATION_ARTIFACT]).read_text())
        self.load_state(state)

    def load_state(self, state: dict[str, Any]) -> None:
        """Names, co-runner width and bounds from :func:`calibration_state` output."""
        self.workloads = {name: i for i, name in enumerate(state["workloads"])}
        self.platforms = {name: i for i, name in enumerate(state["platforms"])}
        self.width = int(state["interferer_width"])
        self.default_alpha = float(state.get("default_alpha", DEFAULT_ALPHA))
        self.seconds_per_unit = seconds_per(state.get("runtime_unit", DEFAULT_UNIT))
        self.by_degree = {
            int(info["degree"]): (name, ConformalUpperBound.from_dict(info["bound"]))
            for name, info in state["objectives"].items()
        }

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """See the module docstring for the input and output columns."""
        request = parse_request(pd.DataFrame(model_input), self.default_alpha)
        model, workloads = self.model_for(request)
        inputs = self.model_inputs(request, workloads)
        log_pred = np.asarray(predict_inputs(model, inputs), dtype=np.float64)
        answer = self.answer(request, log_pred.reshape(len(request), -1))
        cold = request["workload_features"].map(len).to_numpy() > 0
        answer.loc[cold, "note"] = [
            "; ".join(n for n in (COLD_NOTE, note) if n) for note in answer.loc[cold, "note"]
        ]
        return answer

    def model_for(self, request: pd.DataFrame) -> tuple[Any, list[dict[str, int]]]:
        """The model to ask, and per row its workload-name index: rows that give features get
        a new workload row each (appended after the dataset's), the rest use the dataset's."""
        from pitot_tf.models.cold import extend_model

        features = [np.asarray(f, dtype=np.float32) for f in request["workload_features"] if f]
        if not features:
            return self.model, [self.workloads] * len(request)
        lengths = {len(f) for f in features}
        if len(lengths) != 1:
            raise PredictionError(f"workload_features have different lengths {sorted(lengths)}")
        model = extend_model(self.model, workload_features=np.stack(features))
        indexes, added = [], len(self.workloads)
        for name, row_features in zip(request["workload"], request["workload_features"],
                                      strict=True):
            if row_features:
                indexes.append({**self.workloads, name: added})
                added += 1
            else:
                indexes.append(self.workloads)
        return model, indexes

    def model_inputs(
        self, request: pd.DataFrame, workloads: list[dict[str, int]] | None = None
    ) -> dict[str, np.ndarray]:
        """Index arrays for the model; unknown names raise PredictionError. ``workloads``
        gives each row's workload-name index (default: the dataset's)."""
        workloads = workloads or [self.workloads] * len(request)
        co_runners = [[lookup(self.workloads, n, "workload") for n in row]
                      for row in request["co_runners"]]
        width = max([self.width, *map(len, co_runners)])
        interferers = np.full((len(request), width), -1, dtype=np.int32)
        for i, row in enumerate(co_runners):
            interferers[i, :len(row)] = row
        return {
            "platform": np.asarray([lookup(self.platforms, n, "platform")
                                    for n in request["platform"]], dtype=np.int32),
            "workload": np.asarray([lookup(index, n, "workload")
                                    for index, n in zip(workloads, request["workload"],
                                                        strict=True)], dtype=np.int32),
            "interferers": interferers,
        }

    def answer(self, request: pd.DataFrame, log_pred: np.ndarray) -> pd.DataFrame:
        """The output table: runtimes and bounds in seconds, and which calibration was used."""
        degrees = 1 + request["co_runners"].map(len).to_numpy()
        chosen = {int(d): self.calibration_for(int(d)) for d in np.unique(degrees)}
        log_bound = np.zeros(len(request))
        alphas = request["alpha"].to_numpy(dtype=np.float64)
        for (degree, alpha), rows in _row_groups(degrees, alphas).items():
            log_bound[rows] = chosen[degree][1].upper_bound(log_pred[rows], alpha)
        out = request.assign(co_runners=request["co_runners"].map(";".join))
        out["predicted_runtime_s"] = np.exp(log_pred[:, 0]) * self.seconds_per_unit
        out["upper_bound_s"] = np.exp(log_bound) * self.seconds_per_unit
        out["calibration"] = [chosen[int(d)][0] for d in degrees]
        out["note"] = [chosen[int(d)][2] for d in degrees]
        return out[list(OUTPUT_COLUMNS)]

    def calibration_for(self, degree: int) -> tuple[str, ConformalUpperBound, str]:
        """The bound calibrated for ``degree`` workloads at once, else the highest degree."""
        if degree in self.by_degree:
            return (*self.by_degree[degree], "")
        highest = max(self.by_degree)
        name, bound = self.by_degree[highest]
        note = (f"no calibration for {degree} workloads at once; "
                f"used {name} (degree {highest}, the highest calibrated)")
        return name, bound, note


def _row_groups(degrees: np.ndarray, alphas: np.ndarray) -> dict[tuple[int, float], np.ndarray]:
    """Row indices per (degree, alpha) pair, so each bound is applied once per pair."""
    groups: dict[tuple[int, float], list[int]] = {}
    for i, key in enumerate(zip(degrees.tolist(), alphas.tolist(), strict=True)):
        groups.setdefault((int(key[0]), float(key[1])), []).append(i)
    return {key: np.asarray(rows) for key, rows in groups.items()}


def parse_request(frame: pd.DataFrame, default_alpha: float) -> pd.DataFrame:
    """Check the input columns; co-runners as lists of names and alpha as floats."""
    missing = [c for c in ("workload", "platform") if c not in frame.columns]
    if missing:
        raise PredictionError(
            f"input is missing column(s) {missing}; expected {', '.join(INPUT_COLUMNS)}")
    unknown = [c for c in frame.columns if c not in INPUT_COLUMNS]
    if unknown:
        raise PredictionError(f"unknown input column(s) {unknown}; expected {INPUT_COLUMNS}")
    co = frame["co_runners"] if "co_runners" in frame else pd.Series([None] * len(frame))
    alpha = frame["alpha"] if "alpha" in frame else pd.Series([None] * len(frame))
    features = (frame["workload_features"] if "workload_features" in frame
                else pd.Series([None] * len(frame)))
    return pd.DataFrame({
        "workload": frame["workload"].astype(str).str.strip().to_numpy(),
        "platform": frame["platform"].astype(str).str.strip().to_numpy(),
        "co_runners": [co_runner_names(v) for v in co],
        "alpha": [default_alpha if _missing(a) else float(a) for a in alpha],
        "workload_features": [feature_vector(v) for v in features],
    })


def feature_vector(value: Any) -> list[float]:
    """``"0.5;1.2"``, ``[0.5, 1.2]`` or empty/None → ``[0.5, 1.2]`` / ``[]``."""
    if _missing(value):
        return []
    items = value.replace(",", ";").split(";") if isinstance(value, str) else list(value)
    try:
        return [float(item) for item in items if str(item).strip()]
    except ValueError:
        raise PredictionError(f"workload_features must be numbers, got {value!r}") from None


def co_runner_names(value: Any) -> list[str]:
    """``"a;b"``, ``["a", "b"]`` or empty/None → ``["a", "b"]`` / ``[]``."""
    if _missing(value):
        return []
    items = value.split(";") if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def lookup(index: dict[str, int], name: str, kind: str) -> int:
    """Index of ``name`` on the ``kind`` axis; PredictionError listing near matches if unknown."""
    if name in index:
        return index[name]
    close = difflib.get_close_matches(name, list(index), n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f" ({len(index)} {kind}s known)"
    raise PredictionError(f"unknown {kind} '{name}'{hint}")
