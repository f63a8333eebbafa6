"""Admission: exactly N finished trials over concurrent workers; dead workers' trials retried
once; the admission lock times out and is released on errors."""

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
from pitot_tf.search.gate import FileLock, optimize_admitted, storage_lock, trial_budget
from pitot_tf.search.storage import open_storage, redact


def states(study: optuna.Study) -> list[TrialState]:
    return [t.state for t in study.get_trials()]


def test_budget_admits_until_target_counting_running_trials() -> None:
    study = optuna.create_study()
    admit = trial_budget(2)
    assert admit(study) == "run"
    running = study.ask()
    study.tell(study.ask(), 1.0)
    assert states(study) == [TrialState.RUNNING, TrialState.COMPLETE]
    assert admit(study) == "wait"
    study.tell(running, state=TrialState.FAIL)
    assert admit(study) == "run", "a failed trial frees its place"
    study.tell(study.ask(), state=TrialState.PRUNED)
    assert admit(study) == "done", "pruned trials count as finished"


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


def slow_objective(trial: optuna.Trial) -> float:
    """Sleeps a little so that workers overlap; fails every trial whose x is above 0.8."""
    x = trial.suggest_float("x", 0, 1)
    time.sleep(0.05)
    if x > 0.8:
        raise PitotError("x too large")
    return x


def test_concurrent_workers_finish_exactly_the_target(tmp_path: Path) -> None:
    location = str(tmp_path / "exact.journal")
    optuna.create_study(study_name="exact", storage=open_storage(location))

    def worker(seed: int) -> None:
        study = optuna.load_study(study_name="exact", storage=open_storage(location),
                                  sampler=optuna.samplers.RandomSampler(seed=seed))
        optimize_admitted(study, slow_objective, trial_budget(9),
                          storage_lock(location, "exact"), poll_s=0.02, max_failures=50)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    study = optuna.load_study(study_name="exact", storage=open_storage(location))
    assert states(study).count(TrialState.COMPLETE) == 9
    assert set(states(study)) <= {TrialState.COMPLETE, TrialState.FAIL}
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert all(t.params["x"] > 0.8 for t in failed)


def test_a_trial_failed_by_another_worker_does_not_stop_this_one(tmp_path: Path) -> None:
    """A worker whose heartbeat seemed silent has its trial failed and re-queued elsewhere;
    when it then cannot tell the trial, it goes on with the next instead of crashing."""
    location = str(tmp_path / "s.journal")
    optuna.create_study(study_name="s", storage=open_storage(location))
    other = optuna.load_study(study_name="s", storage=open_storage(location))

    def objective(trial: optuna.Trial) -> float:
        if trial.number == 0:
            other.tell(trial.number, state=TrialState.FAIL)  # as a heartbeat check would
        return 1.0

    study = optuna.load_study(study_name="s", storage=open_storage(location))
    optimize_admitted(study, objective, trial_budget(2), storage_lock(location, "s"))
    assert states(study) == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]


DIE_IN_A_TRIAL = """
import os, signal, sys
import optuna
from pitot_tf.search.storage import open_storage
from pitot_tf.search.studies import Heartbeat
storage = open_storage(sys.argv[1], Heartbeat(interval=1, grace_period=600))
study = optuna.load_study(study_name="s", storage=storage)
trial = study.ask()
trial.suggest_float("x", 0, 1)
storage.record_heartbeat(trial._trial_id)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_dead_workers_trial_is_retried_exactly_once(tmp_path: Path) -> None:
    """Journal storage has a heartbeat too, and a dead local worker is noticed at once (not
    after the grace period); however many processes notice, the trial is retried once."""
    from pitot_tf.search.storage import recover_dead_trials
    from pitot_tf.search.studies import Heartbeat

    location = str(tmp_path / "s.journal")
    beat = Heartbeat(interval=1, grace_period=600)
    study = optuna.create_study(study_name="s", storage=open_storage(location, beat))
    alive = study.ask()
    open_storage(location, beat).record_heartbeat(alive._trial_id)  # owned by this process
    died = subprocess.run([sys.executable, "-c", DIE_IN_A_TRIAL, location], check=False)
    assert died.returncode == -9

    def notice() -> None:
        recover_dead_trials(optuna.load_study(study_name="s",
                                              storage=open_storage(location, beat)))

    threads = [threading.Thread(target=notice) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    trials = optuna.load_study(study_name="s", storage=open_storage(location)).get_trials()
    dead = trials[1]
    assert [t.state for t in trials[:2]] == [TrialState.RUNNING, TrialState.FAIL]
    retries = [t for t in trials if t.state == TrialState.WAITING]
    assert len(retries) == 1 and retries[0].system_attrs["failed_trial"] == dead.number
    assert retries[0].params == dead.params
    notice()
    assert len(optuna.load_study(study_name="s", storage=open_storage(location)).get_trials()) == 3


def test_the_admission_lock_times_out_and_is_released_on_error(tmp_path: Path) -> None:
    path = tmp_path / "study.journal.admit"
    holder = FileLock(path)
    holder.acquire()
    with pytest.raises(PitotError, match="could not take the admission lock .* within 0.2 s"):
        FileLock(path, timeout=0.2).acquire()
    holder.release()

    class BrokenStudy:
        def get_trials(self, **_: object) -> list[object]:
            raise RuntimeError("storage went away")

        _storage = None

    with pytest.raises(RuntimeError, match="storage went away"):
        optimize_admitted(BrokenStudy(), slow_objective, trial_budget(1),  # type: ignore[arg-type]
                          FileLock(path, timeout=0.2))
    FileLock(path, timeout=0.2).acquire()  # not leaked


@pytest.mark.parametrize("location", ["postgresql://nobody@127.0.0.1:1/none"])
def test_unreachable_database_is_a_config_error(location: str) -> None:
    from pitot_tf.errors import ConfigError

    with pytest.raises(ConfigError, match=r"storage postgresql://nobody@127\.0\.0\.1:1/none"):
        open_storage(location)
