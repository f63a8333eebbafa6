"""The Optuna study that hands out a sweep's cells: enqueue once, pop each once, recover the
cells of dead workers (journal storage in a temporary folder, no training)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from pitot_tf.errors import ConfigError
from pitot_tf.sweep import queue
from pitot_tf.sweep.processes import this_process

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


def test_running_trials_of_dead_local_workers_are_failed_and_requeued(
    study: optuna.Study
) -> None:
    queue.enqueue_missing(study, CELLS, done=set())
    me = this_process()
    dead, alive, remote = pop(study), pop(study), pop(study)
    for trial, host, pid in ((dead, me.host, dead_pid()), (alive, me.host, me.pid),
                             (remote, "elsewhere", 1)):
        trial.set_user_attr(queue.ATTR_HOST, host)
        trial.set_user_attr(queue.ATTR_PID, pid)
    failed = queue.fail_dead_trials(study)
    assert [t.number for t in failed] == [dead.number]
    assert study.get_trials()[dead.number].state == TrialState.FAIL
    assert queue.enqueue_missing(study, CELLS, done=set()) == [queue.trial_cell(dead)]


def test_describe_records_cells_and_attributes_once(study: optuna.Study) -> None:
    queue.describe(study, CELLS, {c: "k" for c in CELLS}, {queue.ATTR_PARENT: "run1"})
    queue.describe(study, ["other"], {}, {queue.ATTR_PARENT: "run1"})
    assert study.user_attrs[queue.ATTR_CELLS] == CELLS
    assert study.user_attrs[queue.ATTR_PARENT] == "run1"


def test_loading_an_unknown_sweep_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sweep nope: no study sweep-nope"):
        queue.open_queue(str(tmp_path / "sweeps.journal"), "nope", create=False)
