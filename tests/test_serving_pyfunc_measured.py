"""The pyfunc model folds a request's measured runs into its workload (or platform) before it
answers, and refuses bad ones with a 400 naming the row, entry and field."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from model_support import tiny_pyfunc

from pitot_tf.data.dataset import Dataset
from pitot_tf.serving.pyfunc import BadRequest, PitotRuntimeModel


@pytest.fixture(scope="module")
def served(synth_dataset: Dataset) -> tuple[PitotRuntimeModel, Dataset]:
    return tiny_pyfunc(synth_dataset), synth_dataset


def test_measured_runs_move_the_prediction(served: tuple[PitotRuntimeModel, Dataset]) -> None:
    """Runs of a workload 3x slower than predicted on three platforms: its prediction on a
    fourth moves up, the same request without them does not, and the note says so."""
    model, dataset = served
    w, p = dataset.workloads.names[1], dataset.platforms.names
    plain = model.predict(None, pd.DataFrame({"workload": [w], "platform": [p[3]]}))
    before = model.predict(None, pd.DataFrame({"workload": [w] * 3, "platform": p[:3]}))
    runs = [{"platform": name, "runtime_s": 3 * float(t)}
            for name, t in zip(p[:3], before["predicted_runtime_s"], strict=True)]
    answer = model.predict(None, pd.DataFrame({
        "workload": [w, w], "platform": [p[3], p[3]], "measured": [json.dumps(runs), None]}))
    assert answer["predicted_runtime_s"][0] > 1.2 * plain["predicted_runtime_s"][0]
    assert answer["predicted_runtime_s"][1] == pytest.approx(plain["predicted_runtime_s"][0])
    assert "3 measured run(s) folded in" in answer["note"][0]


@pytest.mark.parametrize(("runs", "message"), [
    ([{"platform": "nowhere", "runtime_s": 1.0}],
     "row 0: measured: entry 0: platform: unknown platform 'nowhere'"),
    ([{"platform": "P", "runtime_s": -1}], "row 0: measured: entry 0: runtime_s must be positive"),
    ([{"platform": "P", "runtime_s": 1}] * 300, "row 0: measured: 300 entries, over the limit"),
])
def test_bad_measured_runs_are_400(served: tuple[PitotRuntimeModel, Dataset],
                                   runs: list[dict[str, object]], message: str) -> None:
    model, dataset = served
    platform = dataset.platforms.names[0]
    runs = [{**r, "platform": platform} if r["platform"] == "P" else r for r in runs]
    request = pd.DataFrame({"workload": [dataset.workloads.names[0]], "platform": [platform],
                            "measured": [json.dumps(runs)]})
    with pytest.raises(BadRequest, match=message) as error:
        model.predict(None, request)
    assert "\n" not in str(error.value)
