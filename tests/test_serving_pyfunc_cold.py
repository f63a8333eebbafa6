"""The pyfunc model answers for a workload it has never seen, given its feature vector."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from model_support import tiny_pyfunc

from pitot_tf.conformal.evaluate import evaluate
from pitot_tf.data.dataset import Dataset, load_dataset
from pitot_tf.data.export import export_raw
from pitot_tf.data.preprocess import preprocess
from pitot_tf.data.splits import make_split
from pitot_tf.errors import PredictionError
from pitot_tf.models.cold import extend_model
from pitot_tf.presets import resolve
from pitot_tf.serving.pyfunc import (
    COLD_BOUND_NOTE,
    COLD_NOTE,
    WARM_BOUND_NOTE,
    BadRequest,
    PitotRuntimeModel,
)
from pitot_tf.tracking.models import pyfunc_state
from pitot_tf.training import train


@pytest.fixture(scope="module")
def served(synth_dataset: Dataset) -> tuple[PitotRuntimeModel, Dataset]:
    return tiny_pyfunc(synth_dataset), synth_dataset


def test_new_workload_from_features(served: tuple[PitotRuntimeModel, Dataset]) -> None:
    model, dataset = served
    w, p = dataset.workloads, dataset.platforms.names
    features = w.features[3] + 0.5
    request = pd.DataFrame({
        "workload": ["brand/new", w.names[1]], "platform": [p[2], p[2]],
        "co_runners": ["", ""], "workload_features": [";".join(map(str, features)), None],
    })
    answer = model.predict(None, request)
    grown = extend_model(model.model, workload_features=features[None, :])
    inputs = {"platform": np.array([2], np.int32), "workload": np.array([len(w)], np.int32),
              "interferers": np.full((1, 1), -1, np.int32)}
    expected = dataset.seconds_from_log(grown.predict(inputs, verbose=0)[0, 0])
    assert answer["predicted_runtime_s"][0] == pytest.approx(expected, rel=1e-5)
    assert COLD_NOTE in answer["note"][0] and COLD_NOTE not in answer["note"][1]
    assert WARM_BOUND_NOTE in answer["note"][0]  # a random split has no cold calibration rows
    warm = model.predict(None, request.iloc[[1]].drop(columns="workload_features"))
    assert answer["predicted_runtime_s"][1] == pytest.approx(warm["predicted_runtime_s"][0])
    assert answer["upper_bound_s"][0] > answer["predicted_runtime_s"][0]


def test_features_must_fit_the_model(served: tuple[PitotRuntimeModel, Dataset]) -> None:
    model, dataset = served
    request = pd.DataFrame({"workload": ["x"], "platform": [dataset.platforms.names[0]],
                            "workload_features": ["1;2;3"]})
    with pytest.raises(PredictionError, match="row 0: workload_features: a new workload needs .* "
                                              "features, got 3"):
        model.predict(None, request)
    request["workload_features"] = ["1;two"]
    with pytest.raises(PredictionError, match="row 0: workload_features must be numbers"):
        model.predict(None, request)


def test_cold_bound_from_held_out_workloads(synth_dataset: Dataset) -> None:
    """Trained on a cold-workload split, the served model bounds a new workload with the
    margin of the held-out calibration workloads, and measured ones with the pooled margin."""
    from pitot_tf.data.cold import make_cold_split

    config = resolve("pitot/cold", {"training.steps": 40, "training.val_every": 20,
                                    "training.batch": 64, "training.progress": False,
                                    "training.jit_compile": False,
                                    "model.layers": [16], "model.mf_dim": 8})
    split = make_cold_split(synth_dataset, 0.8, mode="cold-workload")
    trained = train(config, synth_dataset, split).model
    evaluation = evaluate(trained, synth_dataset, split)
    assert set(evaluation.cold_bounds) == {"mf", "if2"}
    model = PitotRuntimeModel()
    model.load(trained, pyfunc_state(synth_dataset, evaluation))
    w, p = synth_dataset.workloads, synth_dataset.platforms.names
    request = pd.DataFrame({
        "workload": ["brand/new", w.names[1]], "platform": [p[2], p[2]], "alpha": [0.1, 0.1],
        "workload_features": [";".join(map(str, w.features[3])), None]})
    answer = model.predict(None, request)
    assert COLD_BOUND_NOTE in answer["note"][0] and COLD_NOTE not in answer["note"][1]
    ratio = np.log(answer["upper_bound_s"] / answer["predicted_runtime_s"]).to_numpy()
    cold, pooled = evaluation.cold_bounds["mf"], evaluation.bounds["mf"]
    assert ratio[0] == pytest.approx(float(cold.margin(0.1)), abs=1e-6)
    assert ratio[1] == pytest.approx(float(pooled.margin(0.1)), abs=1e-6)


SMALL = {"training.steps": 20, "training.val_every": 20, "training.batch": 64,
         "training.progress": False, "training.jit_compile": False,
         "model.layers": [16], "model.mf_dim": 8}


def served_on(dataset: Dataset) -> PitotRuntimeModel:
    """A pyfunc model of a tiny Pitot trained for a few steps on ``dataset``."""
    split = make_split(dataset, 0.5)
    trained = train(resolve("pitot", SMALL), dataset, split).model
    model = PitotRuntimeModel()
    model.load(trained, pyfunc_state(dataset, evaluate(trained, dataset, split)))
    return model


@pytest.fixture(scope="module")
def real_served(real_data_dir: Path) -> tuple[PitotRuntimeModel, Dataset]:
    dataset = load_dataset(real_data_dir, objectives=["mf"])
    return served_on(dataset), dataset


def real_opcode_counts(raw_tables_dir: Path, workload: int) -> dict[str, int]:
    """A published workload's raw opcode counts (``exp(feature) - 1``, rounded, from the
    unfiltered table), the zero ones left out."""
    with np.load(raw_tables_dir / "_opcodes.npz") as table:
        labels, data = table["labels"], table["data"][workload].astype(np.float64)
    return {str(label): int(c) for label, c in zip(labels, np.round(np.expm1(data)),
                                                  strict=True) if c}


def test_new_workload_from_real_opcode_counts(
    real_served: tuple[PitotRuntimeModel, Dataset], raw_tables_dir: Path
) -> None:
    """A real workload's raw counts, sent for a new name, encode to its published features
    and get the same cold-start answer as those features."""
    model, dataset = real_served
    w, platform = 17, dataset.platforms.names[5]
    counts = real_opcode_counts(raw_tables_dir, w)
    features = ";".join(map(str, dataset.workloads.features[w].tolist()))
    request = pd.DataFrame({
        "workload": ["brand/new", "brand/new"], "platform": [platform, platform],
        "opcode_counts": [counts, None], "workload_features": [None, features]})
    parsed = model.names.parse(request)
    np.testing.assert_allclose(parsed.features[0], dataset.workloads.features[w],
                               rtol=1e-6, atol=1e-6)
    answer = model.predict(None, request)
    assert answer["predicted_runtime_s"][0] == pytest.approx(answer["predicted_runtime_s"][1],
                                                             rel=1e-5)
    assert answer["upper_bound_s"][0] == pytest.approx(answer["upper_bound_s"][1], rel=1e-5)
    assert all(note.startswith(COLD_NOTE) for note in answer["note"])
    as_json = model.predict(None, request.assign(opcode_counts=[json.dumps(counts), None]))
    assert as_json["predicted_runtime_s"][0] == answer["predicted_runtime_s"][0]


@pytest.mark.parametrize(("counts", "message"), [
    ({"x20": -3}, "row 1: opcode_counts: count of 'x20' must be a whole number >= 0, got -3"),
    ({"x20": 1.5}, "row 1: opcode_counts: count of 'x20' must be a whole number >= 0, got 1.5"),
    ({"x20": float("nan")}, "row 1: opcode_counts: count of 'x20' must be a whole number >= 0, "
                            "got nan"),
    ({"i32.add": 4}, "row 1: opcode_counts: unknown opcode label 'i32.add': not one of the "
                     "model's 141 features (labels are 'x' and the opcode byte in upper-case "
                     "hex, e.g. x20)"),
    ("x20=4", "row 1: opcode_counts must be a JSON object of opcode label -> count, got 'x20=4'"),
    ([4, 5], "row 1: opcode_counts must be an object of opcode label -> count, got [4, 5]"),
])
def test_bad_opcode_counts_are_one_line_errors(
    real_served: tuple[PitotRuntimeModel, Dataset], counts: object, message: str
) -> None:
    model, dataset = real_served
    platform = dataset.platforms.names[0]
    request = pd.DataFrame({"workload": ["a", "b"], "platform": [platform, platform],
                            "opcode_counts": [{"x20": 3}, counts]})
    with pytest.raises(BadRequest) as caught:
        model.predict(None, request)
    assert caught.value.reason == message


def test_counts_and_features_together_are_refused(
    real_served: tuple[PitotRuntimeModel, Dataset]
) -> None:
    model, dataset = real_served
    request = pd.DataFrame({"workload": ["a"], "platform": [dataset.platforms.names[0]],
                            "opcode_counts": [{"x20": 3, "x00": 9}],  # x00: constant, ignored
                            "workload_features": [";".join(["0"] * 141)]})
    with pytest.raises(BadRequest, match="^row 0: give a new workload's workload_features or its "
                                         "opcode_counts, not both$"):
        model.predict(None, request)
    assert len(model.predict(None, request.drop(columns="workload_features"))) == 1


def test_a_model_without_a_count_encoding_refuses_counts(
    served: tuple[PitotRuntimeModel, Dataset]
) -> None:
    model, dataset = served
    state = pyfunc_state(dataset, evaluate(model.model, dataset, make_split(dataset, 0.5)))
    assert state["workload_counts"]["source"] == "opcode labels"  # synthetic names: xNN
    del state["workload_counts"]  # as logged from features that are not opcode counts
    bare = PitotRuntimeModel()
    bare.load(model.model, state)
    request = pd.DataFrame({"workload": ["a"], "platform": [dataset.platforms.names[0]],
                            "opcode_counts": ['{"x04": 1}']})
    with pytest.raises(BadRequest, match="^row 0: opcode_counts: this model's workload features "
                                         "are not opcode counts"):
        bare.predict(None, request)


def test_counts_through_saved_encoders(synth_dir: Path, tmp_path: Path) -> None:
    """A dataset made by ``data preprocess`` from ``count:`` columns: the model encodes a new
    workload's counts with its ``encoders.json`` (dropped columns ignored)."""
    raw = export_raw(synth_dir, tmp_path / "raw")
    source = load_dataset(synth_dir)
    counts = np.round(np.expm1(source.workloads.features.astype(np.float64))).astype(np.int64)
    table = pd.DataFrame(counts, columns=[f"count:{n}" for n in source.workloads.feature_names])
    table.insert(0, "name", source.workloads.names)
    table["count:xFE"] = 4  # constant: dropped when fitted
    table.to_csv(raw["workloads"], index=False)
    preprocess(raw["runs"], raw["workloads"], raw["platforms"], tmp_path / "data")
    dataset = load_dataset(tmp_path / "data")
    model = served_on(dataset)
    w, platform = 3, dataset.platforms.names[2]
    given = {str(n): int(c) for n, c in zip(dataset.workloads.feature_names, counts[w],
                                            strict=True)}
    features = ";".join(map(str, dataset.workloads.features[w].tolist()))
    request = pd.DataFrame({"workload": ["new", "new"], "platform": [platform, platform],
                            "opcode_counts": [given | {"xFE": 4}, None],
                            "workload_features": [None, features]})
    answer = model.predict(None, request)
    assert answer["predicted_runtime_s"][0] == pytest.approx(answer["predicted_runtime_s"][1],
                                                             rel=1e-5)
    assert COLD_NOTE in answer["note"][0]
    request = request.iloc[[0]].assign(opcode_counts=[{"xFD": 1}])
    with pytest.raises(BadRequest, match="^row 0: opcode_counts: unknown opcode label 'xFD'"):
        model.predict(None, request)  # an opcode, but not a column of the saved encoders
