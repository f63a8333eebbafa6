"""The pyfunc model answers for a platform it has never seen, given its feature vector: as the
Keras model extended with that platform, alone or with a new workload on it, with measured
runs folded into it, with bounds calibrated on held-out platforms where the run had them."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from model_support import TINY_PITOT, tiny_pyfunc

from pitot_tf.conformal.evaluate import evaluate
from pitot_tf.conformal.groups import COLD_BOTH, COLD_PLATFORM
from pitot_tf.data.cold import make_cold_split
from pitot_tf.data.dataset import Dataset
from pitot_tf.models.cold import extend_model
from pitot_tf.models.fold_in import Entity, Measurements
from pitot_tf.models.numpy_predictor import NumpyPitot
from pitot_tf.presets import resolve
from pitot_tf.serving.cold_rows import KIND_NOTES
from pitot_tf.serving.pyfunc import (
    COLD_NOTE,
    FOLDED_NOTE,
    PLATFORM_NOTE,
    BadRequest,
    PitotRuntimeModel,
)
from pitot_tf.tracking.models import pyfunc_state, served_parts
from pitot_tf.training import train

ALONE = np.full((1, 1), -1, np.int32)


@pytest.fixture(scope="module")
def served(synth_dataset: Dataset) -> tuple[PitotRuntimeModel, Dataset]:
    return tiny_pyfunc(synth_dataset), synth_dataset


def text(vector: np.ndarray) -> str:
    return ";".join(map(str, vector.tolist()))


def keras_seconds(model: PitotRuntimeModel, dataset: Dataset, platform: np.ndarray,
                  workload: np.ndarray | None, workload_index: int) -> float:
    """The Keras model extended with the new platform (and workload), asked for it."""
    grown = extend_model(model.model, platform_features=platform[None],
                         workload_features=None if workload is None else workload[None])
    inputs = {"platform": np.array([len(dataset.platforms.names)], np.int32),
              "workload": np.array([workload_index], np.int32), "interferers": ALONE}
    return float(dataset.seconds_from_log(grown.predict(inputs, verbose=0)[0, 0]))


def test_new_platform_from_features(served: tuple[PitotRuntimeModel, Dataset]) -> None:
    model, dataset = served
    w, p = dataset.workloads, dataset.platforms
    features = p.features[4] * 0.9 + 0.1
    request = pd.DataFrame({"workload": [w.names[1], w.names[1]],
                            "platform": ["new/device", p.names[4]],
                            "platform_features": [text(features), None]})
    answer = model.predict(None, request)
    assert answer["predicted_runtime_s"][0] == pytest.approx(
        keras_seconds(model, dataset, features, None, 1), rel=1e-5)
    assert answer["platform"].tolist() == ["new/device", p.names[4]]
    assert PLATFORM_NOTE in answer["note"][0] and PLATFORM_NOTE not in answer["note"][1]
    assert KIND_NOTES[COLD_PLATFORM][2] in answer["note"][0]  # a random split: a warning
    assert COLD_NOTE not in answer["note"][0]
    assert answer["upper_bound_s"][0] > answer["predicted_runtime_s"][0]


def test_new_workload_on_a_new_platform(served: tuple[PitotRuntimeModel, Dataset]) -> None:
    model, dataset = served
    w, p = dataset.workloads, dataset.platforms
    workload, platform = w.features[2] + 0.3, p.features[7] - 0.1
    request = pd.DataFrame({"workload": ["new/program"], "platform": ["new/device"],
                            "workload_features": [list(workload)],
                            "platform_features": [list(platform)]})
    answer = model.predict(None, request)
    assert answer["predicted_runtime_s"][0] == pytest.approx(
        keras_seconds(model, dataset, platform, workload, len(w.names)), rel=1e-5)
    assert COLD_NOTE in answer["note"][0] and PLATFORM_NOTE in answer["note"][0]
    assert "new workloads on new platforms" in answer["note"][0]


def test_measured_runs_fold_into_a_new_platform(
        served: tuple[PitotRuntimeModel, Dataset]) -> None:
    model, dataset = served
    w, p = dataset.workloads, dataset.platforms
    features = p.features[3]
    runs = [{"workload": w.names[i], "runtime_s": 0.02 * (i + 1)} for i in (0, 2, 5)]
    request = pd.DataFrame({"workload": [w.names[1], w.names[1]],
                            "platform": ["new/device", "new/device"],
                            "platform_features": [text(features)] * 2,
                            "measured": [runs, None]})
    answer = model.predict(None, request)
    assert "3 measured run(s) folded in" in answer["note"][0]
    assert answer["predicted_runtime_s"][0] != pytest.approx(answer["predicted_runtime_s"][1])
    tables = model.predictor
    assert isinstance(tables, NumpyPitot)
    grown = tables.with_platforms(features[None])
    seconds = np.array([r["runtime_s"] for r in runs]) / model.seconds_per_unit
    measured = Measurements.of(np.array([0, 2, 5]), np.log(seconds), tables.workloads)
    folded = grown.fold_in(Entity("platform", tables.platforms), measured)
    expected = folded.predict(np.array([tables.platforms]), np.array([1]), ALONE)[0, 0]
    assert answer["predicted_runtime_s"][0] == pytest.approx(
        float(model.seconds(np.float64(expected))), rel=1e-5)


@pytest.mark.parametrize(("column", "value", "message"), [
    ("platform_features", "1;2;3", r"^row 0: platform_features: a new platform needs \d+ "
                                   r"features, got 3$"),
    ("platform_features", "1;two", r"^row 0: platform_features must be numbers, got '1;two'$"),
    ("platform_features", [1e9] * 11, r"^row 0: platform_features: a value of magnitude "
                                      r"above 1e\+06"),
    ("platform_features", True, r"^row 0: platform_features must be a list of numbers"),
    ("platform_features", None, r"^row 0: platform: unknown platform 'new/device'"),
])
def test_bad_platform_features_are_one_line_errors(
        served: tuple[PitotRuntimeModel, Dataset], column: str, value: object,
        message: str) -> None:
    model, dataset = served
    request = pd.DataFrame({"workload": [dataset.workloads.names[0]],
                            "platform": ["new/device"], column: [value]})
    with pytest.raises(BadRequest, match=message) as caught:
        model.predict(None, request)
    assert "\n" not in str(caught.value)


def test_tables_without_a_platform_side_refuse_a_new_platform(
        served: tuple[PitotRuntimeModel, Dataset]) -> None:
    model, dataset = served
    tables = model.predictor
    assert isinstance(tables, NumpyPitot)
    old = copy.copy(model)  # as loaded from tables logged before platforms could be added
    old.predictor = replace(tables, new_platforms=None)
    old.names = replace(model.names, platform_feature_dim=None)
    request = pd.DataFrame({"workload": [dataset.workloads.names[0]], "platform": ["new/device"],
                            "platform_features": [text(dataset.platforms.features[0])]})
    with pytest.raises(BadRequest, match=r"^this model's tables were saved without its "
                                         r"platform towers.*log it again[^\n]*$"):
        old.predict(None, request)
    known = request.drop(columns="platform_features").assign(platform=dataset.platforms.names[0])
    assert len(old.predict(None, known)) == 1


@pytest.mark.parametrize("mode", ["cold-platform", "cold-both"])
def test_cold_bounds_from_held_out_platforms(synth_dataset: Dataset, mode: str) -> None:
    """Trained on a cold-platform (cold-both) split, the served model bounds a new platform
    (a new workload on a new platform) with the margin of the held-out calibration rows of
    that kind, through the calibration JSON."""
    split = make_cold_split(synth_dataset, 1.0, 0, mode=mode, holdout=0.25)
    trained = train(resolve("pitot", TINY_PITOT), synth_dataset, split).model
    evaluation = evaluate(trained, synth_dataset, split)
    assert "mf" in evaluation.kind_bounds.get(mode, {})
    model = PitotRuntimeModel()
    model.load(trained, json.loads(json.dumps(pyfunc_state(synth_dataset, evaluation))))
    w, p = synth_dataset.workloads, synth_dataset.platforms
    new_workload = [list(w.features[5])] if mode == COLD_BOTH else [None]
    request = pd.DataFrame({"workload": ["new/program" if mode == COLD_BOTH else w.names[1],
                                         w.names[1]],
                            "platform": ["new/device", p.names[2]], "alpha": [0.2, 0.2],
                            "platform_features": [text(p.features[3]), None],
                            "workload_features": new_workload + [None]})
    answer = model.predict(None, request)
    assert KIND_NOTES[mode][1] in answer["note"][0]
    ratio = np.log(answer["upper_bound_s"] / answer["predicted_runtime_s"]).to_numpy()
    cold, pooled = evaluation.kind_bounds[mode]["mf"], evaluation.bounds["mf"]
    assert ratio[0] == pytest.approx(float(cold.margin(0.2)), abs=1e-6)
    assert ratio[1] == pytest.approx(float(pooled.margin(0.2)), abs=1e-6)


def test_known_platform_rows_do_not_depend_on_new_platforms_in_the_request(
        served: tuple[PitotRuntimeModel, Dataset]) -> None:
    """The reference interference form reads co-runners' rows clamped to the platform count;
    a new platform asked for in the same request must not move the other rows' answers."""
    model, dataset = served
    tables = model.predictor
    assert isinstance(tables, NumpyPitot)
    reference = copy.copy(model)
    reference.predictor = replace(tables, equation=replace(tables.equation, reference=True))
    w, p = dataset.workloads.names, dataset.platforms.names
    late = [str(name) for name in w[len(p):len(p) + 2]]  # workload indices past the platforms
    warm = pd.DataFrame({"workload": [w[0], w[1]], "platform": [p[1], p[2]],
                         "co_runners": [late[0], ";".join(late)]})
    alone = reference.predict(None, warm)
    mixed = reference.predict(None, pd.concat([warm, pd.DataFrame({
        "workload": [w[2]], "platform": ["new/device"], "co_runners": [late[0]],
        "platform_features": [text(dataset.platforms.features[0])]})], ignore_index=True))
    np.testing.assert_array_equal(mixed["predicted_runtime_s"][:2], alone["predicted_runtime_s"])


