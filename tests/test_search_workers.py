"""Workers on one study, the optuna-examples way: each calls ``study.optimize`` with
``MaxTrialsCallback``; a dead worker's trial is failed by the journal heartbeat and retried
once; ``--workers`` copies get their rank and the overrides back as they were."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

from pitot_tf.config import parse_overrides
from pitot_tf.errors import ConfigError, PitotError
from pitot_tf.search.heartbeat import OWNER
from pitot_tf.search.processes import WORKER_VARIABLE, override_text, worker_rank
from pitot_tf.search.storage import open_storage
from pitot_tf.search.studies import Heartbeat

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
BEAT = Heartbeat(interval=1, grace_period=600)


def states(study: optuna.Study) -> list[TrialState]:
    return [t.state for t in study.get_trials()]


def slow_objective(trial: optuna.Trial) -> float:
    """Sleeps a little so that workers overlap; fails every trial whose x is above 0.8."""
    x = trial.suggest_float("x", 0, 1)
    time.sleep(0.05)
    if x > 0.8:
        raise PitotError("x too large")
    return x


def test_concurrent_workers_finish_the_target_give_or_take_the_workers(tmp_path: Path) -> None:
    location = str(tmp_path / "n.journal")
    optuna.create_study(study_name="n", storage=open_storage(location))

    def worker(seed: int) -> None:
        study = optuna.load_study(study_name="n", storage=open_storage(location),
                                  sampler=optuna.samplers.RandomSampler(seed=seed))
        study.optimize(slow_objective, catch=(PitotError,),
                       callbacks=[MaxTrialsCallback(9, states=FINISHED)])

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    study = optuna.load_study(study_name="n", storage=open_storage(location))
    assert 9 <= states(study).count(TrialState.COMPLETE) <= 9 + 4 - 1
    assert set(states(study)) <= {TrialState.COMPLETE, TrialState.FAIL}
    assert all(t.params["x"] > 0.8 for t in study.get_trials(states=(TrialState.FAIL,)))


WORKER = """
import sys, time
import optuna
from pitot_tf.search.storage import open_storage
from pitot_tf.search.studies import Heartbeat
storage = open_storage(sys.argv[1], Heartbeat(interval=1, grace_period=600))
study = optuna.load_study(study_name="s", storage=storage)
study.optimize(lambda trial: (trial.suggest_float("x", 0, 1), time.sleep(600))[0])
"""


@pytest.mark.slow
def test_a_sigkilled_workers_trial_fails_and_the_study_completes(tmp_path: Path) -> None:
    """A journal study has a heartbeat too, and a dead local worker is noticed at once (not
    after the grace period): its trial ends FAIL, is retried once with the same parameters,
    and a live worker finishes the study."""
    location = str(tmp_path / "s.journal")
    study = optuna.create_study(study_name="s", storage=open_storage(location, BEAT))
    study.enqueue_trial({"x": 0.25})
    worker = subprocess.Popen([sys.executable, "-c", WORKER, location])
    deadline = time.monotonic() + 60
    while not [t for t in study.get_trials(states=(TrialState.RUNNING,))
               if OWNER in t.system_attrs]:
        assert time.monotonic() < deadline and worker.poll() is None, "the worker never beat"
        time.sleep(0.1)
    os.kill(worker.pid, signal.SIGKILL)
    assert worker.wait() == -signal.SIGKILL

    live = optuna.load_study(study_name="s", storage=open_storage(location, BEAT))
    live.optimize(lambda trial: trial.suggest_float("x", 0, 1),
                  callbacks=[MaxTrialsCallback(3, states=FINISHED)])
    trials = live.get_trials()
    assert trials[0].state == TrialState.FAIL and trials[0].params == {"x": 0.25}
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == 0]
    assert len(retries) == 1 and retries[0].params == {"x": 0.25}
    assert retries[0].state == TrialState.COMPLETE
    assert states(live).count(TrialState.COMPLETE) == 3
    assert not live.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))


def test_however_many_processes_notice_a_dead_trial_it_is_retried_once(tmp_path: Path) -> None:
    location = str(tmp_path / "r.journal")
    study = optuna.create_study(study_name="r", storage=open_storage(location, BEAT))
    dead = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    study.tell(study.ask(), 1.0)
    # the trial records a worker that is gone (a finished child process)
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    storage = open_storage(location, BEAT)
    storage.set_trial_system_attr(dead._trial_id, OWNER, {
        "host": os.uname().nodename, "pid": int(child.stdout), "started": None,
        "trial_id": dead._trial_id})

    def notice() -> None:
        with pytest.warns(optuna.exceptions.ExperimentalWarning):
            optuna.storages.fail_stale_trials(
                optuna.load_study(study_name="r", storage=open_storage(location, BEAT)))

    threads = [threading.Thread(target=notice) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    trials = optuna.load_study(study_name="r", storage=open_storage(location)).get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE,
                                         TrialState.WAITING]
    assert trials[2].system_attrs["failed_trial"] == 0 and trials[2].params == dead.params


def test_a_copy_reads_its_rank_and_the_overrides_it_was_given(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    assert worker_rank() == (0, 1)
    monkeypatch.setenv(WORKER_VARIABLE, "2/3")
    assert worker_rank() == (2, 3)
    values = {"model.layers": [64, 64], "training.learning_rate": 0.001,
              "training.jit_compile": False, "model.kind": "pitot"}
    assert parse_overrides([override_text(k, v) for k, v in values.items()]) == values


def test_unreachable_database_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"storage postgresql://nobody@127\.0\.0\.1:1/none"):
        open_storage("postgresql://nobody@127.0.0.1:1/none")
