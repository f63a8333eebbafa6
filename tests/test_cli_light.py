"""Commands that need no model import no TensorFlow: ``pitot-tf --help``, ``presets keys``,
``data validate`` and ``serve`` (which hands the model to MLflow's workers) start in a
fraction of a second instead of TensorFlow's five (each case in a fresh interpreter)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CODE = """
import sys
from pitot_tf.cli import run_args
try:
    code = run_args(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
heavy = sorted({name.split(".")[0] for name in sys.modules} & {"tensorflow", "keras"})
print("exit", code, "heavy", heavy)
"""


@pytest.mark.parametrize("args", [
    ["--help"], ["presets", "keys"], ["data", "validate"], ["serve", "--help"],
    ["serve", "--model-uri", "no-such-model-folder"],
])
def test_the_command_imports_no_tensorflow(tmp_path: Path, args: list[str]) -> None:
    environment = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_TRACKING_URI": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", CODE, *args], capture_output=True, text=True,
                            env=environment, cwd=tmp_path, timeout=120, check=False)
    last = result.stdout.strip().splitlines()[-1]
    assert last.endswith("heavy []"), result.stdout + result.stderr
    expected = "exit 1" if "no-such-model-folder" in args else "exit 0"
    assert last.startswith(expected), result.stdout + result.stderr
