"""Helpers shared by the ``test_search_*`` files: tiny study files, data and MLflow set-up."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SHIPPED_STUDIES = REPO / "studies"

#: A trial of the tiny study trains for about a second on the synthetic data (without XLA,
#: whose compiling costs more than 60 steps save; it gives the same maths:
#: ``test_training.py::test_xla_trains_the_same_model``).
TINY_OVERRIDES: dict[str, Any] = {
    "training.steps": 60, "training.val_every": 20, "training.batch": 64,
    "training.jit_compile": False,
}


def tiny_study(**changes: Any) -> dict[str, Any]:
    """A study definition with a two-key space, random sampling and no pruner."""
    study: dict[str, Any] = {
        "description": "tiny test study",
        "preset": "pitot",
        "data": {"level": 0.5, "replicates": [0]},
        "objective": {"metrics": ["val_loss"], "alpha": 0.1},
        "sampler": {"kind": "random", "seed": 0},
        "pruner": {"kind": "none"},
        "overrides": dict(TINY_OVERRIDES),
        "space": {
            "training.learning_rate": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
            "model.mf_dim": {"type": "int", "low": 4, "high": 32, "log": True},
        },
        # a worker holding the GIL (TensorFlow tracing) on a loaded machine can miss beats for
        # seconds; dead local workers are found at once anyway (their process is gone)
        "heartbeat": {"interval": 1, "grace_period": 15, "max_retry": 2},
    }
    study.update(changes)
    return study


def write_study(directory: Path, name: str = "tiny", **changes: Any) -> Path:
    """Write ``tiny_study(**changes)`` to ``directory/name.yaml``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(tiny_study(**changes), sort_keys=False))
    return path


def make_data(directory: Path) -> Path:
    """A synthetic dataset big enough for conformal halves at alpha 0.1 (24 x 40)."""
    from pitot_tf.data.synth import synthesize_dataset

    return synthesize_dataset(directory, platforms=24, workloads=40, interference=(2,), seed=3)


@contextmanager
def tracking_at(directory: Path) -> Iterator[str]:
    """MLflow pointed at a SQLite database in ``directory`` (env and process-wide), run from
    ``directory`` so that new experiments keep their artifacts (``./mlruns``) there too."""
    import mlflow

    uri = f"sqlite:///{directory}/mlflow.db"
    previous_env = os.environ.get("MLFLOW_TRACKING_URI")
    previous, cwd = mlflow.get_tracking_uri(), Path.cwd()
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    os.chdir(directory)
    try:
        yield uri
    finally:
        os.chdir(cwd)
        if previous_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous_env
        mlflow.set_tracking_uri(previous)