def test_runs_on_a_new_platform_get_the_margin_of_their_k(synth_dataset: Dataset) -> None:
    """Logged from a cold-platform split, the model bounds a new platform with k runs of
    workloads on it folded in by the margin calibrated on held-out platforms with as many."""
    split = make_cold_split(synth_dataset, 1.0, 0, mode="cold-platform", holdout=0.25)
    trained = train(resolve("pitot", TINY_PITOT), synth_dataset, split).model
    predictor, state = served_parts(trained, synth_dataset,
                                    evaluate(trained, synth_dataset, split))
    model = PitotRuntimeModel()
    model.load_predictor(predictor, json.loads(json.dumps(state)))
    assert model.platform_fold_in_margins is not None
    w, p = synth_dataset.workloads.names, synth_dataset.platforms
    runs = json.dumps([{"workload": str(name), "runtime_s": 0.01} for name in w[2:5]])
    answer = model.predict(None, pd.DataFrame({
        "workload": [str(w[0])], "platform": ["new/device"],
        "platform_features": [text(p.features[3])], "measured": [runs]}))
    margin = float(model.platform_fold_in_margins.by_degree[1].margin(0.05, ["2-3"])[0])
    assert np.log(answer["upper_bound_s"][0] / answer["predicted_runtime_s"][0]) == \
        pytest.approx(margin, rel=1e-6)
    assert ("3 measured run(s) folded in; bound calibrated on held-out platforms with 2-3 "
            "run(s) folded in") in answer["note"][0]
    # The cold bound was replaced by the margin after runs: its note is not claimed.
    assert PLATFORM_NOTE in answer["note"][0]
    assert KIND_NOTES[COLD_PLATFORM][1] not in answer["note"][0]


