"""The pyfunc's serving path: numpy tables equal to the Keras model on every row of a split,
cold start without rebuilding the model, margins looked up per degree and alpha, and bad
requests turned into one-line HTTP 400 answers by MLflow's own scoring code."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import pytest
from mlflow.pyfunc.scoring_server import invocations
from model_support import resolve_small

from pitot_tf.conformal.evaluate import Evaluation, evaluate
from pitot_tf.data.dataset import Dataset, load_dataset
from pitot_tf.data.splits import Split, make_split
from pitot_tf.data.synth import synthesize_dataset
from pitot_tf.models.cold import extend_model
from pitot_tf.models.numpy_predictor import NumpyPitot
from pitot_tf.serving import keras_predictor
from pitot_tf.serving.bad_request import BadRequest
from pitot_tf.serving.keras_predictor import KerasPredictor, predictor_for
from pitot_tf.serving.pyfunc import (
    COLD_NOTE,
    MODEL_FROM_CODE,
    PitotRuntimeModel,
    write_artifacts,
)
from pitot_tf.tracking.models import pyfunc_signature, pyfunc_state
from pitot_tf.training import train
from pitot_tf.training.predict import objective_rows, predict_inputs

SMALL = {"training.steps": 40, "training.val_every": 20, "training.batch": 64,
         "training.progress": False, "training.jit_compile": False,
         "model.layers": [16], "model.mf_dim": 8}


@dataclass
class Served:
    """A trained model, its evaluation, and the pyfunc serving it."""

    model: keras.Model
    dataset: Dataset
    split: Split
    evaluation: Evaluation
    pyfunc: PitotRuntimeModel


def serve(dataset: Dataset, preset: str = "pitot", **overrides: Any) -> Served:
    split = make_split(dataset, 0.5)
    model = train(resolve_small(preset, SMALL, overrides), dataset, split).model
    evaluation = evaluate(model, dataset, split)
    pyfunc = PitotRuntimeModel()
    pyfunc.load(model, pyfunc_state(dataset, evaluation))
    return Served(model, dataset, split, evaluation, pyfunc)


@pytest.fixture(scope="module")
def three_way(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """Synthetic data with matrix, 2-way and 3-way objectives."""
    folder = tmp_path_factory.mktemp("serving")
    return load_dataset(synthesize_dataset(folder, platforms=16, workloads=24,
                                           interference=(2, 3), seed=3))


@pytest.fixture(scope="module")
def pitot(three_way: Dataset) -> Served:
    return serve(three_way)


def assert_log_close(found: np.ndarray, expected: np.ndarray) -> None:
    """Equal to within 1e-6 in log runtime, or one float32 step of the value where that is
    more: the Keras model computes in float32 (a step is 9.5e-7 for log runtimes in [8, 16),
    1.9e-6 in [16, 32)) and sums its dot products in another order, which can move the last
    bit."""
    found, expected = np.asarray(found, np.float64), np.asarray(expected, np.float64)
    tolerance = 1e-6 + np.spacing(np.abs(expected).astype(np.float32))
    worst = np.abs(found - expected) - tolerance
    at = int(np.argmax(worst))
    assert np.all(worst <= 0), (f"row {at}: {found[at]!r} vs {expected[at]!r} "
                                f"(over the tolerance by {worst[at]:.3g})")


def log_runtime(served: Served, seconds: Any) -> np.ndarray:
    """An answer in seconds back as the model's log runtime (in its dataset's unit), where
    the Keras model's float32 resolution is known."""
    seconds_per_unit = float(served.dataset.seconds_from_log(np.zeros(1))[0])
    return np.log(np.asarray(seconds, dtype=np.float64) / seconds_per_unit)


