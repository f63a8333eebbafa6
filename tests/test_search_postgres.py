"""PostgreSQL storage: three worker processes finish exactly N trials; dead trials are retried."""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState
from postgres import postgres_url
from search_support import make_data, tracking_at, write_study

from pitot_tf.search.runner import ensure_study, run_search
from pitot_tf.search.storage import open_storage
from pitot_tf.search.studies import load_study

pytestmark = pytest.mark.slow


@pytest.fixture()
def database() -> str:
    return postgres_url()


@pytest.fixture()
def study_file(tmp_path: Path, database: str) -> Iterator[Path]:
    """A tiny study with a unique name, deleted from the database afterwards."""
    path = write_study(tmp_path, f"pg-{uuid.uuid4().hex[:10]}")
    yield path
    optuna.delete_study(study_name=path.stem, storage=open_storage(database))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data(tmp_path_factory.mktemp("pg-data"))


def test_three_workers_finish_n_trials_give_or_take_the_workers(
    study_file: Path, database: str, data_dir: Path, tmp_path: Path
) -> None:
    with tracking_at(tmp_path) as uri:
        result = run_search(study_file, 5, storage=database, workers=3, data_dir=data_dir)
    study = optuna.load_study(study_name=study_file.stem, storage=open_storage(database))
    trials = study.get_trials()
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert result.finished == len(finished) and 5 <= len(finished) <= 5 + 3 - 1
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert len({t.user_attrs["worker"] for t in finished}) >= 2
    client = MlflowClient(uri)
    children = client.search_runs(
        [client.get_run(str(result.parent_run_id)).info.experiment_id],
        f"tags.mlflow.parentRunId = '{result.parent_run_id}'")
    assert sorted(int(r.data.tags["optuna.trial_number"]) for r in children) == sorted(
        t.number for t in trials)
    assert {r.info.run_id for r in children} == {t.user_attrs["mlflow_run_id"] for t in trials}


def test_trial_of_a_dead_worker_is_retried_once(
    study_file: Path, database: str, data_dir: Path
) -> None:
    # The dead trial's recorded worker is this live process, so only the grace period fails
    # it: a short one (the tiny study's 15 s allows for a busy worker elsewhere; here one
    # in-process worker runs its trials one at a time, and none can look silent to it).
    write_study(study_file.parent, study_file.stem,
                heartbeat={"interval": 1, "grace_period": 3, "max_retry": 2})
    spec = load_study(study_file)
    assert spec.heartbeat.grace_period == 3
    study = ensure_study(spec, database)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dead = study.ask()  # the enqueued default, as a worker that then died would hold it
    dead.suggest_float("training.learning_rate", 1e-4, 1e-2, log=True)
    dead.suggest_int("model.mf_dim", 4, 32, log=True)
    study._storage.record_heartbeat(dead._trial_id)  # type: ignore[attr-defined]
    # Its last beat older than the grace period before the search looks: a search that
    # finished its trials within 3 s of the beat would never see it silent.
    time.sleep(spec.heartbeat.grace_period + 1)
    result = run_search(study_file, 2, storage=database, data_dir=data_dir, track=False)
    trials = optuna.load_study(study_name=spec.name, storage=open_storage(database)).get_trials()
    assert result.finished == 2
    assert trials[dead.number].state == TrialState.FAIL
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == dead.number]
    assert len(retries) == 1
    assert retries[0].state == TrialState.COMPLETE and retries[0].params == dead.params
