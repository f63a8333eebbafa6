"""Worker processes on this machine, shared by ``pitot-tf search`` and ``pitot-tf sweep``.

The runner starts ``python -m MODULE JOB_JSON`` once per worker (each with its share of the
cores, :func:`~pitot_tf.training.runtime.worker_environment`) and waits for all of them. It does
not recover anything itself: a dead worker's trial or cell is failed and re-queued exactly once
through the storage's heartbeat (:mod:`pitot_tf.search.storage`), by whichever process notices.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pitot_tf.errors import PitotError
from pitot_tf.training.runtime import worker_environment

Job = TypeVar("Job", bound="JsonJob")


class JsonJob:
    """Mixin for a worker's job dataclass: it travels to the process as one JSON argument."""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))  # type: ignore[call-overload]

    @classmethod
    def from_json(cls: type[Job], text: str) -> Job:
        return cls(**json.loads(text))


def worker_main(job_type: type[Job], run: Callable[[Job], Any], argv: list[str]) -> int:
    """``python -m MODULE JOB_JSON``: run the job, print its report as JSON; a user error is
    one line on stderr and exit status 1."""
    try:
        report = run(job_type.from_json(argv[0]))
    except PitotError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(dataclasses.asdict(report)))
    return 0


def run_processes(module: str, jobs: list[str], on_poll: Callable[[], None] | None = None,
                  poll_s: float = 0.5) -> list[str]:
    """Run one worker process per job; return a line per process that exited non-zero."""
    environment = worker_environment(len(jobs))
    processes = [subprocess.Popen([sys.executable, "-m", module, job], env=environment)
                 for job in jobs]
    crashed: list[str] = []
    try:
        pending = list(processes)
        while pending:
            time.sleep(poll_s)
            if on_poll:
                on_poll()
            for process in [p for p in pending if p.poll() is not None]:
                pending.remove(process)
                if process.returncode != 0:
                    crashed.append(f"pid {process.pid} exited with {process.returncode}")
    except KeyboardInterrupt:
        for process in processes:
            process.wait()
        raise
    return crashed
