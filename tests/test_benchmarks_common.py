"""``benchmarks/common.py``: the options, timing and output every benchmark script shares."""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
#: Not benchmarks of their own: one photographs web UIs for the docs (``screenshots.sh`` drives
#: it); one runs the reference implementation in its own environment, without pitot-tf; one
#: is the simulation ``active.py`` imports (the script takes the shared options).
NOT_BENCHMARKS = {"common.py", "screenshot_ui.py", "reference_run.py", "active_simulation.py"}


@pytest.fixture(scope="module")
def common() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmarks_common", BENCHMARKS / "common.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_set_takes_both_spellings_and_later_values_win(common: ModuleType) -> None:
    parser = argparse.ArgumentParser()
    common.add_data_options(parser, splits=True, steps=200)
    args = parser.parse_args(["--set", "model.mf_dim=8", "model.layers=[16]",
                              "--set", "model.mf_dim=4", "--splits", "s"])
    assert (args.data_dir, args.splits, args.steps) == (None, "s", 200)
    assert common.overrides_of(args, {"training.ensemble": 2, "model.mf_dim": 64}) == {
        "training.progress": False, "training.ensemble": 2, "model.mf_dim": 4,
        "model.layers": [16]}
    assert common.overrides_of(parser.parse_args([]), quiet=False) == {}


def test_options_a_script_leaves_out_are_not_there(common: ModuleType) -> None:
    parser = argparse.ArgumentParser()
    common.add_data_options(parser, steps=False, overrides=False)
    assert vars(parser.parse_args([])) == {"data_dir": None}
    with pytest.raises(SystemExit):
        parser.parse_args(["--steps", "3"])


def test_stopwatch_times_wall_and_cpu(common: ModuleType) -> None:
    with common.stopwatch() as timing:
        time.sleep(0.05)
    assert timing.wall_s >= 0.05 and timing.cpu_s < timing.wall_s


def test_peak_rss_is_at_least_the_current_rss(common: ModuleType) -> None:
    import psutil

    assert common.peak_rss_mb() >= psutil.Process().memory_info().rss / 2**20 * 0.99


def test_emit_prints_one_json_line_and_appends_it(
    common: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs.jsonl"
    common.emit({"a": 1}, out)
    common.emit({"b": [0.5]}, out)
    common.emit({"c": None})
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [
        {"a": 1}, {"b": [0.5]}, {"c": None}]
    assert common.read_jsonl(out) == [{"a": 1}, {"b": [0.5]}]


def test_checkout_env_runs_this_checkout_first(common: ModuleType) -> None:
    env = common.checkout_env(EXTRA="1")
    assert env["PYTHONPATH"].split(":")[0] == str(BENCHMARKS.parent)
    assert env["EXTRA"] == "1"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCHMARKS.glob("*.py")
                                          if p.name not in NOT_BENCHMARKS))
def test_every_benchmark_uses_the_shared_helper(script: str) -> None:
    """Each script imports ``common`` and declares no ``--data-dir`` or ``--set`` of its own."""
    tree = ast.parse((BENCHMARKS / script).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "common" in imported
    declared = {arg.value for node in ast.walk(tree) if isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") == "add_argument"
                for arg in node.args if isinstance(arg, ast.Constant)}
    assert not declared & {"--data-dir", "--set"}, declared
