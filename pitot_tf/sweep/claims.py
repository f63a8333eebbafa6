"""Who trains a cell: MLflow runs are the claims, the earliest live one wins.

A worker claims a cell by starting its training run, tagged with the cell's ``sweep_key``, its
process and a heartbeat. ``settle_s`` later it looks at the cell's runs: if one FINISHED or a
live one started before its own (ties by run id), it deletes its run and moves on; otherwise it
trains while a thread renews the heartbeat. A run started after another worker looked starts
``settle_s`` after that worker's own, so every worker sees the same winner (across machines,
clocks must agree to better than ``settle_s``). A RUNNING claim whose process on this host is
gone, or whose heartbeat is older than ``stale_after`` s, is dead: whoever sees it ends it KILLED.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.entities import Run

from pitot_tf.sweep.tags import TAG_HAS_MODEL, TAG_HEARTBEAT, TAG_SWEEP_KEY
from pitot_tf.tracking.liveness import tagged_process
from pitot_tf.tracking.repair import all_runs, kill_run

#: How long a live worker may go without renewing its claim (default of ``--stale-after``).
STALE_AFTER_S = 180.0


class CellTaken(Exception):
    """Raised by a worker that lost the claim on its cell (its run is then deleted)."""

    def __init__(self, run_id: str, winner: str) -> None:
        super().__init__(f"cell taken by run {winner}")
        self.run_id = run_id


@dataclass(frozen=True)
class Claims:
    """The cell runs of one experiment, read as claims."""

    client: MlflowClient
    experiment_id: str
    need_model: bool = False
    stale_after: float = STALE_AFTER_S
    settle_s: float = 1.0

    def runs(self, sweep_key: str) -> list[Run]:
        """Every (not deleted) run of the key, oldest first (ties by run id)."""
        query = f"tags.`{TAG_SWEEP_KEY}` = '{sweep_key}'"
        found = all_runs(self.client, [self.experiment_id], query)
        return sorted(found, key=lambda r: (r.info.start_time or 0, r.info.run_id))

    def usable(self, run: Run) -> bool:
        """A FINISHED run this sweep may reuse (with a logged model if it needs one)."""
        return run.info.status == "FINISHED" and (
            not self.need_model or run.data.tags.get(TAG_HAS_MODEL) == "true")

    def live(self, runs: list[Run]) -> list[Run]:
        """The RUNNING runs whose worker is alive; dead ones are ended KILLED on the way."""
        alive = []
        for run in runs:
            if run.info.status != "RUNNING":
                continue
            reason = self.dead_reason(run)
            if reason is None:
                alive.append(run)
            else:
                kill_run(self.client, run, reason)
        return alive

    def dead_reason(self, run: Run) -> str | None:
        tags = run.data.tags
        process = tagged_process(tags)
        if process is not None and process.is_gone():
            return f"its worker process {process.pid} on {process.host} is gone"
        silent = time.time() - float(tags.get(TAG_HEARTBEAT) or (run.info.start_time or 0) / 1000)
        if silent > self.stale_after:
            return f"no heartbeat for {silent:.0f} s (stale after {self.stale_after:g} s)"
        return None

    def holder(self, sweep_key: str) -> Run | None:
        """The run that has the cell: a usable FINISHED one, else the earliest live claim."""
        runs = self.runs(sweep_key)
        done = [r for r in runs if self.usable(r)]
        return done[-1] if done else next(iter(self.live(runs)), None)

    def check(self, sweep_key: str, run_id: str) -> None:
        """After ``settle_s``: CellTaken unless ``run_id`` holds the cell."""
        time.sleep(self.settle_s)
        holder = self.holder(sweep_key)
        if holder is not None and holder.info.run_id != run_id:
            raise CellTaken(run_id, holder.info.run_id)


class ClaimBeat:
    """Renews a run's heartbeat tag every ``interval`` s from a thread, until stopped."""

    def __init__(self, client: MlflowClient, interval: float) -> None:
        self.client, self.interval = client, interval
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self, run_id: str) -> None:
        self.thread = threading.Thread(target=self._beat, args=(run_id,), daemon=True)
        self.thread.start()

    def _beat(self, run_id: str) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.client.set_tag(run_id, TAG_HEARTBEAT, f"{time.time():.1f}")
            except Exception:  # the tracking server away for a while: beat again later
                continue

    def stop(self) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join()
