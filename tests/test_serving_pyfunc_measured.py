"""The pyfunc model folds a request's measured runs into its workload (or platform) before it
answers, and refuses bad ones with a 400 naming the row, entry and field."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from model_support import tiny_pyfunc

from pitot_tf.conformal.few_shot import k_group
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


@pytest.fixture(scope="module")
def cold_served(synth_dataset: Dataset) -> tuple[PitotRuntimeModel, Dataset]:
    return tiny_pyfunc(synth_dataset, cold=True), synth_dataset


def runs_on(model: PitotRuntimeModel, workload: str, platforms: list[str]) -> str:
    """Runs of ``workload`` on ``platforms`` at twice the model's prediction, as JSON."""
    predicted = model.predict(None, pd.DataFrame({"workload": [workload] * len(platforms),
                                                  "platform": platforms}))
    return json.dumps([{"platform": p, "runtime_s": 2 * float(t)} for p, t in
                       zip(platforms, predicted["predicted_runtime_s"], strict=True)])


def test_bound_after_k_runs_uses_the_margin_of_its_group(
        cold_served: tuple[PitotRuntimeModel, Dataset]) -> None:
    """A model from a cold-workload split bounds a row with k runs of its workload by the
    margin calibrated with k runs folded in (per objective degree), and says so."""
    model, dataset = cold_served
    assert set(model.fold_in_margins.by_degree) == {1, 2}
    w, others = str(dataset.workloads.names[0]), [str(p) for p in dataset.platforms.names]
    co_runner, rows = str(dataset.workloads.names[1]), []
    for k in (1, 3, 8):
        runs = runs_on(model, w, others[:k])
        rows += [{"workload": w, "platform": others[-1], "measured": runs},
                 {"workload": w, "platform": others[-1], "co_runners": co_runner,
                  "measured": runs}]
    answer = model.predict(None, pd.DataFrame(rows))
    for i, row in enumerate(rows):
        k, degree = len(json.loads(row["measured"])), 2 if "co_runners" in row else 1
        margin = float(model.fold_in_margins.by_degree[degree].margin(0.05, [k_group(k)])[0])
        assert np.log(answer["upper_bound_s"][i] / answer["predicted_runtime_s"][i]) == \
            pytest.approx(margin, rel=1e-6)
        assert (f"{k} measured run(s) folded in; bound calibrated on held-out workloads with "
                f"{k_group(k)} run(s) folded in") in answer["note"][i]


def test_runs_on_a_platform_keep_the_margins_without_measurements(
        cold_served: tuple[PitotRuntimeModel, Dataset]) -> None:
    model, dataset = cold_served
    w, p = dataset.workloads.names, str(dataset.platforms.names[0])
    runs = json.dumps([{"workload": str(w[1]), "runtime_s": 0.01}])
    answer = model.predict(None, pd.DataFrame({"workload": [str(w[0])], "platform": [p],
                                               "measured": [runs]}))
    assert "the bound is calibrated without measurements" in answer["note"][0]


def test_alpha_the_groups_cannot_support_is_400(
        cold_served: tuple[PitotRuntimeModel, Dataset]) -> None:
    model, dataset = cold_served
    w, p = str(dataset.workloads.names[0]), [str(n) for n in dataset.platforms.names]
    request = pd.DataFrame({"workload": [w], "platform": [p[-1]], "alpha": [1e-6],
                            "measured": [runs_on(model, w, p[:2])]})
    with pytest.raises(BadRequest, match="^row 0: alpha 1e-06: ") as error:
        model.predict(None, request)
    assert "\n" not in str(error.value)
