"""Claims on a cell are MLflow runs: the earliest live one wins, a finished one beats every
claim, a dead claim (its process gone, or no heartbeat for ``stale_after``) is ended KILLED."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow_helpers import private_tracking

from pitot_tf.sweep.claims import CellTaken, ClaimBeat, Claims
from pitot_tf.sweep.tags import TAG_HAS_MODEL, TAG_HEARTBEAT, TAG_SWEEP_KEY
from pitot_tf.tracking.liveness import ProcessId, process_tags
from pitot_tf.tracking.repair import TAG_REPAIRED

KEY = "k" * 32


@pytest.fixture()
def client(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowClient]:
    with private_tracking(tmp_path, tmp_path_factory.getbasetemp()) as uri:
        yield MlflowClient(uri)


def claim(client: MlflowClient, experiment_id: str, process: ProcessId | None = None,
          beat: float | None = None, **tags: str) -> str:
    """A cell run as a worker starts it: key, process, heartbeat."""
    all_tags = {TAG_SWEEP_KEY: KEY, TAG_HEARTBEAT: f"{beat or time.time():.1f}",
                **process_tags(process or ProcessId.this()), **tags}
    return client.create_run(experiment_id, tags=all_tags).info.run_id


def gone_process() -> ProcessId:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return ProcessId(ProcessId.this().host, child.pid)


def test_the_earliest_live_claim_wins(client: MlflowClient) -> None:
    experiment_id = client.create_experiment("claims")
    claims = Claims(client, experiment_id, settle_s=0)
    first = claim(client, experiment_id)
    time.sleep(0.01)
    second = claim(client, experiment_id)
    claims.check(KEY, first)
    with pytest.raises(CellTaken, match=f"taken by run {first}") as taken:
        claims.check(KEY, second)
    assert taken.value.run_id == second


def test_a_finished_run_beats_any_claim_if_the_sweep_can_use_it(client: MlflowClient) -> None:
    experiment_id = client.create_experiment("finished")
    done = claim(client, experiment_id, **{TAG_HAS_MODEL: "false"})
    client.set_terminated(done, "FINISHED")
    late = claim(client, experiment_id)
    with pytest.raises(CellTaken):
        Claims(client, experiment_id, settle_s=0).check(KEY, late)
    Claims(client, experiment_id, need_model=True, settle_s=0).check(KEY, late)  # no model


def test_dead_claims_are_ended_killed_and_lose(client: MlflowClient) -> None:
    experiment_id = client.create_experiment("dead")
    claims = Claims(client, experiment_id, stale_after=60, settle_s=0)
    gone = claim(client, experiment_id, gone_process())
    silent = claim(client, experiment_id, ProcessId("another-host", 1), time.time() - 120)
    alive = claim(client, experiment_id)
    claims.check(KEY, alive)
    for run_id, reason in ((gone, "is gone"), (silent, "no heartbeat for 1")):
        run = client.get_run(run_id)
        assert run.info.status == "KILLED" and run.data.tags[TAG_REPAIRED] == "true"
        assert reason in run.data.tags["error"]
    assert client.get_run(alive).info.status == "RUNNING"


def test_two_workers_claiming_at_once_agree_on_one_winner(client: MlflowClient) -> None:
    experiment_id = client.create_experiment("race")
    claims = Claims(client, experiment_id, settle_s=0.5)
    for round_ in range(3):
        key = f"{round_}" * 32
        winners: list[str] = []

        def worker(key: str = key, winners: list[str] = winners) -> None:
            run_id = client.create_run(experiment_id, tags={
                TAG_SWEEP_KEY: key, TAG_HEARTBEAT: f"{time.time():.1f}",
                **process_tags(ProcessId.this())}).info.run_id
            try:
                claims.check(key, run_id)
                winners.append(run_id)
            except CellTaken:
                client.delete_run(run_id)

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(winners) == 1
        assert [r.info.run_id for r in claims.runs(key)] == winners


def test_the_claim_beat_renews_the_heartbeat_until_stopped(client: MlflowClient) -> None:
    experiment_id = client.create_experiment("beat")
    run_id = claim(client, experiment_id, beat=1.0)
    beat = ClaimBeat(client, 0.05)
    beat.start(run_id)
    time.sleep(0.5)
    beat.stop()
    renewed = float(client.get_run(run_id).data.tags[TAG_HEARTBEAT])
    assert time.time() - renewed < 5
    time.sleep(0.2)
    assert float(client.get_run(run_id).data.tags[TAG_HEARTBEAT]) == renewed


def test_a_worker_that_loses_its_claim_deletes_its_run_before_training(
    client: MlflowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pitot_tf.sweep.cells import Cell
    from pitot_tf.sweep.worker import CellRunner, SweepJob

    experiment_id = client.create_experiment("lost")
    job = SweepJob("s" * 12, "lost", experiment_id, client.create_run(experiment_id).info.run_id,
                   {"pitot|0.5|0": KEY}, data_dir="/nonexistent", log_model=False)

    def lose(self: Claims, sweep_key: str, run_id: str) -> None:
        raise CellTaken(run_id, "the-winner")

    monkeypatch.setattr(Claims, "check", lose)
    runner = CellRunner(job, client)
    assert runner.attempt(Cell.from_key("pitot|0.5|0")) == "busy"
    assert not client.search_runs([experiment_id], f"tags.`{TAG_SWEEP_KEY}` = '{KEY}'")

    other = claim(client, experiment_id)  # a live claim of another worker: left to it
    assert runner.attempt(Cell.from_key("pitot|0.5|0")) == "busy"
    client.set_terminated(other, "FINISHED")
    assert runner.attempt(Cell.from_key("pitot|0.5|0")) == "done"
    assert client.get_run(other).data.tags["pitot.in_sweep." + "s" * 12] == "pitot|0.5|0"
