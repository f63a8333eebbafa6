"""The logged pyfunc-model is served by a fresh virtual environment holding only its own
requirements (numpy, pandas, mlflow-skinny, orjson; no TensorFlow), through ``mlflow models serve``:
``benchmarks/serve_env.py`` on a small synthetic model."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pitot_tf.data.synth import synthesize_dataset

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.smoke
def test_a_fresh_venv_of_the_requirements_serves_the_model(tmp_path: Path) -> None:
    data = synthesize_dataset(tmp_path / "data", platforms=16, workloads=24, seed=1)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "serve_env.py"), "--data-dir", str(data),
         "--steps", "20", "--workdir", str(tmp_path / "work")],
        capture_output=True, text=True, timeout=1500, env=env, cwd=tmp_path)
    assert done.stdout.strip(), done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["problems"] == [] and done.returncode == 0
    assert {line.split("==")[0] for line in report["requirements"]} == {
        "mlflow-skinny", "numpy", "pandas", "orjson"}
    assert not {"tensorflow", "tensorflow-cpu", "keras"} & set(report["installed"])
    assert report["good_status"] == 200 and report["bad_status"] == 400
    assert report["bad_message"].startswith("row 0: workload: unknown workload")
    answers = report["answer"]
    assert len(answers) == 2 and all(
        math.isfinite(row["upper_bound_s"]) and row["upper_bound_s"] >= row["predicted_runtime_s"]
        > 0 for row in answers)
