"""One sweep worker: walk the cells from its own offset and get-or-run each in MLflow.

Per cell (mlflow's ``multistep_workflow`` habit, ``_get_or_run``): reuse a FINISHED run with the
cell's ``sweep_key`` (tagged into this sweep), leave a live claim by another worker for later, or
claim the cell by starting its training run (:mod:`~pitot_tf.sweep.claims`) and train it. A cell
that failed since this invocation started is not tried again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from mlflow import MlflowClient

from pitot_tf.sweep.cells import Cell
from pitot_tf.sweep.claims import CellTaken, ClaimBeat, Claims
from pitot_tf.sweep.tags import (
    TAG_CELL,
    TAG_HAS_MODEL,
    TAG_HEARTBEAT,
    TAG_SWEEP_ID,
    TAG_SWEEP_KEY,
    in_sweep_tag,
)
from pitot_tf.tracking.liveness import ProcessId, process_tags
from pitot_tf.tracking.runs import error_text

log = logging.getLogger(__name__)
Outcome = Literal["done", "busy", "failed"]


@dataclass(frozen=True)
class SweepJob:
    """What every worker of one sweep shares."""

    sweep_id: str
    experiment: str
    experiment_id: str
    parent_run_id: str
    keys: dict[str, str]
    overrides: dict[str, Any] = field(default_factory=dict)
    data_dir: str | None = None
    splits_dir: str | None = None
    log_model: bool = True
    since: float = 0.0
    stale_after: float = 180.0
    poll_s: float = 2.0


class CellRunner:
    """Gets or runs the cells of one sweep in this process."""

    def __init__(self, job: SweepJob, client: MlflowClient) -> None:
        self.job, self.client, self.process = job, client, ProcessId.this()
        self.claims = Claims(client, job.experiment_id, job.log_model, job.stale_after)

    def walk(self, cells: list[str], offset: int = 0,
             on_cell: Callable[[], None] | None = None) -> None:
        """Every cell, starting at ``offset``; cells another worker holds are looked at again
        every ``poll_s`` s until they are done or their worker is found dead."""
        pending = cells[offset % max(1, len(cells)):] + cells[:offset % max(1, len(cells))]
        while pending:
            busy = [cell for cell in pending if self.attempt(Cell.from_key(cell)) == "busy"]
            if on_cell is not None:
                on_cell()
            if busy:
                time.sleep(self.job.poll_s)
            pending = busy

    def attempt(self, cell: Cell) -> Outcome:
        """Reuse, leave, or claim and train ``cell``."""
        key, job = self.job.keys[cell.key], self.job
        runs = self.claims.runs(key)
        done = [r for r in runs if self.claims.usable(r)]
        if done:
            tag = in_sweep_tag(job.sweep_id)
            if tag not in done[-1].data.tags:
                self.client.set_tag(done[-1].info.run_id, tag, cell.key)
                log.info("cell %s: reusing run %s", cell.key, done[-1].info.run_id)
            return "done"
        if any(r.info.status == "FAILED" and r.data.tags.get(TAG_SWEEP_ID) == job.sweep_id
               and (r.info.start_time or 0) / 1000 >= job.since for r in runs):
            return "failed"
        if self.claims.live(runs):
            return "busy"
        return self.train(cell, key)

    def train(self, cell: Cell, key: str) -> Outcome:
        from pitot_tf.tracking.training import RunOptions, run_training

        job = self.job
        tags = {TAG_SWEEP_KEY: key, TAG_SWEEP_ID: job.sweep_id,
                in_sweep_tag(job.sweep_id): cell.key, TAG_CELL: cell.key,
                TAG_HAS_MODEL: str(job.log_model).lower(), TAG_HEARTBEAT: f"{time.time():.1f}",
                **process_tags(self.process)}
        beat = ClaimBeat(self.client, max(1.0, job.stale_after / 6))
        try:
            run_training(cell.preset, job.overrides, RunOptions(
                cell.level, cell.replicate, job.data_dir, job.splits_dir, job.experiment,
                parent_run_id=job.parent_run_id, tags=tags, log_model=job.log_model,
                on_start=partial(self.claim, key, beat), stop_exceptions=(CellTaken,)))
        except CellTaken as taken:
            self.client.delete_run(taken.run_id)
            log.info("cell %s: %s", cell.key, taken)
            return "busy"
        except Exception as error:  # the run is FAILED with the error; the sweep goes on
            log.warning("cell %s failed: %s", cell.key, error_text(error))
            return "failed"
        finally:
            beat.stop()
        return "done"

    def claim(self, key: str, beat: ClaimBeat, run_id: str) -> None:
        """Called as the cell's run starts: keep it and start beating, or raise CellTaken."""
        self.claims.check(key, run_id)
        beat.start(run_id)
