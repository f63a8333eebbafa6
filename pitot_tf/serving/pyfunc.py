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
published data, log(1 + count) per opcode), or ``opcode_counts`` (its raw opcode counts, an
object of label → count or the same as one JSON string, e.g. ``{"x20": 1523, "x41": 87}``;
opcodes not given count 0), which the model encodes as its dataset did (see
:mod:`pitot_tf.data.counts`; saved as ``workload_counts`` in the calibration JSON). A row gives
at most one of the two. Its workload name may then be new: the model is
given one new row per such workload (as :func:`pitot_tf.models.cold.extend_model` would add;
only that workload's tower output is computed), predicted from its features alone, and
``note`` says so (a cold-start answer). Its bound is Mondrian over cold and warm rows: it uses
the margins calibrated on the run's cold validation rows (workloads held out of training, as
``split --mode cold-workload`` makes), which hold for new workloads; a run without such rows
has only margins of measured workloads, and ``note`` warns that the bound may not hold.

Measured runs: a row may give ``measured``, a list (or its JSON text) of runs of its workload
alone on other platforms, ``{"platform": ..., "runtime_s": ...}``, or of other workloads alone on
its platform, ``{"workload": ..., "runtime_s": ...}`` (:mod:`pitot_tf.serving.measured`). They
are folded into that workload's (platform's) row before the row is predicted
(:mod:`pitot_tf.models.fold_in`), and ``note`` says so; the bound keeps the margins of the row's
kind, calibrated without measurements.

Bad requests raise :class:`~pitot_tf.serving.bad_request.BadRequest`: one line naming the row,
field and value, which ``mlflow models serve`` returns as HTTP 400 (see docs/mlflow.md). Every
input is bounded (:class:`~pitot_tf.serving.limits.Limits`, from ``PITOT_SERVE_*``), and an
answer whose runtime or bound is not a finite number is refused, never sent. Loaded by MLflow's
scoring server, the model also checks each request's bytes before MLflow parses them
(:mod:`~pitot_tf.serving.mlflow_guard`); docs/reliability.md lists what each server enforces.