def request_for_rows(served: Served, objective: str, rows: np.ndarray,
                     alpha: float) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The pyfunc request asking for ``rows`` of ``objective`` by name, and the model inputs."""
    inputs = objective_rows(served.dataset, objective, rows).inputs()
    workloads = np.asarray(served.dataset.workloads.names, dtype=object)
    platforms = np.asarray(served.dataset.platforms.names, dtype=object)
    co_runners = [";".join(workloads[row[row >= 0]]) for row in inputs["interferers"]]
    return pd.DataFrame({"workload": workloads[inputs["workload"]],
                         "platform": platforms[inputs["platform"]],
                         "co_runners": co_runners, "alpha": alpha}), inputs


@pytest.mark.parametrize("objective", ["mf", "if2", "if3"])
def test_the_pyfunc_equals_keras_and_the_bound_on_every_test_row(
    pitot: Served, objective: str
) -> None:
    assert isinstance(pitot.pyfunc.predictor, NumpyPitot)
    answer = assert_answers_equal_keras(pitot, objective, alpha=0.1)
    assert (answer["calibration"] == objective).all() and (answer["note"] == "").all()


def assert_answers_equal_keras(served: Served, objective: str, alpha: float) -> pd.DataFrame:
    """The pyfunc's prediction and bound on every test row of ``objective`` equal the Keras
    model's and the calibrated bound's (in log runtime); returns the answer."""
    rows = served.split.rows(objective, "test")
    request, inputs = request_for_rows(served, objective, rows, alpha=alpha)
    answer = served.pyfunc.predict(None, request)
    log_pred = predict_inputs(served.model, inputs).astype(np.float64)
    assert_log_close(log_runtime(served, answer["predicted_runtime_s"]), log_pred[:, 0])
    bound = served.evaluation.bounds[objective].upper_bound(log_pred, alpha)
    assert_log_close(log_runtime(served, answer["upper_bound_s"]), bound)
    return answer


@pytest.mark.parametrize("overrides", [
    {"model.quantiles": [0.5, 0.9], "model.workload_tower": "embedding"},
    {"model.interference": "ignore", "model.platform_tower": "embedding"},
    {"model.learned_features": 0, "model.if_dim": 3},
], ids=["quantile-heads", "no-interference", "features-only"])
def test_numpy_tables_equal_keras_for_each_model_variant(
    three_way: Dataset, overrides: dict[str, Any]
) -> None:
    served = serve(three_way, **overrides)
    tables = served.pyfunc.predictor
    assert isinstance(tables, NumpyPitot)
    for objective in ("mf", "if2", "if3"):
        inputs = objective_rows(three_way, objective, served.split.rows(objective, "test")).inputs()
        assert_log_close(tables.predict(inputs["platform"], inputs["workload"],
                                        inputs["interferers"]),
                         predict_inputs(served.model, inputs))


def test_a_new_workload_runs_only_its_own_tower_row(pitot: Served) -> None:
    tables = pitot.pyfunc.predictor
    assert isinstance(tables, NumpyPitot)
    features = pitot.dataset.workloads.features[[2, 5]] * 1.5 + 0.1
    grown = tables.with_workloads(features)
    assert grown.workloads == tables.workloads + 2 and tables.workloads == 24
    n = tables.workloads
    inputs = {"platform": np.array([0, 3, 7], np.int32),
              "workload": np.array([n, n + 1, 4], np.int32),
              "interferers": np.array([[-1, -1], [n, 1], [n + 1, -1]], np.int32)}
    expected = predict_inputs(extend_model(pitot.model, workload_features=features), inputs)
    assert_log_close(grown.predict(inputs["platform"], inputs["workload"],
                                   inputs["interferers"]), expected)


def test_other_model_kinds_are_served_through_keras(three_way: Dataset) -> None:
    served = serve(three_way, **{"model.kind": "monolith", "model.monolith_layers": [16]})
    assert isinstance(served.pyfunc.predictor, KerasPredictor)
    request, inputs = request_for_rows(served, "if2", served.split.rows("if2", "test")[:50], 0.05)
    answer = served.pyfunc.predict(None, request)
    log_pred = predict_inputs(served.model, inputs)[:, 0]
    assert_log_close(log_runtime(served, answer["predicted_runtime_s"]), log_pred)


def test_tables_that_do_not_reproduce_the_model_fall_back_to_keras(
    pitot: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = pitot.pyfunc.predictor
    assert isinstance(tables, NumpyPitot)
    wrong = type(tables)(**{**tables.__dict__, "offset": tables.offset + np.float32(0.01)})
    monkeypatch.setattr(keras_predictor, "numpy_pitot", lambda model: wrong)
    assert isinstance(predictor_for(pitot.model), KerasPredictor)


def test_any_alpha_the_calibration_supports_matches_the_bound(pitot: Served) -> None:
    rows = pitot.split.rows("if2", "test")[:40]
    alphas = np.round(np.linspace(0.05, 0.45, len(rows)), 3)
    request, inputs = request_for_rows(pitot, "if2", rows, 0.05)
    request["alpha"] = alphas
    answer = pitot.pyfunc.predict(None, request)
    log_pred = predict_inputs(pitot.model, inputs).astype(np.float64)
    bound = pitot.evaluation.bounds["if2"]
    expected = [bound.upper_bound(log_pred[i:i + 1], a)[0] for i, a in enumerate(alphas)]
    assert_log_close(log_runtime(pitot, answer["upper_bound_s"]), np.array(expected))


def test_an_empty_request_is_refused(pitot: Served) -> None:
    """A request with no rows is a client's mistake (issue 31 lists it among hostile inputs),
    answered 400 rather than with an empty table."""
    with pytest.raises(BadRequest, match="^the request has no rows$"):
        pitot.pyfunc.predict(None, pd.DataFrame({"workload": [], "platform": []}))


def test_an_answer_that_is_not_finite_is_refused_not_sent(
        pitot: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """However the model got there (here: a unit scale of inf), no inf or NaN reaches a 200."""
    row = {"workload": str(pitot.dataset.workloads.names[0]),
           "platform": str(pitot.dataset.platforms.names[0]), "alpha": 0.2}
    monkeypatch.setattr(pitot.pyfunc, "seconds_per_unit", float("inf"))
    with pytest.raises(BadRequest, match=r"^row 0: the predicted runtime \(inf s\) or bound "
                                         r"\(inf s\) is not a finite positive number"):
        pitot.pyfunc.predict(None, pd.DataFrame([row, row]))


def bad_requests(served: Served) -> dict[str, tuple[dict[str, Any], str]]:
    """Request rows the model must refuse, and a pattern their message must start with."""
    w = str(served.dataset.workloads.names[3])
    p = str(served.dataset.platforms.names[2])
    good = {"workload": w, "platform": p, "co_runners": "", "alpha": 0.05}
    typo_w, typo_p = w.replace("/", ""), p.replace("-", "")
    return {
        "unknown workload": ({**good, "workload": typo_w},
                             rf"row 0: workload: unknown workload '{typo_w}'; did you mean .*{w}"),
        "unknown platform": ({**good, "platform": typo_p},
                             rf"row 0: platform: unknown platform '{typo_p}'; did you mean .*{p}"),
        "unknown co-runner": ({**good, "co_runners": f"{w};nothing-like-it"},
                              r"row 0: co_runners: unknown workload 'nothing-like-it' \(24 "),
        "negative alpha": ({**good, "alpha": -0.1},
                           r"row 0: miscoverage alpha must be in \(0, 1\), got -0.1$"),
        "alpha of 1": ({**good, "alpha": 1.0},
                       r"row 0: miscoverage alpha must be in \(0, 1\), got 1.0$"),
        "tiny alpha": ({**good, "alpha": 1e-6},
                       r"row 0: alpha 1e-06: alpha=1e-06 is too small .* supports is"),
        "number as co-runners": ({**good, "co_runners": 7},
                                 "row 0: co_runners must be a list of workload names or one "
                                 "';'-separated string, got 7"),
        "text as features": ({**good, "workload_features": "1;x"},
                             "row 0: workload_features must be numbers, got '1;x'$"),
        "negative opcode count": ({**good, "opcode_counts": {"x04": -2}},
                                  "row 0: opcode_counts: count of 'x04' must be a whole number "
                                  ">= 0, got -2$"),
        "list as workload": ({**good, "workload": [w]},
                             r"row 0: workload must be a name \(a string\), got \['"),
    }


def test_bad_requests_raise_one_line_naming_row_field_and_value(pitot: Served) -> None:
    for name, (row, pattern) in bad_requests(pitot).items():
        with pytest.raises(BadRequest) as caught:
            pitot.pyfunc.predict(None, pd.DataFrame([row]))
        assert re.match(pattern, str(caught.value)), (name, str(caught.value))
        assert "\n" not in str(caught.value), name


def scoring(served: Served, folder: Path) -> tuple[Any, Any]:
    """The pyfunc as the scoring server holds it: loaded by MLflow, with its signature."""
    import mlflow

    artifacts = write_artifacts(served.model, pyfunc_state(served.dataset, served.evaluation),
                                folder / "artifacts")
    mlflow.pyfunc.save_model(folder / "model", python_model=str(MODEL_FROM_CODE),
                             artifacts=artifacts, signature=pyfunc_signature(),
                             pip_requirements=["mlflow"])
    loaded = mlflow.pyfunc.load_model(str(folder / "model"))
    return loaded, loaded.metadata.get_input_schema()


def post(model: Any, schema: Any, body: str) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of MLflow's /invocations handler (the HTTP server's own code)."""
    from mlflow.exceptions import MlflowException

    try:
        response = invocations(body, "application/json", model, schema)
        return response.status, json.loads(response.response)
    except MlflowException as error:  # what the server's exception handler answers
        return error.get_http_status_code(), json.loads(error.serialize_as_json())


