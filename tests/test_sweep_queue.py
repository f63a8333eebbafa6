"""The Optuna study that hands out a sweep's cells: enqueue once, pop each once, recover the
cells of dead workers (journal storage in a temporary folder, no training)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from pitot_tf.errors import ConfigError
from pitot_tf.sweep import queue
from pitot_tf.sweep.cells import Cell
from pitot_tf.sweep.worker import CellObjective, CellOutcome, work

CELLS = ["pitot|0.5|0", "pitot|0.5|1", "baseline/monolith|0.5|0"]


@pytest.fixture()
def study(tmp_path: Path) -> optuna.Study:
    return queue.open_queue(str(tmp_path / "sweeps.journal"), "abc123")


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def pop(study: optuna.Study) -> optuna.Trial:
    return study.ask()


def test_missing_cells_are_enqueued_once_and_popped_in_order(study: optuna.Study) -> None:
    assert study.study_name == "sweep-abc123"
    assert queue.enqueue_missing(study, CELLS, done={"pitot|0.5|1"}) == [
        "pitot|0.5|0", "baseline/monolith|0.5|0"]
    assert queue.enqueue_missing(study, CELLS, done={"pitot|0.5|1"}) == []  # already waiting
    first, second = pop(study), pop(study)
    assert [queue.trial_cell(first), queue.trial_cell(second)] == [
        "pitot|0.5|0", "baseline/monolith|0.5|0"]
    assert second.suggest_int(queue.CELL_PARAM, 0, len(CELLS) - 1) == 2
    assert queue.trial_cell(pop(study)) is None  # a fresh trial: the queue is empty


def test_completed_and_failed_cells_are_told_apart(study: optuna.Study) -> None:
    queue.enqueue_missing(study, CELLS, done=set())
    ok, bad = pop(study), pop(study)
    study.tell(ok, 1.0)
    bad.set_user_attr(queue.ATTR_ERROR, "TrainingDiverged: loss is nan")
    study.tell(bad, state=TrialState.FAIL)
    assert queue.completed_cells(study) == {"pitot|0.5|0"}
    assert queue.failed_cells(study) == {"pitot|0.5|1": "TrainingDiverged: loss is nan"}
    assert queue.active_cells(study) == {"baseline/monolith|0.5|0"}
    assert queue.enqueue_missing(study, CELLS, done={"pitot|0.5|0"}) == ["pitot|0.5|1"]
    assert queue.failed_cells(study) == {}  # enqueued again: no longer failed


DIE_IN_A_CELL = """
import os, signal, sys
from pitot_tf.sweep import queue
study = queue.open_queue(sys.argv[1], "abc123", create=False)
trial = study.ask()
study._storage.record_heartbeat(trial._trial_id)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_dead_workers_cell_is_queued_again_exactly_once(study: optuna.Study,
                                                          tmp_path: Path) -> None:
    queue.enqueue_missing(study, CELLS, done=set())
    died = subprocess.run([sys.executable, "-c", DIE_IN_A_CELL,
                           str(tmp_path / "sweeps.journal")], check=False)
    assert died.returncode == -9
    assert queue.enqueue_missing(study, CELLS, done=set()) == []  # the heartbeat re-queued it
    assert queue.enqueue_missing(study, CELLS, done=set()) == []
    trials = study.get_trials()
    assert trials[0].state == TrialState.FAIL
    waiting = [queue.trial_cell(t) for t in trials if t.state == TrialState.WAITING]
    assert sorted(waiting) == sorted(CELLS)


class CountingRunner:
    """Stands in for training: counts how often each cell is run."""

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()
        self.lock = threading.Lock()

    def run(self, cell: Cell, trial: optuna.Trial, process: object) -> CellOutcome:
        with self.lock:
            self.runs[cell.key] += 1
        time.sleep(0.3)
        return CellOutcome(cell.key, f"run-{cell.key}", False, 0.3)


def test_a_cell_queued_twice_runs_once(study: optuna.Study, tmp_path: Path) -> None:
    """A re-run's enqueue racing a heartbeat retry can queue a cell twice; it still runs once,
    whichever worker pops which copy."""
    queue.enqueue_missing(study, CELLS, done=set())
    study.enqueue_trial({queue.CELL_PARAM: 0}, user_attrs={queue.ATTR_CELL: CELLS[0]})
    runner = CountingRunner()

    def worker() -> None:
        mine = queue.open_queue(str(tmp_path / "sweeps.journal"), "abc123", create=False)
        work(mine, CellObjective(CELLS, runner), [])  # type: ignore[arg-type]

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert runner.runs == Counter(CELLS)
    assert queue.completed_cells(study) == set(CELLS)


def test_describe_records_cells_and_attributes_once(study: optuna.Study) -> None:
    queue.describe(study, CELLS, {c: "k" for c in CELLS}, {queue.ATTR_PARENT: "run1"})
    queue.describe(study, ["other"], {}, {queue.ATTR_PARENT: "run1"})
    assert study.user_attrs[queue.ATTR_CELLS] == CELLS
    assert study.user_attrs[queue.ATTR_PARENT] == "run1"


def test_loading_an_unknown_sweep_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sweep nope: no study sweep-nope"):
        queue.open_queue(str(tmp_path / "sweeps.journal"), "nope", create=False)
