"""Worker processes, shared by ``pitot-tf search`` and ``pitot-tf sweep``.

* :class:`ProcessId`: which process on which host runs a trial or a cell, and whether it still
  exists (``psutil``); a process is named by host, pid and start time, so that a pid reused
  after a crash is not taken for the old process.
* :func:`spawn_copies`: ``--workers N`` starts N copies of the same ``pitot-tf`` command, each
  with its share of the cores (:func:`~pitot_tf.training.runtime.worker_environment`) and its
  rank in ``PITOT_WORKER`` (``"i/N"``, read by :func:`worker_rank`), and waits for them.
  Nothing here hands out work: the copies share an Optuna storage (search) or an MLflow
  tracking store (sweep), which is where concurrency is settled.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psutil

from pitot_tf.training.runtime import worker_environment

#: ``"i/N"``: this process is copy ``i`` of ``N`` started by ``--workers N``.
WORKER_VARIABLE = "PITOT_WORKER"
#: Runs ``pitot-tf`` with the arguments after ``-c`` (no console script needed on PATH).
CLI = "import sys; from pitot_tf.cli import main; sys.argv[0] = 'pitot-tf'; main()"


@dataclass(frozen=True)
class ProcessId:
    """A process on some host; ``start`` (seconds since the epoch) is None where unknown."""

    host: str
    pid: int
    start: float | None = None

    @classmethod
    def this(cls) -> ProcessId:
        process = psutil.Process()
        return cls(socket.gethostname(), process.pid, process.create_time())

    @classmethod
    def parse(cls, host: Any, pid: Any, start: Any) -> ProcessId | None:
        """From recorded values (tags are text); None when nothing usable is recorded."""
        try:
            return cls(str(host), int(pid), None if start in (None, "") else float(start))
        except (TypeError, ValueError):
            return None

    @property
    def is_local(self) -> bool:
        return self.host == socket.gethostname()

    def is_gone(self) -> bool:
        """Whether this process ran on this host and has exited (a zombie, or its pid now held
        by a younger process, counts as exited). Nothing here can tell for another host."""
        if not self.is_local:
            return False
        try:
            process = psutil.Process(self.pid)
            return process.status() == psutil.STATUS_ZOMBIE or (
                self.start is not None and abs(process.create_time() - self.start) > 0.01)
        except psutil.NoSuchProcess:
            return True
        except psutil.Error:
            return False


def worker_rank() -> tuple[int, int]:
    """``(i, N)`` from ``PITOT_WORKER``; ``(0, 1)`` for a process the user started."""
    rank, _, count = os.environ.get(WORKER_VARIABLE, "0/1").partition("/")
    try:
        return int(rank), max(1, int(count))
    except ValueError:
        return 0, 1


def override_text(key: str, value: Any) -> str:
    """``key=value`` as ``--set`` reads it back in a copy (YAML; JSON is YAML)."""
    return f"{key}={value if isinstance(value, str) else json.dumps(value)}"


def spawn_copies(args: Sequence[str], workers: int, env: Mapping[str, str] | None = None,
                 on_poll: Callable[[], None] | None = None, poll_s: float = 1.0) -> list[int]:
    """Run ``pitot-tf ARGS`` in ``workers`` processes at once; return their exit codes.
    Ctrl-C reaches the copies too (same process group); they end their own runs."""
    import mlflow

    environment = {**worker_environment(workers), **(env or {}),
                   "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri()}
    copies = [subprocess.Popen([sys.executable, "-c", CLI, *args],
                               env={**environment, WORKER_VARIABLE: f"{i}/{workers}"})
              for i in range(workers)]
    try:
        while any(p.poll() is None for p in copies):
            time.sleep(poll_s)
            if on_poll is not None:
                on_poll()
    except KeyboardInterrupt:
        for process in copies:
            process.wait()
        raise
    return [int(p.returncode) for p in copies]