def test_the_scoring_server_answers_400_with_the_one_line_message(
    pitot: Served, tmp_path: Path
) -> None:
    model, schema = scoring(pitot, tmp_path)
    good = {"workload": str(pitot.dataset.workloads.names[0]),
            "platform": str(pitot.dataset.platforms.names[0])}
    for name, (row, pattern) in bad_requests(pitot).items():
        status, body = post(model, schema, json.dumps({"dataframe_records": [good, row]}))
        assert status == 400, name
        assert re.match(pattern.replace("row 0", "row 1"), body["message"]), (name, body)
        assert "\n" not in body["message"] and "stack_trace" not in body, name
        status, body = post(model, schema, json.dumps({"dataframe_records": [good]}))
        assert status == 200 and body["predictions"][0]["upper_bound_s"] > 0
    for body_text in ('{"dataframe_records": [', '{"rows": []}', '{"dataframe_records": 5}',
                      json.dumps({"dataframe_records": [{**good, "alpha": "abc"}]})):
        status, body = post(model, schema, body_text)
        assert status == 400 and "stack_trace" not in body, body_text


def test_the_scoring_server_encodes_opcode_counts(pitot: Served, tmp_path: Path) -> None:
    """A JSON object of raw counts reaches the model through MLflow's schema and parser and
    gets the cold-start answer of the features it encodes to (synthetic names are xNN)."""
    model, schema = scoring(pitot, tmp_path)
    names = pitot.dataset.workloads.feature_names
    counts = {str(names[0]): 12, str(names[2]): 3, "xFF": 7}  # xFF: not a feature, ignored
    features = np.zeros(len(names))
    features[[0, 2]] = np.log1p([12, 3])
    platform = str(pitot.dataset.platforms.names[1])
    status, body = post(model, schema, json.dumps({"dataframe_records": [
        {"workload": "new/one", "platform": platform, "opcode_counts": counts}]}))
    assert status == 200, body
    expected = pitot.pyfunc.predict(None, pd.DataFrame({
        "workload": ["new/one"], "platform": [platform],
        "workload_features": [";".join(map(str, features))]}))
    answer = body["predictions"][0]
    assert answer["predicted_runtime_s"] == pytest.approx(expected["predicted_runtime_s"][0],
                                                          rel=1e-6)
    assert answer["note"].startswith(COLD_NOTE)


