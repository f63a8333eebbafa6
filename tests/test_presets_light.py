"""Resolving presets and printing configs stays light: no TensorFlow, Keras or MLflow is
imported, by the library or by ``pitot-tf presets`` (each case in a fresh interpreter)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("tensorflow", "keras", "mlflow")
CHECK_HEAVY = f"""
heavy = sorted({{name.split(".")[0] for name in sys.modules}} & set({HEAVY!r}))
assert not heavy, f"imported {{heavy}}"
"""


def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(REPO), "PITOT_PRESETS": str(tmp_path)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=environment, timeout=120, check=False)


def test_every_preset_resolves_without_tensorflow(tmp_path: Path) -> None:
    code = """
import json, sys
from pitot_tf.presets import all_presets, resolve
names = list(all_presets())
for name in names:
    json.dumps(resolve(name).to_dict())
print(len(names))
""" + CHECK_HEAVY
    result = _python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 10


@pytest.mark.parametrize("args", [["presets"], ["presets", "show", "conformal/optimal"],
                                  ["presets", "show", "pitot/best"]])
def test_the_presets_commands_import_no_tensorflow(tmp_path: Path, args: list[str]) -> None:
    code = f"""
import sys
from pitot_tf.cli import app, register_commands
register_commands()
app({args!r}, standalone_mode=False)
""" + CHECK_HEAVY
    result = _python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert '"model"' in result.stdout or "pitot/best" in result.stdout
