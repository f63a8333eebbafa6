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

A row may likewise give ``platform_features`` (a new platform's encoded feature vector, in the
dataset's ``f_platform`` order): it gets a new platform row (the platform tower's output for
those features only, :meth:`~pitot_tf.models.numpy_predictor.NumpyPitot.with_platforms`), alone
or under a new workload, and ``note`` says it was predicted from platform features. Its bound
uses the margins of the run's cold-platform validation rows (a new workload on it: cold-both
rows; :mod:`pitot_tf.serving.cold_rows`), or warns that the bound may not hold without them.
A row naming a platform the model does not know without ``platform_features`` is a bad
request.

Measured runs: a row may give ``measured``, a list (or its JSON text) of runs of its workload
alone on other platforms, ``{"platform": ..., "runtime_s": ...}``, or of other workloads alone on
its platform, ``{"workload": ..., "runtime_s": ...}`` (:mod:`pitot_tf.serving.measured`). They
are folded into that workload's (platform's, a new one included) row before the row is predicted
(:mod:`pitot_tf.models.fold_in`), and ``note`` says so. A model trained on a cold-workload split
calibrated, on its held-out validation workloads, both its fold-in prior and bounds after k
runs of a workload folded in (Mondrian by the group of k, :mod:`pitot_tf.conformal.few_shot`):
a row with runs of its workload uses the group of its k. A model trained on a cold-platform
split did the same on its held-out platforms, for runs of workloads on a platform. Otherwise
the bound keeps the margins of the row's kind, calibrated without measurements.

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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from pitot_tf.conformal.calibration import ConformalUpperBound
from pitot_tf.conformal.few_shot import k_group
from pitot_tf.conformal.groups import COLD_WORKLOAD
from pitot_tf.data.units import DEFAULT_UNIT, seconds_per
from pitot_tf.errors import ConformalError, PitotError
from pitot_tf.models.fold_in import Entity
from pitot_tf.models.numpy_store import load_tables
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
from pitot_tf.serving.cold_rows import (
    COLD_BOUND_NOTE,
    COLD_NOTE,
    PLATFORM_NOTE,
    WARM_BOUND_NOTE,
    GrownRows,
    cold_bounds,
    kind_margins,
    with_new_rows,
)
from pitot_tf.serving.limits import Limits
from pitot_tf.serving.margins import Margins, MarginsAfterRuns
from pitot_tf.serving.measured import MeasuredRuns
from pitot_tf.serving.mlflow_guard import guard_scoring_server
from pitot_tf.serving.predictor import Predictor
from pitot_tf.serving.pyfunc_artifacts import (
    CALIBRATION_ARTIFACT,
    DEFAULT_ALPHA,
    KERAS_ARTIFACT,
    MODEL_FROM_CODE,
    PLATFORM_FOLD_IN_KEY,
    TABLES_ARTIFACT,
    TABLES_LAYOUT_ARTIFACT,
    calibration_state,
    load_keras,
    served_count_encoding,
    write_artifacts,
)
from pitot_tf.serving.request_parsing import INPUT_COLUMNS, Names, Request

_logger = logging.getLogger(__name__)

FOLDED_NOTE = "{} measured run(s) folded in; the bound is calibrated without measurements"
FOLDED_BOUND_NOTE = ("{} measured run(s) folded in; bound calibrated on held-out {}s with {} "
                     "run(s) folded in")
