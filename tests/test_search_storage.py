"""Heartbeats on both storage kinds (several workers: test_search_workers.py and the
reliability tests)."""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import pytest
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from pitot_tf.search.heartbeat import BEAT, OWNER, JournalHeartbeatStorage
from pitot_tf.search.storage import open_storage
from pitot_tf.search.studies import Heartbeat


def test_storage_kinds_carry_the_studys_heartbeat(tmp_path: Path) -> None:
    beat = Heartbeat(interval=2, grace_period=9, max_retry=1)
    journal = open_storage(str(tmp_path / "deep" / "s.journal"), beat)
    assert isinstance(journal, JournalHeartbeatStorage)
    assert (journal.get_heartbeat_interval(), journal.grace_period) == (2, 9)
    database = open_storage(f"sqlite:///{tmp_path / 's.db'}", beat)
    assert isinstance(database, RDBStorage) and database.get_heartbeat_interval() == 2


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_a_heartbeat_on_a_trial_failed_elsewhere_is_ignored(tmp_path: Path, kind: str) -> None:
    """Another worker failed this trial as stale before this worker's heartbeat thread beat
    for it: the beat must not raise (Optuna's thread would die with a traceback) nor change
    the finished trial."""
    location = (str(tmp_path / "s.journal") if kind == "journal"
                else f"sqlite:///{tmp_path / 's.db'}")
    study = optuna.create_study(study_name="s", storage=open_storage(location))
    trial = study.ask()
    elsewhere = optuna.load_study(study_name="s", storage=open_storage(location))
    elsewhere.tell(trial.number, state=TrialState.FAIL)
    before = optuna.load_study(study_name="s", storage=open_storage(location)).trials[0]
    open_storage(location).record_heartbeat(trial._trial_id)  # type: ignore[attr-defined]
    after = optuna.load_study(study_name="s", storage=open_storage(location)).trials[0]
    assert after.state == TrialState.FAIL
    assert after.system_attrs == before.system_attrs


def test_a_new_trials_first_beat_records_its_worker(tmp_path: Path) -> None:
    storage = open_storage(str(tmp_path / "s.journal"))
    study = optuna.create_study(study_name="s", storage=storage)
    trial = study.ask()
    storage.record_heartbeat(trial._trial_id)  # type: ignore[attr-defined]
    attrs = study.trials[0].system_attrs
    assert attrs[OWNER]["pid"] == os.getpid() and attrs[BEAT] > 0
