"""A private MLflow tracking store per test module, fast.

Creating an SQLite tracking database runs every schema migration (seconds), so the first use
in a session builds an empty one and later uses copy it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
import pytest

_TEMPLATE = "mlflow-template.db"


def empty_store(root: Path, base: Path) -> str:
    """``sqlite:///<root>/mlflow.db``: a fresh, migrated tracking database; ``base`` holds
    the session's template (e.g. ``tmp_path_factory.getbasetemp()``)."""
    template = base / _TEMPLATE
    if not template.is_file():
        # the Default experiment's artifact folder is ./mlruns/0 of the working directory
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(base)
            mlflow.MlflowClient(tracking_uri=f"sqlite:///{template}").search_experiments()
    shutil.copyfile(template, root / "mlflow.db")
    return f"sqlite:///{root}/mlflow.db"


@contextmanager
def private_tracking(root: Path, base: Path) -> Iterator[str]:
    """Use a fresh store in ``root`` (also the working directory, so ``./mlruns`` lands
    there) for MLflow calls in this process and in subprocesses; restore everything after."""
    uri = empty_store(root, base)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", uri)
        patch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
        for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
            patch.setenv(name, "")  # records the original value, restored after
            patch.delenv(name)
        yield uri


def experiment(name: str, root: Path) -> str:
    """Create experiment ``name`` with its artifacts under ``root``; return its id."""
    return mlflow.create_experiment(name, artifact_location=(root / "artifacts" / name).as_uri())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Poll ``url`` until it answers; fail early if the serving ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s")
