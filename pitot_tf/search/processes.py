"""``--workers N`` for ``pitot-tf search`` and ``pitot-tf sweep``: N copies of one command.

Each copy gets its share of the cores and its rank in ``PITOT_WORKER`` (``"i/N"``). Nothing here
hands out work: the copies share an Optuna storage or an MLflow tracking store, which is where
concurrency is settled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pitot_tf.training.runtime import worker_environment

#: ``"i/N"``: this process is copy ``i`` of ``N`` started by ``--workers N``.
WORKER_VARIABLE = "PITOT_WORKER"
#: Runs ``pitot-tf`` with the arguments after ``-c`` (no console script needed on PATH).
CLI = "import sys; from pitot_tf.cli import main; sys.argv[0] = 'pitot-tf'; main()"


def worker_rank() -> tuple[int, int]:
    """``(i, N)`` from ``PITOT_WORKER``; ``(0, 1)`` for a process the user started."""
    rank, _, count = os.environ.get(WORKER_VARIABLE, "0/1").partition("/")
    return int(rank), int(count)


def copy_args(command: str, options: Mapping[str, Any],
              overrides: Mapping[str, Any] | None = None) -> list[str]:
    """``pitot-tf COMMAND`` arguments for a copy: ``--option value`` per option (once per item
    of a list or tuple, none for None) and ``--set key=value`` per override."""
    args = [command]
    for option, value in options.items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if item is not None:
                args += [option, f"{item:g}" if isinstance(item, float) else str(item)]
    for item in (overrides or {}).items():
        args += ["--set", override_text(*item)]
    return args


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
