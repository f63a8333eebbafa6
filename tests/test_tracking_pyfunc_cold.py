"""The pyfunc model answers for a workload it has never seen, given its feature vector."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pitot_tf.conformal.evaluate import evaluate
from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import make_split
from pitot_tf.errors import PredictionError
from pitot_tf.models.cold import extend_model
from pitot_tf.presets import resolve
from pitot_tf.tracking.models import pyfunc_state
from pitot_tf.tracking.pyfunc import (
    COLD_BOUND_NOTE,
    COLD_NOTE,
    WARM_BOUND_NOTE,
    PitotRuntimeModel,
)
from pitot_tf.training import train


@pytest.fixture(scope="module")
def served(synth_dataset: Dataset) -> tuple[PitotRuntimeModel, Dataset]:
    config = resolve("pitot", {"training.steps": 40, "training.val_every": 20,
                               "training.batch": 64, "training.progress": False,
                               "model.layers": [16], "model.mf_dim": 8})
    split = make_split(synth_dataset, 0.5)
    trained = train(config, synth_dataset, split).model
    model = PitotRuntimeModel()
    model.load(trained, pyfunc_state(synth_dataset, evaluate(trained, synth_dataset, split)))
    return model, synth_dataset


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
