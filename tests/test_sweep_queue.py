"""The Optuna study that hands out a sweep's cells: each cell once, in order, under the
admission lock; the cells of dead workers handed out again exactly once (journal storage in
a temporary folder, no training)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from pitot_tf.errors import ConfigError
from pitot_tf.search.gate import optimize_admitted, storage_lock
from pitot_tf.search.storage import recover_dead_trials
from pitot_tf.sweep import queue
from pitot_tf.sweep.cells import Cell
from pitot_tf.sweep.worker import CellObjective, CellOutcome

CELLS = ["pitot|0.5|0", "pitot|0.5|1", "baseline/monolith|0.5|0"]


@pytest.fixture()
def study(tmp_path: Path) -> optuna.Study:
    return queue.open_queue(str(tmp_path / "sweeps.journal"), "abc123")


def test_each_cell_is_handed_out_once_in_order(study: optuna.Study) -> None:
    assert study.study_name == "sweep-abc123"
    admit = queue.cell_admission(CELLS, datetime.now())
    study.enqueue_trial({queue.CELL_PARAM: 1}, user_attrs={queue.ATTR_CELL: CELLS[1]})
    study.tell(study.ask(), 1.0)  # done before
    popped = []
    while admit(study) == "run":
        popped.append(study.ask())
    assert [queue.trial_cell(t) for t in popped] == [CELLS[0], CELLS[2]]
    assert popped[1].suggest_int(queue.CELL_PARAM, 0, len(CELLS) - 1) == 2
    assert admit(study) == "wait", "the others' cells are still running"
    for trial in popped:
        study.tell(trial, 1.0)
    assert admit(study) == "done"


def test_completed_and_failed_cells_are_told_apart(study: optuna.Study) -> None:
    before = queue.cell_admission(CELLS, datetime.now() - timedelta(hours=1))
    assert before(study) == "run"
    ok = study.ask()
    assert before(study) == "run"
    bad = study.ask()
    study.tell(ok, 1.0)
    bad.set_user_attr(queue.ATTR_ERROR, "TrainingDiverged: loss is nan")
    study.tell(bad, state=TrialState.FAIL)
    assert queue.completed_cells(study) == {"pitot|0.5|0"}
    assert queue.failed_cells(study) == {"pitot|0.5|1": "TrainingDiverged: loss is nan"}
    assert before(study) == "run", "this invocation does not retry its own failures"
    third = study.ask()
    assert queue.trial_cell(third) == CELLS[2] and queue.active_cells(study) == {CELLS[2]}
    study.tell(third, 1.0)
    assert before(study) == "done"
    later = queue.cell_admission(CELLS, datetime.now() + timedelta(seconds=1))
    assert later(study) == "run", "a later invocation retries the failed cell"
    assert queue.trial_cell(study.ask()) == "pitot|0.5|1"
    assert queue.failed_cells(study) == {}  # handed out again: no longer failed


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
    assert queue.cell_admission(CELLS, datetime.now())(study) == "run"
    died = subprocess.run([sys.executable, "-c", DIE_IN_A_CELL,
                           str(tmp_path / "sweeps.journal")], check=False)
    assert died.returncode == -9
    notices = [threading.Thread(target=recover_dead_trials, args=(study,)) for _ in range(3)]
    for thread in notices:
        thread.start()
    for thread in notices:
        thread.join(timeout=60)
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]
    assert queue.trial_cell(trials[1]) == CELLS[0]
    assert queue.cell_admission(CELLS, datetime.now())(study) == "run"
    assert len(study.get_trials()) == 2, "the re-queued cell is popped, nothing new enqueued"


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


def test_concurrent_workers_run_each_cell_once(study: optuna.Study, tmp_path: Path) -> None:
    """Three workers, a dead worker's cell re-queued on the way and a cell queued twice (by an
    older version): every cell runs once."""
    location = str(tmp_path / "sweeps.journal")
    queue.cell_admission(CELLS, datetime.now())(study)
    died = subprocess.run([sys.executable, "-c", DIE_IN_A_CELL, location], check=False)
    assert died.returncode == -9
    for _ in range(2):  # a cell queued twice, as older versions could
        study.enqueue_trial({queue.CELL_PARAM: 1}, user_attrs={queue.ATTR_CELL: CELLS[1]})
    runner, since = CountingRunner(), datetime.now()

    def worker() -> None:
        mine = queue.open_queue(location, "abc123", create=False)
        optimize_admitted(mine, CellObjective(CELLS, runner),  # type: ignore[arg-type]
                          queue.cell_admission(CELLS, since),
                          storage_lock(location, mine.study_name), poll_s=0.05)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert runner.runs == Counter(CELLS)
    assert queue.completed_cells(study) == set(CELLS)
    assert [t.state for t in study.get_trials()].count(TrialState.COMPLETE) == len(CELLS)


def test_describe_records_cells_and_attributes_once(study: optuna.Study) -> None:
    queue.describe(study, CELLS, {c: "k" for c in CELLS}, {queue.ATTR_PARENT: "run1"})
    queue.describe(study, ["other"], {}, {queue.ATTR_PARENT: "run1"})
    assert study.user_attrs[queue.ATTR_CELLS] == CELLS
    assert study.user_attrs[queue.ATTR_PARENT] == "run1"


def test_loading_an_unknown_sweep_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sweep nope: no study sweep-nope"):
        queue.open_queue(str(tmp_path / "sweeps.journal"), "nope", create=False)
