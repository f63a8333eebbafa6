"""``benchmarks/time_to_accuracy.py``: which validation first reaches the reference's accuracy,
which split folder a level is, and the summary over pairs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    sys.path.insert(0, str(BENCHMARKS))  # the script imports ``common`` as its neighbour
    try:
        spec = importlib.util.spec_from_file_location("time_to_accuracy",
                                                      BENCHMARKS / "time_to_accuracy.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def test_time_to_accuracy_is_the_first_validation_with_every_objective_there(
        script: ModuleType) -> None:
    ours = {"started": 100.0, "trace": [
        (105.0, 200, {"mf": 0.10, "if2": 0.05}),  # if2 there, mf not
        (107.5, 400, {"mf": 0.058, "if2": 0.07}),  # both at or below
        (110.0, 600, {"mf": 0.05, "if2": 0.06}),
    ]}
    assert script.time_to_accuracy(ours, {"mf": 0.058, "if2": 0.076}) == 7.5
    assert script.time_to_accuracy(ours, {"mf": 0.01, "if2": 0.076}) is None


def test_the_level_folder_is_found_by_value(script: ModuleType, tmp_path: Path) -> None:
    for name in ("0.1", "0.50", "notes"):
        (tmp_path / name).mkdir()
    assert script.level_folder(tmp_path, 0.5) == "0.50"
    with pytest.raises(SystemExit, match="no folder for level 0.9"):
        script.level_folder(tmp_path, 0.9)


def test_the_summary_takes_medians_and_means(script: ModuleType) -> None:
    pairs = [{"wall_ratio": r, "time_to_accuracy_ratio": t, "reference_test": {"mf": m},
              "ours_test": {"mf": m / 2}} for r, t, m in ((0.5, 0.4, 0.06), (0.3, 0.2, 0.04),
                                                         (0.4, 0.3, 0.05))]
    result = script.summary(pairs)
    assert (result["median_wall_ratio"], result["median_time_to_accuracy_ratio"]) == (0.4, 0.3)
    assert result["reference_test_mean"] == {"mf": 0.05}
    assert result["ours_test_mean"] == {"mf": 0.025}
    pairs[0]["time_to_accuracy_ratio"] = None
    assert script.summary(pairs)["median_time_to_accuracy_ratio"] is None
