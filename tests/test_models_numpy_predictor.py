"""The numpy serving predictor equals the Keras model on the same weights, for each variant of
the equation: both interference forms, quantile heads, cold-dropout biases, and ensembles with
and without shared towers, on matrix, 2-way and 3-way rows and for new workloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from pitot_tf.data.dataset import Dataset, load_dataset
from pitot_tf.data.splits import make_split
from pitot_tf.data.synth import synthesize_dataset
from pitot_tf.errors import PredictionError
from pitot_tf.models.cold import extend_model
from pitot_tf.models.numpy_export import numpy_pitot
from pitot_tf.models.numpy_predictor import NumpyPitot
from pitot_tf.models.numpy_store import load_tables, save_tables
from pitot_tf.models.parts import model_parts
from pitot_tf.presets import resolve
from pitot_tf.training import train
from pitot_tf.training.predict import objective_rows, predict_inputs

SMALL = {"training.steps": 20, "training.val_every": 10, "training.batch": 64,
         "training.progress": False, "training.jit_compile": False,
         "model.layers": [16], "model.mf_dim": 4, "model.if_dim": 2}
REFERENCE = {"model.interference_form": "reference"}
SHARED = {"training.ensemble_share": "towers"}
VARIANTS: dict[str, dict[str, Any]] = {
    "paper": {},
    "reference-quantiles": {**REFERENCE, "model.quantiles": [0.5, 0.9]},
    "cold-dropout": {"model.cold_dropout": 0.3},
    "ensemble-reference": {**REFERENCE, "training.ensemble": 2},
    "shared": {**SHARED, "training.ensemble": 3},
    "shared-reference-quantiles": {**SHARED, **REFERENCE, "training.ensemble": 2,
                                   "model.quantiles": [0.1, 0.5, 0.9]},
}
#: How far the towers' output layers are scaled up after training, so that the interaction
#: term (which starts near 0 and moves little in a few steps) is of order 1 in the comparison.
SCALE = 3.0


@pytest.fixture(scope="module")
def three_way(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """Synthetic data with matrix, 2-way and 3-way objectives."""
    folder: Path = tmp_path_factory.mktemp("numpy-predictor")
    return load_dataset(synthesize_dataset(folder, platforms=12, workloads=20,
                                           interference=(2, 3), seed=4))


class Trained(dict):  # type: ignore[type-arg]
    """Each variant's model, trained on first use (both tests compare the same models)."""

    def __init__(self, dataset: Dataset) -> None:
        super().__init__()
        self.dataset = dataset

    def __missing__(self, variant: str) -> keras.Model:
        self[variant] = trained(self.dataset, VARIANTS[variant])
        return self[variant]


@pytest.fixture(scope="module")
def models(three_way: Dataset) -> Trained:
    return Trained(three_way)


def trained(dataset: Dataset, overrides: dict[str, Any]) -> keras.Model:
    """A few training steps of a small Pitot model, its towers' output layers then scaled up
    (:data:`SCALE`)."""
    model = train(resolve("pitot", {**SMALL, **overrides}), dataset,
                  make_split(dataset, 0.5)).model
    for layer in model_parts(model).interactions:
        for tower in (layer.workload_tower, layer.platform_tower):
            head = tower.head if tower.kind == "hybrid" else None
            if head is not None:
                head.kernel.assign(head.kernel * SCALE)
            else:
                tower.table.assign(tower.table * SCALE)
    return model