@pytest.mark.end_to_end
def test_the_pyfunc_equals_keras_on_every_test_row_of_the_real_data(real_data_dir: Path) -> None:
    served = serve(load_dataset(real_data_dir), **{"training.steps": 30, "model.layers": [64]})
    assert isinstance(served.pyfunc.predictor, NumpyPitot)
    for objective in served.dataset.objectives:
        assert_answers_equal_keras(served, objective, alpha=0.05)


def test_the_answer_json_is_pandas_records_and_columns_on_request(
    pitot: Served, tmp_path: Path
) -> None:
    from mlflow.pyfunc.scoring_server import predictions_to_json

    model, schema = scoring(pitot, tmp_path)
    request, _ = request_for_rows(pitot, "if2", np.arange(40), alpha=0.1)
    records = request.to_dict(orient="records")
    answer = pitot.pyfunc.predict(None, request)
    plain = io.StringIO()  # what MLflow writes for a plain DataFrame
    predictions_to_json(pd.DataFrame(answer, copy=True), plain)
    served = invocations(json.dumps({"dataframe_records": records}), "application/json",
                         model, schema).response
    assert served == plain.getvalue()
    split = {"columns": list(request.columns), "data": request.to_numpy().tolist()}
    for body in ({"dataframe_split": split, "params": {"orient": "columns"}},
                 {"dataframe_records": records, "params": {"orient": "columns"}}):
        status, by_column = post(model, schema, json.dumps(body))
        assert status == 200
        assert by_column["predictions"] == {
            name: [row[name] for row in json.loads(served)["predictions"]]
            for name in answer.columns}
    status, refused = post(model, schema, json.dumps({"dataframe_split": split,
                                                      "params": {"orient": "index"}}))
    assert status == 400
    assert refused["message"] == "params: orient must be one of records, columns, got 'index'"
