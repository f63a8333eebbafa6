"""Worker processes, shared by ``pitot-tf search`` and ``pitot-tf sweep``: which process runs a
trial or a run and whether it still exists (``psutil``), and the runner that starts
``python -m MODULE JOB_JSON`` once per worker (each with its share of the cores,
:func:`~pitot_tf.training.runtime.worker_environment`).

A process is named by host, pid and start time, so that a pid reused after a crash is not taken
for the old process. The runner recovers nothing itself: a dead worker's trial is failed and
re-queued exactly once by the storage's heartbeat (:mod:`pitot_tf.search.storage`) under the
admission lock (:mod:`pitot_tf.search.gate`), by whichever process notices first.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import psutil

from pitot_tf.errors import PitotError
from pitot_tf.training.runtime import worker_environment

Job = TypeVar("Job", bound="JsonJob")


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


def run_workers(module: str, jobs: list[JsonJob], run_here: Callable[[], object],
                on_poll: Callable[[], None] | None = None, poll_s: float = 0.5) -> list[str]:
    """One job in this process; several as worker processes, then (when some died) one last
    worker here, which finishes what the dead left. Returns a line per crashed process."""
    if len(jobs) == 1:
        run_here()
        return []
    environment = worker_environment(len(jobs))
    processes = [subprocess.Popen([sys.executable, "-m", module, job.to_json()],
                                  env=environment) for job in jobs]
    try:
        while any(p.poll() is None for p in processes):
            time.sleep(poll_s)
            if on_poll:
                on_poll()
    except KeyboardInterrupt:
        for process in processes:
            process.wait()
        raise
    crashed = [f"pid {p.pid} exited with {p.returncode}" for p in processes if p.returncode]
    if crashed:
        run_here()
    return crashed
