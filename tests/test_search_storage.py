"""Heartbeats on both storage kinds (the multi-process behaviour is in test_search_gate.py and
the reliability tests)."""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from pitot_tf.search.storage import BEAT, OWNER, open_storage


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_a_heartbeat_on_a_trial_failed_elsewhere_is_ignored(tmp_path: Path, kind: str) -> None:
    """Another worker failed this trial as stale before a worker's heartbeat thread beat for
    it (owner record and, on a journal, the beat itself): the beat must not raise (Optuna's
    thread would die with a traceback) nor change the finished trial."""
    location = (str(tmp_path / "s.journal") if kind == "journal"
                else f"sqlite:///{tmp_path / 's.db'}")
    study = optuna.create_study(study_name="s", storage=open_storage(location))
    trial = study.ask()
    study._storage.record_heartbeat(trial._trial_id)  # type: ignore[attr-defined]
    owner = study.trials[0].system_attrs[OWNER]
    assert owner["trial_id"] == trial._trial_id

    elsewhere = optuna.load_study(study_name="s", storage=open_storage(location))
    elsewhere.tell(trial.number, state=TrialState.FAIL)
    before = optuna.load_study(study_name="s", storage=open_storage(location)).trials[0]
    # A worker process that has not beaten for this trial yet writes its owner record first.
    open_storage(location).record_heartbeat(trial._trial_id)  # type: ignore[attr-defined]
    after = optuna.load_study(study_name="s", storage=open_storage(location)).trials[0]
    assert after.state == TrialState.FAIL
    assert after.system_attrs == before.system_attrs
    if kind == "journal":
        assert BEAT in after.system_attrs


def test_a_new_trials_first_beat_records_its_worker(tmp_path: Path) -> None:
    storage = open_storage(str(tmp_path / "s.journal"))
    study = optuna.create_study(study_name="s", storage=storage)
    trial = study.ask()
    storage.record_heartbeat(trial._trial_id)
    assert study.trials[0].system_attrs[OWNER]["pid"] == os.getpid()
