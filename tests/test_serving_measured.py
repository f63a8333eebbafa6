"""Measured runs in a request or a file: checked entries, converted to the model's unit, and
one-line errors naming where, the entry and the field."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from pitot_tf.cli.predict import _read_measured
from pitot_tf.errors import PredictionError
from pitot_tf.models.fold_in import MAX_MEASUREMENTS
from pitot_tf.serving.measured import measured_runs

PLATFORMS = {"rpi": 0, "nuc": 1}


def test_runs_of_the_workload_on_platforms_become_measurements() -> None:
    runs = measured_runs('[{"platform": "nuc", "runtime_s": 0.5}, '
                         '{"platform": "rpi", "runtime_s": 2}]', "row 0")
    assert runs is not None and runs.axis == "workload"
    measured = runs.measurements(PLATFORMS, 1e-6, "row 0")  # a model in microseconds
    np.testing.assert_array_equal(measured.other, [1, 0])
    np.testing.assert_allclose(measured.log_runtime, np.log([0.5e6, 2e6]))


def test_runs_of_workloads_on_the_platform_fold_in_the_platform() -> None:
    runs = measured_runs([{"workload": "fft", "runtime_s": "0.25"}], "row 3")
    assert runs is not None and runs.axis == "platform" and runs.names == ("fft",)


@pytest.mark.parametrize("value", [None, "", [], math.nan])
def test_no_measurements(value: object) -> None:
    assert measured_runs(value, "row 0") is None


@pytest.mark.parametrize(("value", "message"), [
    ([{"platform": "rpi", "runtime_s": 0}],
     "row 2: measured: entry 0: runtime_s must be positive"),
    ([{"platform": "rpi", "runtime_s": "inf"}], "entry 0: runtime_s must be positive and finite"),
    ([{"platform": "rpi", "runtime_s": "fast"}], "entry 0: runtime_s must be a number"),
    ([{"platform": "rpi"}], "entry 0: runtime_s must be a number"),
    ([{"runtime_s": 1.0}], "entry 0: needs exactly one of platform and workload"),
    ([{"platform": "rpi", "workload": "fft", "runtime_s": 1}], "needs exactly one of"),
    ([{"platform": "rpi", "runtime_s": 1, "co_runners": "x"}], "unknown field 'co_runners'"),
    ([{"platform": "rpi", "runtime_s": 1}, {"workload": "fft", "runtime_s": 1}], "not both"),
    ([{"platform": "rpi", "runtime_s": 1}] * (MAX_MEASUREMENTS + 1), "over the limit"),
    ("[{", "row 2: measured: not JSON"),
    ({"platform": "rpi"}, "row 2: measured: must be a list of objects"),
    ([3], "entry 0: must be an object"),
])
def test_bad_entries_are_one_line_errors(value: object, message: str) -> None:
    with pytest.raises(PredictionError, match=message) as error:
        measured_runs(value, "row 2: measured")
    assert "\n" not in str(error.value)


def test_unknown_name_is_named() -> None:
    runs = measured_runs([{"platform": "rpi", "runtime_s": 1}, {"platform": "tpu",
                                                                "runtime_s": 1}], "row 0")
    assert runs is not None
    with pytest.raises(PredictionError, match="row 0: entry 1: platform: unknown platform 'tpu'"):
        runs.measurements(PLATFORMS, 1.0, "row 0")


def test_csv_and_json_files(tmp_path: Path) -> None:
    csv_file = tmp_path / "runs.csv"
    csv_file.write_text("platform,runtime_s\nrpi,0.5\nnuc,0.25\n")
    assert json.loads(_read_measured(csv_file)) == [
        {"platform": "rpi", "runtime_s": "0.5"}, {"platform": "nuc", "runtime_s": "0.25"}]
    json_file = tmp_path / "runs.json"
    json_file.write_text('[{"workload": "fft", "runtime_s": 1.5}]')
    assert json.loads(_read_measured(json_file)) == [{"workload": "fft", "runtime_s": 1.5}]
    assert _read_measured(None) == ""


@pytest.mark.parametrize(("text", "message"), [
    ("platform,runtime_s\nrpi,0.5\nnuc,-1\n", "runs.csv: row 3: runtime_s must be positive"),
    ("platform,runtime_s\nrpi,\n", "runs.csv: row 2: runtime_s must be a number"),
    ("platform,seconds\nrpi,1\n", "runs.csv: a CSV needs a header row with runtime_s"),
])
def test_bad_csv_rows_name_file_row_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "runs.csv"
    path.write_text(text)
    with pytest.raises(PredictionError, match=message):
        _read_measured(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PredictionError, match="measured runs file not found"):
        _read_measured(tmp_path / "nope.csv")
