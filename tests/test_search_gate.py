"""Admission: exactly N finished trials over concurrent workers; dead workers' trials re-queued."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from pitot_tf.errors import PitotError
from pitot_tf.search.gate import FileLock, TrialBudget, count_trials, storage_lock
from pitot_tf.search.runner import requeue_orphans
from pitot_tf.search.storage import open_storage, redact
from pitot_tf.search.worker import WorkerJob, optimize_within_budget


class NoLock:
    def acquire(self) -> None:
        pass

    def release(self) -> None:
        pass


def test_budget_admits_until_target_counting_running_trials() -> None:
    study = optuna.create_study()
    budget = TrialBudget(NoLock(), target=2)
    assert budget.admit(study) == "run"
    running = study.ask()
    study.tell(study.ask(), 1.0)
    assert count_trials(study).finished == 1 and count_trials(study).running == 1
    assert budget.admit(study) == "wait"
    study.tell(running, state=TrialState.FAIL)
    assert budget.admit(study) == "run", "a failed trial frees its place"
    study.tell(study.ask(), state=TrialState.PRUNED)
    assert budget.admit(study) == "done", "pruned trials count as finished"


def test_file_lock_excludes_another_process(tmp_path: Path) -> None:
    path = tmp_path / "study.journal.admit"
    probe = ("import fcntl, os, sys; h = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
             "try:\n    fcntl.flock(h, fcntl.LOCK_EX | fcntl.LOCK_NB); print('free')\n"
             "except BlockingIOError:\n    print('held')")
    lock = FileLock(path)
    lock.acquire()
    held = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True,
                          text=True, check=True).stdout.strip()
    lock.release()
    free = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert (held, free) == ("held", "free")


def test_storage_lock_kinds(tmp_path: Path) -> None:
    journal = storage_lock(str(tmp_path / "s.journal"), "s")
    assert isinstance(journal, FileLock) and journal.path.name == "s.journal.admit"
    assert isinstance(storage_lock(f"sqlite:///{tmp_path}/s.db", "s"), FileLock)
    assert redact("postgresql://pitot:secret@host:5432/db") == "postgresql://pitot:***@host:5432/db"


class SlowObjective:
    """Sleeps a little so that workers overlap; fails every trial whose x is above 0.8."""

    def __init__(self, budget: TrialBudget) -> None:
        self.budget = budget
        self.last_state: str | None = None

    def __call__(self, trial: optuna.Trial) -> float:
        self.budget.release()
        x = trial.suggest_float("x", 0, 1)
        time.sleep(0.05)
        self.last_state = "FAIL" if x > 0.8 else "COMPLETE"
        if x > 0.8:
            raise PitotError("x too large")
        return x


def test_concurrent_workers_finish_exactly_the_target(tmp_path: Path) -> None:
    location = str(tmp_path / "exact.journal")
    optuna.create_study(study_name="exact", storage=open_storage(location))
    job = WorkerJob(study_file="unused", storage=location, target=9, poll_s=0.02,
                    max_failures=50)

    def worker(seed: int) -> None:
        study = optuna.load_study(study_name="exact", storage=open_storage(location),
                                  sampler=optuna.samplers.RandomSampler(seed=seed))
        budget = TrialBudget(storage_lock(location, "exact"), job.target)
        optimize_within_budget(study, SlowObjective(budget), budget, [], job)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    study = optuna.load_study(study_name="exact", storage=open_storage(location))
    counts = count_trials(study)
    assert (counts.finished, counts.running, counts.waiting) == (9, 0, 0)
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert all(t.params["x"] > 0.8 for t in failed)


def test_dead_workers_trial_is_failed_and_requeued(tmp_path: Path) -> None:
    import socket

    study = optuna.create_study(study_name="s", storage=open_storage(str(tmp_path / "s.journal")))
    orphan = study.ask()
    orphan.suggest_float("x", 0, 1)
    orphan.set_user_attr("worker", f"{socket.gethostname()}:4242")
    other = study.ask()
    other.set_user_attr("worker", f"{socket.gethostname()}:1")
    assert requeue_orphans(study, 4242, tracking_uri=None) == [orphan.number]
    trials = study.get_trials()
    assert trials[orphan.number].state == TrialState.FAIL
    assert trials[other.number].state == TrialState.RUNNING
    (retry,) = study.get_trials(states=(TrialState.WAITING,))
    assert retry.user_attrs["retry_of"] == orphan.number
    assert retry.system_attrs["fixed_params"] == orphan.params


@pytest.mark.parametrize("location", ["postgresql://nobody@127.0.0.1:1/none"])
def test_unreachable_database_is_a_config_error(location: str) -> None:
    from pitot_tf.errors import ConfigError

    with pytest.raises(ConfigError, match=r"storage postgresql://nobody@127\.0\.0\.1:1/none"):
        open_storage(location)