def assert_equal_to_keras(tables: NumpyPitot, model: keras.Model,
                          inputs: dict[str, np.ndarray]) -> None:
    found = tables.predict(inputs["platform"], inputs["workload"], inputs["interferers"])
    expected = predict_inputs(model, inputs)
    assert found.dtype == np.float32 and found.shape == expected.shape
    np.testing.assert_allclose(found, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("variant", VARIANTS)
def test_numpy_equals_keras_on_every_objective(three_way: Dataset, models: Trained,
                                                variant: str) -> None:
    model = models[variant]
    tables = numpy_pitot(model)
    assert tables is not None
    for objective in ("mf", "if2", "if3"):
        inputs = objective_rows(three_way, objective).inputs()
        assert_equal_to_keras(tables, model, inputs)
    # The co-runners matter: without them the 3-way predictions move by far more than the
    # tolerance, so the comparison above covers the interference term.
    inputs = objective_rows(three_way, "if3").inputs()
    alone = {**inputs, "interferers": np.full_like(inputs["interferers"], -1)}
    moved = np.abs(predict_inputs(model, inputs) - predict_inputs(model, alone))
    assert moved.mean() > 1e-3


@pytest.mark.parametrize("variant", ["reference-quantiles", "cold-dropout",
                                     "ensemble-reference", "shared"])
def test_new_workloads_equal_an_extended_keras_model(three_way: Dataset, models: Trained,
                                                     variant: str) -> None:
    model = models[variant]
    tables = numpy_pitot(model)
    assert tables is not None
    features = three_way.workloads.features[[1, 6]] * 1.3 - 0.2
    grown = tables.with_workloads(features)
    n = tables.workloads
    assert grown.workloads == n + 2
    inputs = {"platform": np.array([0, 3, 7, 2], np.int32),
              "workload": np.array([n, n + 1, 4, 5], np.int32),
              "interferers": np.array([[-1, -1], [n, 1], [n + 1, -1], [n, n + 1]], np.int32)}
    assert_equal_to_keras(grown, extend_model(model, workload_features=features), inputs)


@pytest.mark.parametrize("variant", ["paper", "reference-quantiles", "cold-dropout",
                                     "ensemble-reference", "shared"])
def test_new_platforms_equal_an_extended_keras_model(three_way: Dataset, models: Trained,
                                                     variant: str) -> None:
    model = models[variant]
    tables = numpy_pitot(model)
    assert tables is not None
    features = three_way.platforms.features[[1, 6]] * 1.3 - 0.2
    grown = tables.with_platforms(features)
    p, w = tables.platforms, tables.workloads
    assert grown.platforms == p + 2 and grown.workloads == w
    inputs = {"platform": np.array([p, p + 1, p, 3, p + 1], np.int32),
              "workload": np.array([0, 4, 5, 2, 7], np.int32),
              "interferers": np.array([[-1, -1], [3, -1], [1, 2], [p, -1], [w - 1, 0]],
                                      np.int32)}
    assert_equal_to_keras(grown, extend_model(model, platform_features=features), inputs)


@pytest.mark.parametrize("variant", ["paper", "shared-reference-quantiles"])
def test_a_new_workload_on_a_new_platform_equals_keras(three_way: Dataset, models: Trained,
                                                       variant: str) -> None:
    model = models[variant]
    tables = numpy_pitot(model)
    assert tables is not None
    workload = three_way.workloads.features[[3]] + 0.4
    platform = three_way.platforms.features[[2]] - 0.3
    grown = tables.with_workloads(workload).with_platforms(platform)
    p, w = tables.platforms, tables.workloads
    inputs = {"platform": np.array([p, p, 0], np.int32), "workload": np.array([w, 1, w], np.int32),
              "interferers": np.array([[-1, -1], [w, -1], [2, -1]], np.int32)}
    extended = extend_model(model, platform_features=platform, workload_features=workload)
    assert_equal_to_keras(grown, extended, inputs)


def test_a_new_platform_refuses_features_of_another_length(models: Trained) -> None:
    tables = numpy_pitot(models["paper"])
    assert tables is not None
    with pytest.raises(PredictionError, match="a new platform needs"):
        tables.with_platforms(np.zeros((1, tables.feature_dim + 7), np.float32))


def test_other_kinds_have_no_numpy_tables(synth_dataset: Dataset) -> None:
    from pitot_tf.models import build_model

    model = build_model(resolve("baseline/monolith"), synth_dataset)
    assert numpy_pitot(model) is None


@pytest.mark.parametrize("variant", ["shared-reference-quantiles", "cold-dropout",
                                     "ensemble-reference"])
def test_saved_tables_load_without_keras_and_answer_the_same(
    three_way: Dataset, models: Trained, variant: str, tmp_path: Path
) -> None:
    tables = numpy_pitot(models[variant])
    assert tables is not None
    loaded = load_tables(*save_tables(tables, tmp_path))
    inputs = objective_rows(three_way, "if3").inputs()
    new_w, new_p = three_way.workloads.features[[2, 5]] + 0.3, three_way.platforms.features[[4]]
    for found, expected in ((loaded, tables),
                            (loaded.with_workloads(new_w), tables.with_workloads(new_w)),
                            (loaded.with_platforms(new_p), tables.with_platforms(new_p))):
        np.testing.assert_array_equal(
            found.predict(inputs["platform"], inputs["workload"], inputs["interferers"]),
            expected.predict(inputs["platform"], inputs["workload"], inputs["interferers"]))
    assert loaded.feature_dim == three_way.workloads.features.shape[1]
    assert loaded.platform_feature_dim == three_way.platforms.features.shape[1]


def test_tables_saved_without_a_platform_side_load_and_refuse_a_new_platform(
    three_way: Dataset, models: Trained, tmp_path: Path
) -> None:
    """Tables logged before platforms could be added still load and answer; asking for a new
    platform says, in one line, that they cannot."""
    tables = numpy_pitot(models["paper"])
    assert tables is not None
    arrays, layout = save_tables(tables, tmp_path)
    text = json.loads(layout.read_text())
    del text["platform_towers"], text["platform_feature_dim"]
    layout.write_text(json.dumps(text))
    with np.load(arrays) as stored:
        np.savez(arrays, **{n: stored[n] for n in stored.files if not n.startswith("platform_t")
                            and not n.startswith("platform_b")})
    old = load_tables(arrays, layout)
    assert old.new_platforms is None and old.platform_feature_dim is None
    inputs = objective_rows(three_way, "if2").inputs()
    np.testing.assert_array_equal(
        old.predict(inputs["platform"], inputs["workload"], inputs["interferers"]),
        tables.predict(inputs["platform"], inputs["workload"], inputs["interferers"]))
    with pytest.raises(PredictionError, match=r"^this model's tables were saved without its "
                                              r"platform towers[^\n]*$"):
        old.with_platforms(three_way.platforms.features[[0]])


def test_tables_of_another_format_are_refused_naming_the_file(
    models: Trained, tmp_path: Path
) -> None:
    tables = numpy_pitot(models["paper"])
    assert tables is not None
    arrays, layout = save_tables(tables, tmp_path)
    text = json.loads(layout.read_text())
    layout.write_text(json.dumps({**text, "format": 99}))
    with pytest.raises(PredictionError, match=r"tables\.json: table format 99"):
        load_tables(arrays, layout)
    layout.write_text(json.dumps(text))
    with np.load(arrays) as stored:
        kept = {name: stored[name] for name in stored.files if name != "offset"}
    np.savez(arrays, **kept)
    with pytest.raises(PredictionError, match=r"tables\.npz: array 'offset' is missing"):
        load_tables(arrays, layout)
