"""Measured runtimes folded in before planning move the planned workload's predictions
towards them (runs alone only), and a measured CSV file reads as its JSON twin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from planning_support import Served, served_model

from pitot_tf.models.fold_in import Entity
from pitot_tf.planning.fold import fold_measured
from pitot_tf.planning.measured import Measured, read_measured
from pitot_tf.planning.rows import Rows
from pitot_tf.planning.served import planning_model


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    return served_model(tmp_path_factory.mktemp("fold"))


def predicted_s(served: Served, model: object, workload: int) -> np.ndarray:
    tables = model.tables  # type: ignore[attr-defined]
    platforms = np.arange(tables.platforms, dtype=np.int32)
    log_t = tables.predict(platforms, np.full(len(platforms), workload, np.int32),
                           np.full((len(platforms), 1), -1, np.int32))[:, 0]
    return np.exp(log_t.astype(np.float64)) * served.pyfunc.seconds_per_unit


def test_slower_measurements_raise_the_predictions(served: Served) -> None:
    model, _ = planning_model(served.pyfunc, 0.05)
    before = predicted_s(served, model, 2)
    runs = Measured(Rows(np.array([0, 1, 2], np.int32), np.full((3, 1), -1, np.int32)),
                    before[:3] * 3.0)
    after = predicted_s(served, fold_measured(model, Entity("workload", 2), runs), 2)
    assert np.all(after[:3] > before[:3] * 1.1)  # towards 3x, as far as the prior lets it
    assert np.median(after[3:] / before[3:]) > 1.1  # the other platforms learn too


def test_runs_with_co_runners_leave_the_model_unchanged(served: Served) -> None:
    model, _ = planning_model(served.pyfunc, 0.05)
    runs = Measured(Rows(np.array([0], np.int32), np.array([[4]], np.int32)), np.array([9.0]))
    assert fold_measured(model, Entity("workload", 2), runs) is model


def test_csv_and_json_files_read_alike(served: Served, tmp_path: Path) -> None:
    p, w = served.dataset.platforms.names, served.dataset.workloads.names
    (tmp_path / "m.csv").write_text(f"platform,co_runners,runtime_s\n{p[1]},,0.5\n"
                                    f"{p[2]},{w[0]};{w[1]},2\n")
    (tmp_path / "m.json").write_text(
        f'[{{"platform": "{p[1]}", "runtime_s": 0.5}}, '
        f'{{"platform": "{p[2]}", "co_runners": ["{w[0]}", "{w[1]}"], "runtime_s": 2}}]')
    csv = read_measured(tmp_path / "m.csv", served.pyfunc.names)
    json = read_measured(tmp_path / "m.json", served.pyfunc.names)
    assert csv.rows.keys() == json.rows.keys() == [(1, ()), (2, (0, 1))]
    assert np.array_equal(csv.runtime_s, json.runtime_s)


def test_a_platforms_slower_runs_raise_its_predictions(served: Served) -> None:
    model, _ = planning_model(served.pyfunc, 0.05, axis="platform")
    tables = model.tables
    workloads = np.arange(tables.workloads, dtype=np.int32)

    def on_platform(m: object) -> np.ndarray:
        t = m.tables  # type: ignore[attr-defined]
        return np.exp(t.predict(np.full(len(workloads), 1, np.int32), workloads,
                                np.full((len(workloads), 1), -1, np.int32))[:, 0])

    before = on_platform(model)
    runs = Measured(Rows(workloads[:4], np.full((4, 1), -1, np.int32)),
                    before[:4] * served.pyfunc.seconds_per_unit * 3.0)
    after = on_platform(fold_measured(model, Entity("platform", 1), runs))
    assert np.all(after[:4] > before[:4] * 1.1)
    assert np.median(after[4:] / before[4:]) > 1.1


def test_a_platforms_measured_file_reads_workloads(served: Served, tmp_path: Path) -> None:
    w = served.dataset.workloads.names
    (tmp_path / "m.csv").write_text(f"workload,runtime_s\n{w[3]},0.5\n{w[5]},2\n")
    runs = read_measured(tmp_path / "m.csv", served.pyfunc.names, "platform")
    assert runs.rows.keys() == [(3, ()), (5, ())]