Answer form: a table (:class:`AnswerTable`, a ``pandas.DataFrame``), which the scoring server
writes as ``{"predictions": [{...one object per row...}]}``. A request may instead ask for
``params={"orient": "columns"}``: a dict of one list per output column, which the server
writes as ``{"predictions": {"workload": [...], ...}}``, about a quarter cheaper to serve for
1,000-row requests (MLflow's JSON writer is pure Python and pays per key written).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from pitot_tf.conformal.calibration import ConformalUpperBound
from pitot_tf.data.counts import CountEncoding
from pitot_tf.data.units import DEFAULT_UNIT, seconds_per
from pitot_tf.errors import PitotError
from pitot_tf.models.fold_in import Entity
from pitot_tf.models.numpy_predictor import NumpyPitot
from pitot_tf.models.numpy_store import load_tables, save_tables
from pitot_tf.serving.answer import (
    ORIENTS,
    OUTPUT_COLUMNS,
    Answer,
    AnswerTable,
    answer_orient,
    check_finite,
)
from pitot_tf.serving.bad_request import BadRequest, ModelFailure
from pitot_tf.serving.batching import predict_grouped
from pitot_tf.serving.limits import Limits
from pitot_tf.serving.margins import Margins
from pitot_tf.serving.measured import MeasuredRuns
from pitot_tf.serving.mlflow_guard import guard_scoring_server
from pitot_tf.serving.predictor import Predictor
from pitot_tf.serving.request_parsing import INPUT_COLUMNS, Names, Request

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
COLD_NOTE = "new workload predicted from its features (cold start)"
FOLDED_NOTE = "{} measured run(s) folded in; the bound is calibrated without measurements"
COLD_BOUND_NOTE = "cold bound: calibrated on workloads held out of training"
WARM_BOUND_NOTE = ("bound calibrated on measured workloads only: it may not hold for a new one "
                   "(train on a cold-workload split for cold bounds)")
__all__ = ["INPUT_COLUMNS", "ORIENTS", "OUTPUT_COLUMNS", "AnswerTable", "BadRequest",
           "PitotRuntimeModel"]


def calibration_state(
    workloads: Iterable[Any], platforms: Iterable[Any], interferer_width: int,
    bounds: dict[str, tuple[int, ConformalUpperBound]], unit: str = DEFAULT_UNIT,
    cold_bounds: dict[str, ConformalUpperBound] | None = None,
    counts: CountEncoding | None = None,
) -> dict[str, Any]:
    """The JSON the pyfunc reads: axis names, the model's co-runner width, the dataset's
    runtime unit, per objective its degree and saved bound
    (``{"mf": (1, bound), "if2": (2, bound)}``) and, where given, its cold bound, and how
    opcode counts become workload features (``workload_counts``; absent if they cannot)."""
    objectives: dict[str, dict[str, Any]] = {}
    for name, (degree, bound) in bounds.items():
        objectives[name] = {"degree": degree, "bound": bound.to_dict()}
        if cold_bounds and name in cold_bounds:
            objectives[name]["cold_bound"] = cold_bounds[name].to_dict()
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


class PitotRuntimeModel(PythonModel):  # type: ignore[misc]
    """Predicted runtime and conformal upper bound, in seconds, looked up by name.

    Everything that depends only on a platform or a workload (tower outputs, baseline terms,
    margins per objective and alpha) is computed before the model loads (numpy tables, stored
    when it was logged) or as it loads (margins); a request is then a few vectorised numpy
    operations over its rows (see :mod:`pitot_tf.serving.predictor`). A Pitot model loads
    with numpy alone; only other model kinds, logged with their Keras model, import Keras.
    """

    def load_context(self, context: Any) -> None:
        state = json.loads(Path(context.artifacts[CALIBRATION_ARTIFACT]).read_text())
        if TABLES_ARTIFACT in context.artifacts:
            self.load_predictor(load_tables(context.artifacts[TABLES_ARTIFACT],
                                            context.artifacts[TABLES_LAYOUT_ARTIFACT]), state)
        else:
            self.load(_load_keras(context.artifacts[KERAS_ARTIFACT]), state)
        guard_scoring_server(self.names.limits)

    def load(self, model: Any, state: dict[str, Any]) -> None:
        """Serve the Keras ``model`` with the names and bounds of :func:`calibration_state`
        output: from numpy tables if they reproduce it, else through Keras (``self.model``
        keeps the Keras model)."""
        from pitot_tf.serving.keras_predictor import predictor_for

        self.model = model
        self.load_predictor(predictor_for(model), state)

    def load_predictor(self, predictor: Predictor, state: dict[str, Any]) -> None:
        """Serve ``predictor`` with the names and bounds of :func:`calibration_state` output."""
        self.predictor: Predictor = predictor
        self.load_state(state)

    def load_state(self, state: dict[str, Any]) -> None:
        """Names, co-runner width, runtime unit and bounds from :func:`calibration_state`."""
        feature_dim = self.predictor.feature_dim
        self.names = Names(
            workloads={name: i for i, name in enumerate(state["workloads"])},
            platforms={name: i for i, name in enumerate(state["platforms"])},
            width=int(state["interferer_width"]),
            default_alpha=float(state.get("default_alpha", DEFAULT_ALPHA)),
            feature_dim=feature_dim, counts=_count_encoding(state, feature_dim),
            limits=Limits.from_environment())
        self.platform_names = np.asarray(state["platforms"], dtype=object)
        self.seconds_per_unit = seconds_per(state.get("runtime_unit", DEFAULT_UNIT))
        self.margins = Margins({
            int(info["degree"]): (name, ConformalUpperBound.from_dict(info["bound"]))
            for name, info in state["objectives"].items()})
        cold = {int(info["degree"]): (name, ConformalUpperBound.from_dict(info["cold_bound"]))
                for name, info in state["objectives"].items() if "cold_bound" in info}
        self.cold_margins = Margins(cold) if cold else None

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame | dict[str, list[Any]]:
        """See the module docstring for the input and output columns (and ``params``). A
        request the model cannot answer raises :class:`BadRequest` (HTTP 400 when served),
        naming the row, field and value; a failure of the model itself raises
        :class:`ModelFailure` (HTTP 500)."""
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        orient = answer_orient(params)
        answer = self.respond(frame)
        return answer.columns_as_lists() if orient == "columns" else answer.table()

    def respond(self, request: pd.DataFrame | Mapping[str, Sequence[Any]]) -> Answer:
        """The answer to a table, or to ``{column: values}`` (as ``pitot-tf serve`` reads
        them from the JSON body), with :meth:`predict`'s errors."""
        try:
            if isinstance(request, pd.DataFrame):
                return self.answer(self.names.parse(request))
            return self.answer(self.names.parse_columns(request))
        except BadRequest:
            raise
        except PitotError as error:
            raise BadRequest(str(error)) from error
        except Exception as error:
            _logger.exception("pyfunc-model failed on a request of %d row(s)", len(request))
            raise ModelFailure(error) from error

    def log_runtime(self, request: Request) -> np.ndarray:
        """``(n, heads)`` log runtime; rows that give features get a new workload row each."""
        predictor, workload = self.predictor, request.workload_index
        if request.features:
            rows = sorted(request.features)
            predictor = predictor.with_workloads(np.stack([request.features[r] for r in rows]))
            workload = workload.copy()
            workload[rows] = self.predictor.workloads + np.arange(len(rows), dtype=np.int32)
        log_pred = np.asarray(predict_grouped(predictor.predict, request.platform, workload,
                                              request.interferers, self.names.width),
                              dtype=np.float64)
        for row, runs in request.measured.items():
            log_pred[row] = self.folded_row(predictor, request, workload, row, runs)
        return log_pred

    def folded_row(self, predictor: Predictor, request: Request, workload: np.ndarray,
                   row: int, runs: MeasuredRuns) -> np.ndarray:
        """Row ``row``'s ``(heads,)`` log runtime after its measured runs are folded into its
        workload's row (runs on platforms) or its platform's (runs of workloads)."""
        if runs.axis == "workload":
            entity, names = Entity("workload", int(workload[row])), self.names.platforms
        else:
            entity, names = Entity("platform", int(request.platform[row])), self.names.workloads
        measured = runs.measurements(names, self.seconds_per_unit, f"row {row}: measured")
        folded = predictor.fold_in(entity, measured)
        one = slice(row, row + 1)
        return np.asarray(folded.predict(request.platform[one], workload[one],
                                         request.interferers[one])[0], dtype=np.float64)

    def seconds(self, log_runtime: np.ndarray) -> np.ndarray:
        """Seconds from the model's natural-log runtimes (in its dataset's unit)."""
        return np.exp(log_runtime) * self.seconds_per_unit

    def answer(self, request: Request) -> Answer:
        """The answer's columns: runtimes and bounds in seconds, and which calibration was
        used (looked up once per distinct co-runner count)."""
        log_pred = self.log_runtime(request)
        degree = request.degree
        log_bound = self.margins.upper_bound(log_pred, degree, request.alpha)
        degrees, inverse = np.unique(degree, return_inverse=True)
        chosen = [self.margins.calibration_for(d) for d in degrees.tolist()]
        inverse = inverse.reshape(-1)
        calibration = np.asarray([name for name, _ in chosen], dtype=object)[inverse]
        notes = np.asarray([note for _, note in chosen], dtype=object)[inverse]
        cold = np.asarray(sorted(request.features), dtype=np.intp)
        if len(cold) and self.cold_margins is not None:
            log_bound[cold] = self.cold_margins.upper_bound(
                log_pred[cold], degree[cold], request.alpha[cold])
        bound_note = WARM_BOUND_NOTE if self.cold_margins is None else COLD_BOUND_NOTE
        for row in cold.tolist():
            notes[row] = "; ".join(n for n in (COLD_NOTE, bound_note, notes[row]) if n)
        for row, runs in request.measured.items():
            notes[row] = "; ".join(n for n in (FOLDED_NOTE.format(len(runs.names)), notes[row])
                                   if n)
        runtime, bound = self.seconds(log_pred[:, 0]), self.seconds(log_bound)
        check_finite(runtime, bound)
        return Answer(workload=request.workload, platform=self.platform_names[request.platform],
                      co_runners=request.co_runners, alpha=request.alpha,
                      predicted_runtime_s=runtime, upper_bound_s=bound,
                      calibration=calibration, note=notes)


def _load_keras(path: str) -> Any:
    """A model kind served through Keras (not Pitot): its saved Keras model."""
    import keras

    import pitot_tf.models.build  # noqa: F401  (registers the custom layers)

    return keras.saving.load_model(path, compile=False)


def _count_encoding(state: dict[str, Any], feature_dim: int | None) -> CountEncoding | None:
    """The saved opcode-count encoding, if any and if it makes vectors the model takes."""
    if "workload_counts" not in state:
        return None
    encoding = CountEncoding.from_dict(state["workload_counts"])
    if feature_dim is not None and len(encoding.features) != feature_dim:
        _logger.warning("saved opcode-count encoding makes %d features, the model takes %d; "
                        "opcode_counts will be refused", len(encoding.features), feature_dim)
        return None
    return encoding