def test_runs_of_a_new_workload_do_not_narrow_its_bound_on_a_new_platform(
        synth_dataset: Dataset) -> None:
    """Margins after k runs of a workload were calibrated on held-out workloads on platforms
    the model knows: on a new platform the row keeps the cold-both margin (runs folded in all
    the same), while on a known platform the runs narrow it."""
    split = make_cold_split(synth_dataset, 1.0, 0, mode="cold-both", holdout=0.25)
    trained = train(resolve("pitot", TINY_PITOT), synth_dataset, split).model
    evaluation = evaluate(trained, synth_dataset, split)
    predictor, state = served_parts(trained, synth_dataset, evaluation)
    model = PitotRuntimeModel()
    model.load_predictor(predictor, json.loads(json.dumps(state)))
    assert model.fold_in_margins is not None
    w, p = synth_dataset.workloads, synth_dataset.platforms
    runs = json.dumps([{"platform": str(name), "runtime_s": 0.01} for name in p.names[4:7]])
    answer = model.predict(None, pd.DataFrame({
        "workload": ["new/program"] * 2, "platform": ["new/device", str(p.names[2])],
        "workload_features": [text(w.features[5])] * 2,
        "platform_features": [text(p.features[3]), None], "measured": [runs, runs],
        "alpha": [0.2, 0.2]}))
    ratio = np.log(answer["upper_bound_s"] / answer["predicted_runtime_s"]).to_numpy()
    cold_both = float(evaluation.kind_bounds[COLD_BOTH]["mf"].margin(0.2))
    after = float(model.fold_in_margins.by_degree[1].margin(0.2, ["2-3"])[0])
    assert ratio[0] == pytest.approx(cold_both, abs=1e-6)
    assert FOLDED_NOTE.format(3) in answer["note"][0]
    assert KIND_NOTES[COLD_BOTH][1] in answer["note"][0]
    assert ratio[1] == pytest.approx(after, rel=1e-6)
