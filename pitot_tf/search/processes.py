"""Worker processes, shared by ``pitot-tf search`` and ``pitot-tf sweep``: which process runs a
trial or a run and whether it still exists (``psutil``), the runner that starts ``python -m
pitot_tf.search.processes MODULE JOB_JSON`` once per worker (each with its share of the cores,
:func:`~pitot_tf.training.runtime.worker_environment`; ``MODULE`` defines ``WorkerJob`` and
``run_worker``), and the ending of a dead worker's MLflow runs.

A process is named by host, pid and start time, so that a pid reused after a crash is not taken
for the old process. The runner recovers nothing itself: a dead worker's trial is failed and
re-queued exactly once by the storage's heartbeat (:mod:`pitot_tf.search.storage`) under the
admission lock (:mod:`pitot_tf.search.gate`), by whichever process notices first.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import psutil

from pitot_tf.errors import PitotError
from pitot_tf.training.runtime import worker_environment

if TYPE_CHECKING:
    import optuna
    from mlflow import MlflowClient
    from mlflow.entities import Run
    from optuna.trial import FrozenTrial

Job = TypeVar("Job", bound="JsonJob")
#: User attributes of a trial (search) or cell (sweep): the MLflow run(s) it made.
ATTR_RUN_ID, ATTR_RUN_IDS = "mlflow_run_id", "mlflow_run_ids"
log = logging.getLogger(__name__)


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


def main(argv: list[str]) -> int:
    """``python -m pitot_tf.search.processes MODULE JOB_JSON``: ``MODULE.run_worker`` on the
    job; a user error is one line on stderr and exit status 1."""
    module = importlib.import_module(argv[0])
    try:
        module.run_worker(module.WorkerJob.from_json(argv[1]))
    except PitotError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def run_workers(module: str, jobs: list[JsonJob], run_here: Callable[[], object],
                on_poll: Callable[[], None] | None = None, poll_s: float = 0.5) -> list[str]:
    """One job in this process; several as worker processes, then (when some died) one last
    worker here, which finishes what the dead left. Returns a line per crashed process."""
    if len(jobs) == 1:
        run_here()
        return []
    environment = worker_environment(len(jobs))
    processes = [subprocess.Popen([sys.executable, "-m", "pitot_tf.search.processes", module,
                                   job.to_json()],
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


def trial_run_ids(trial: FrozenTrial | optuna.Trial) -> list[str]:
    """The MLflow runs a search trial or sweep cell made (one per replicate it trained)."""
    several, single = trial.user_attrs.get(ATTR_RUN_IDS), trial.user_attrs.get(ATTR_RUN_ID)
    return str(several).split(",") if several else [str(single)] if single else []


def end_dead_runs(tracking_uri: str, trial: FrozenTrial,
                  end: Callable[[MlflowClient, Run, str], None]) -> None:
    """``end`` each still RUNNING MLflow run of ``trial`` (re-queued: its worker died), called
    by the process that re-queued it."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    reason = f"its worker died (stale heartbeat); trial {trial.number} re-queued"
    for run_id in trial_run_ids(trial):
        try:
            run = client.get_run(run_id)
            if run.info.status == "RUNNING":
                end(client, run, reason)
        except Exception as error:  # the tracking server: `runs repair` can end it later
            log.warning("could not end run %s of dead trial %d: %s", run_id, trial.number, error)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