__all__ = ["COLD_BOUND_NOTE", "COLD_NOTE", "INPUT_COLUMNS", "MODEL_FROM_CODE", "ORIENTS",
           "OUTPUT_COLUMNS", "PLATFORM_NOTE", "WARM_BOUND_NOTE", "AnswerTable", "BadRequest",
           "PitotRuntimeModel", "calibration_state", "write_artifacts"]


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
            self.load(load_keras(context.artifacts[KERAS_ARTIFACT]), state)
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
        platform_feature_dim = getattr(self.predictor, "platform_feature_dim", None)
        self.names = Names(
            workloads={name: i for i, name in enumerate(state["workloads"])},
            platforms={name: i for i, name in enumerate(state["platforms"])},
            width=int(state["interferer_width"]),
            default_alpha=float(state.get("default_alpha", DEFAULT_ALPHA)),
            feature_dim=feature_dim, counts=served_count_encoding(state, feature_dim),
            limits=Limits.from_environment(), platform_feature_dim=platform_feature_dim)
        self.platform_names = np.asarray(state["platforms"], dtype=object)
        self.seconds_per_unit = seconds_per(state.get("runtime_unit", DEFAULT_UNIT))
        self.margins = Margins({
            int(info["degree"]): (name, ConformalUpperBound.from_dict(info["bound"]))
            for name, info in state["objectives"].items()})
        self.kind_margins = kind_margins(state)
        #: The margins of new workloads on known platforms (None: not calibrated).
        self.cold_margins = self.kind_margins.get(COLD_WORKLOAD)
        #: Per axis, the margins after k runs folded into a new entity (None: not calibrated).
        self.fold_in_margins = _after_runs(state, "fold_in_bound")
        self.platform_fold_in_margins = _after_runs(state, PLATFORM_FOLD_IN_KEY)

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
        """``(n, heads)`` log runtime; rows that give features get a new workload (platform)
        row each (:func:`~pitot_tf.serving.cold_rows.with_new_rows`)."""
        grown = with_new_rows(self.predictor, request)
        log_pred = self.predict_rows(grown.predictor, grown, request)
        if grown.known_platforms is not grown.predictor:  # rows on known platforms: see GrownRows
            known = np.flatnonzero(grown.platform < grown.known_platforms.platforms)
            if len(known):
                log_pred[known] = self.predict_rows(grown.known_platforms, grown, request, known)
        for row, runs in request.measured.items():
            log_pred[row] = self.folded_row(grown, request, row, runs)
        return log_pred

    def predict_rows(self, predictor: Predictor, grown: GrownRows, request: Request,
                     rows: np.ndarray | None = None) -> np.ndarray:
        """``(n, heads)`` float64 log runtime of ``rows`` (None: every row) by ``predictor``."""
        if rows is None:
            platform, workload, interferers = grown.platform, grown.workload, request.interferers
        else:
            platform, workload = grown.platform[rows], grown.workload[rows]
            interferers = request.interferers[rows]
        return np.asarray(predict_grouped(predictor.predict, platform, workload, interferers,
                                          self.names.width), dtype=np.float64)

    def folded_row(self, grown: GrownRows, request: Request, row: int,
                   runs: MeasuredRuns) -> np.ndarray:
        """Row ``row``'s ``(heads,)`` log runtime after its measured runs are folded into its
        workload's row (runs on platforms) or its platform's (runs of workloads)."""
        platform, workload = grown.platform, grown.workload
        if runs.axis == "workload":
            entity, names = Entity("workload", int(workload[row])), self.names.platforms
        else:
            entity, names = Entity("platform", int(platform[row])), self.names.workloads
        measured = runs.measurements(names, self.seconds_per_unit, f"row {row}: measured")
        folded = grown.for_row(row).fold_in(entity, measured)
        one = slice(row, row + 1)
        return np.asarray(folded.predict(platform[one], workload[one],
                                         request.interferers[one])[0], dtype=np.float64)

    @staticmethod
    def folded_bound(after: MarginsAfterRuns, row: int, log_pred: np.ndarray, degree: int,
                     alpha: float, runs: MeasuredRuns) -> tuple[float, str]:
        """Row ``row``'s log bound once ``runs`` are folded into its workload (platform): the
        margin of ``after`` calibrated with as many runs folded in, and its note."""
        k = len(runs.names)
        try:
            upper = after.upper_bound(log_pred[None], np.array([degree]), alpha, k)
        except ConformalError as error:
            raise BadRequest(f"row {row}: alpha {alpha!r}: {error}") from None
        return float(upper[0]), FOLDED_BOUND_NOTE.format(k, runs.axis, k_group(k))

    def platform_column(self, request: Request) -> np.ndarray:
        """Each row's platform name: the model's, or as given for a new platform."""
        names = self.platform_names[np.maximum(request.platform, 0)]
        if request.platform_features:
            names = names.copy()
            for row in request.platform_features:
                names[row] = request.platform_name[row]
        return names

    def after_runs(self, axis: str, request: Request, row: int) -> MarginsAfterRuns | None:
        """The margins for ``row`` after runs folded into its entity of ``axis``; None where
        the model has none, or where the row's entity of the other axis is new too (they were
        calibrated on rows whose other entity the model knew): such a row keeps its kind's."""
        other_new = request.platform_features if axis == "workload" else request.features
        if row in other_new:
            return None
        return self.fold_in_margins if axis == "workload" else self.platform_fold_in_margins

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
        folded = [row for row, runs in request.measured.items()
                  if self.after_runs(runs.axis, request, row) is not None]
        cold_bounds(self.kind_margins, request, log_pred, log_bound, notes, folded)
        for row, runs in request.measured.items():
            note = FOLDED_NOTE.format(len(runs.names))
            after = self.after_runs(runs.axis, request, row)
            if after is not None:
                log_bound[row], note = self.folded_bound(
                    after, row, log_pred[row], int(degree[row]), float(request.alpha[row]),
                    runs)
            notes[row] = "; ".join(n for n in (note, notes[row]) if n)
        runtime, bound = self.seconds(log_pred[:, 0]), self.seconds(log_bound)
        check_finite(runtime, bound)
        return Answer(workload=request.workload, platform=self.platform_column(request),
                      co_runners=request.co_runners, alpha=request.alpha,
                      predicted_runtime_s=runtime, upper_bound_s=bound,
                      calibration=calibration, note=notes)


def _after_runs(state: dict[str, Any], key: str) -> MarginsAfterRuns | None:
    """The margins after k runs saved under ``key`` per objective, by degree (None: none)."""
    after = {int(info["degree"]): ConformalUpperBound.from_dict(info[key])
             for info in state["objectives"].values() if key in info}
    return MarginsAfterRuns(after) if after else None
