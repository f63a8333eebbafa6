"""Load: a search with 3 workers on one PostgreSQL study and a sweep with 2 workers, at once,
on one MLflow tracking store; checks that every trial and every cell ran exactly once (and that
the study finished its N trials, up to workers - 1 more).

    PITOT_STORAGE=postgresql://pitot:pitot@127.0.0.1:5432/pitot python benchmarks/load.py
        [--data-dir DIR] [--trials 12] [--search-workers 3] [--sweep-workers 2]
        [--presets pitot ...] [--levels 0.3 0.5] [--replicates 0-2] [--steps 200]
        [--no-xla] [--name NAME] [--keep] [--workdir DIR]

The search runs ``pitot-tf search`` on a small study (``--steps`` training steps per trial,
learning rate and ``model.mf_dim`` sampled at random, no pruning; ``--no-xla`` sets
``training.jit_compile=false`` for both jobs, as a test with a few steps does); the sweep runs
``pitot-tf sweep --log-model false`` over presets × levels × replicates with the same steps; the
study lives in ``--storage``, the sweep only in MLflow. Synthetic data (24 platforms × 40
workloads) unless ``--data-dir``; MLflow wherever ``MLFLOW_TRACKING_URI`` points, else a fresh
SQLite store in a temporary folder. The study is deleted afterwards unless ``--keep``.

Prints each job's wall time and throughput (from its start to its end, process start-up
included) and any check that failed; the last line is one JSON object with the keys trials,
search_wall_s, trials_per_min, cells, sweep_wall_s, cells_per_min, wall_s, exactly_once and
problems.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from common import PITOT_TF, add_data_options, emit, work_folder

JOB_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class Settings:
    storage: str
    data_dir: Path
    workdir: Path
    name: str
    trials: int = 12
    search_workers: int = 3
    sweep_workers: int = 2
    presets: tuple[str, ...] = ("pitot",)
    levels: tuple[str, ...] = ("0.3", "0.5")
    replicates: str = "0-2"
    steps: int = 200
    xla: bool = True

    @property
    def study(self) -> str:
        return f"load-{self.name}"

    @property
    def search_experiment(self) -> str:
        return f"load-{self.name}-search"

    @property
    def sweep_experiment(self) -> str:
        return f"load-{self.name}-sweep"

    def overrides(self) -> dict[str, Any]:
        return {"training.steps": self.steps, "training.val_every": max(1, self.steps // 2),
                "training.batch": 64, "model.layers": [16],
                **({} if self.xla else {"training.jit_compile": False})}


@dataclass
class Job:
    """A ``pitot-tf`` subprocess and when it started and ended."""

    name: str
    process: subprocess.Popen[str]
    log: Path
    started: float
    ended: float | None = None

    @property
    def wall_s(self) -> float:
        return (self.ended or time.perf_counter()) - self.started


@dataclass
class Report:
    trials: int
    search_wall_s: float
    trials_per_min: float
    cells: int
    sweep_wall_s: float
    cells_per_min: float
    wall_s: float
    exactly_once: bool
    problems: list[str] = field(default_factory=list)


def write_study(settings: Settings) -> Path:
    """The search's study file: random sampling of two keys, no pruning."""
    path = settings.workdir / f"{settings.study}.yaml"
    study = {
        "description": "load test study", "preset": "pitot",
        "data": {"level": 0.5, "replicates": [0]},
        "objective": {"metrics": ["val_loss"], "alpha": 0.1},
        "sampler": {"kind": "random", "seed": 0}, "pruner": {"kind": "none"},
        "overrides": settings.overrides(),
        "space": {
            "training.learning_rate": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
            "model.mf_dim": {"type": "int", "low": 4, "high": 32, "log": True},
        },
        "heartbeat": {"interval": 2, "grace_period": 20, "max_retry": 2},
    }
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def launch(name: str, args: list[str], settings: Settings) -> Job:
    """Start ``pitot-tf ARGS``; the storage URL (it may hold a password) goes to it through
    ``$PITOT_STORAGE``, never on its command line."""
    log = settings.workdir / f"{name}.log"
    process = subprocess.Popen([str(PITOT_TF), *args], cwd=settings.workdir, text=True,
                               stdout=log.open("w"), stderr=subprocess.STDOUT,
                               env={**os.environ, "PITOT_STORAGE": settings.storage})
    return Job(name, process, log, time.perf_counter())


def sweep_overrides(settings: Settings) -> dict[str, Any]:
    """The small-model overrides less the model keys some swept preset's kind never reads
    (one ``--set`` applies to every preset, and a key a kind never reads is an error)."""
    from pitot_tf.config import applicable
    from pitot_tf.presets import expand, resolve

    overrides = settings.overrides()
    for preset in expand(list(settings.presets)):
        overrides = applicable(overrides, resolve(preset).model.kind)
    return overrides


def start_jobs(settings: Settings) -> list[Job]:
    """Start the search and the sweep side by side."""
    study = write_study(settings)
    sweep_sets = [f"{k}={json.dumps(v).replace(' ', '')}"
                  for k, v in sweep_overrides(settings).items()]
    search = launch("search", [
        "search", "--study", str(study), "--n-trials", str(settings.trials),
        "--workers", str(settings.search_workers),
        "--data-dir", str(settings.data_dir), "--experiment", settings.search_experiment],
        settings)
    sweep = launch("sweep", [
        "sweep", "--presets", ",".join(settings.presets), "--levels", ",".join(settings.levels),
        "--replicates", settings.replicates, "--set", " ".join(sweep_sets),
        "--data-dir", str(settings.data_dir),
        "--workers", str(settings.sweep_workers), "--experiment", settings.sweep_experiment,
        "--log-model", "false", "--no-progress"], settings)
    return [search, sweep]


def wait(jobs: list[Job], timeout: float = JOB_TIMEOUT_S) -> list[str]:
    """Wait for every job, noting when each ends (all are killed at ``timeout``); problems
    for those that failed."""
    deadline = time.monotonic() + timeout
    while any(job.ended is None for job in jobs) and time.monotonic() < deadline:
        for job in jobs:
            if job.ended is None and job.process.poll() is not None:
                job.ended = time.perf_counter()
        time.sleep(0.2)
    problems = []
    for job in jobs:
        if job.ended is None:
            job.process.kill()
            job.process.wait()
            job.ended = time.perf_counter()
            problems.append(f"{job.name} did not finish within {timeout:.0f} s")
        if job.process.returncode != 0:
            tail = job.log.read_text().strip().splitlines()[-3:]
            problems.append(f"{job.name} exited {job.process.returncode}: {' | '.join(tail)}")
    return problems


def search_problems(settings: Settings) -> list[str]:
    """Exactly ``trials`` finished trials, none left active, one MLflow run per trial."""
    import optuna
    from mlflow import MlflowClient
    from optuna.trial import TrialState

    from pitot_tf.search.storage import open_storage

    trials = optuna.load_study(study_name=settings.study,
                               storage=open_storage(settings.storage)).get_trials()
    states = Counter(t.state for t in trials)
    problems = []
    finished = states[TrialState.COMPLETE] + states[TrialState.PRUNED]
    most = settings.trials + settings.search_workers - 1
    if not settings.trials <= finished <= most:
        problems.append(f"search: {finished} finished trials, expected {settings.trials} to "
                        f"{most}")
    if states[TrialState.RUNNING] or states[TrialState.WAITING]:
        problems.append(f"search: trials left active: {dict(states)}")
    client = MlflowClient()
    experiment = client.get_experiment_by_name(settings.search_experiment)
    runs = client.search_runs([experiment.experiment_id], "tags.`optuna.trial_number` LIKE '%'",
                              max_results=10_000) if experiment else []
    per_trial = Counter(r.data.tags["optuna.trial_number"] for r in runs)
    if sorted(per_trial) != sorted(str(t.number) for t in trials) or max(
            per_trial.values(), default=1) != 1:
        problems.append(f"search: MLflow runs per trial {dict(per_trial)} do not match "
                        f"trials {[t.number for t in trials]}")
    return problems


def expected_cells(settings: Settings) -> list[str]:
    from pitot_tf.cli.common import levels_of, replicates_of
    from pitot_tf.sweep.cells import make_plan

    plan = make_plan(settings.presets, levels_of(settings.levels),
                     replicates_of([settings.replicates]))
    return [cell.key for cell in plan.cells()]


def sweep_problems(settings: Settings) -> list[str]:
    """One FINISHED run per cell (and none for other cells), none left RUNNING."""
    from mlflow import MlflowClient

    from pitot_tf.sweep.tags import TAG_CELL

    client = MlflowClient()
    experiment = client.get_experiment_by_name(settings.sweep_experiment)
    if experiment is None:
        return ["sweep: no experiment"]
    runs = client.search_runs([experiment.experiment_id], f"tags.`{TAG_CELL}` LIKE '%'",
                              max_results=10_000)
    finished = Counter(r.data.tags[TAG_CELL] for r in runs if r.info.status == "FINISHED")
    problems = []
    cells = expected_cells(settings)
    if finished != Counter(cells):
        problems.append(f"sweep: FINISHED runs per cell {dict(finished)}, expected one each "
                        f"of {cells}")
    running = [r.info.run_id for r in runs if r.info.status == "RUNNING"]
    if running:
        problems.append(f"sweep: runs left RUNNING: {running}")
    return problems


def delete_studies(settings: Settings) -> None:
    """Drop the search's study from the storage."""
    import optuna

    from pitot_tf.search.storage import open_storage

    try:
        optuna.delete_study(study_name=settings.study, storage=open_storage(settings.storage))
    except KeyError:
        pass


def run_load(settings: Settings, keep: bool = False) -> Report:
    """Run both jobs at once, check them and measure their throughput."""
    started = time.perf_counter()
    jobs = start_jobs(settings)
    problems = wait(jobs)
    search, sweep = jobs
    wall = time.perf_counter() - started
    problems += search_problems(settings) + sweep_problems(settings)
    if not keep:
        delete_studies(settings)
    cells = len(expected_cells(settings))
    return Report(settings.trials, round(search.wall_s, 1),
                  round(60 * settings.trials / search.wall_s, 2), cells, round(sweep.wall_s, 1),
                  round(60 * cells / sweep.wall_s, 2), round(wall, 1), not problems, problems)


def parse_args(argv: list[str] | None = None) -> tuple[Settings, bool]:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--storage", default=os.environ.get("PITOT_STORAGE")
                        or os.environ.get("PITOT_TEST_POSTGRES_URL"),
                        help="Database URL of the study (default $PITOT_STORAGE, else "
                             "$PITOT_TEST_POSTGRES_URL; a URL with a password belongs there).")
    add_data_options(parser, data_help="dataset folder (default: a small synthetic one)",
                     steps=200, overrides=False)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--search-workers", type=int, default=3)
    parser.add_argument("--sweep-workers", type=int, default=2)
    parser.add_argument("--presets", nargs="+", default=["pitot"])
    parser.add_argument("--levels", nargs="+", default=["0.3", "0.5"])
    parser.add_argument("--replicates", default="0-2")
    parser.add_argument("--no-xla", action="store_true",
                        help="Train without XLA (compiling costs more than a few steps save).")
    parser.add_argument("--name", default=None, help="Names the study and experiments.")
    parser.add_argument("--keep", action="store_true", help="Keep the studies afterwards.")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="Folder for the study file, logs and data (default: a new one).")
    args = parser.parse_args(argv)
    if not args.storage:
        parser.error("--storage (or $PITOT_STORAGE, $PITOT_TEST_POSTGRES_URL) is required")
    workdir = work_folder(args.workdir, "pitot-load-")
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir}/mlflow.db"
        from mlflow import MlflowClient

        # Create the new store here, once: two jobs creating it at once race in its schema
        # migrations ("duplicate column name").
        MlflowClient().search_experiments()
    data_dir = args.data_dir
    if data_dir is None:
        from pitot_tf.data.synth import synthesize_dataset

        data_dir = synthesize_dataset(workdir / "data", platforms=24, workloads=40, seed=3)
    settings = Settings(args.storage, Path(data_dir).resolve(), workdir,
                        args.name or uuid.uuid4().hex[:8], args.trials, args.search_workers,
                        args.sweep_workers, tuple(args.presets), tuple(args.levels),
                        args.replicates, args.steps, not args.no_xla)
    return settings, args.keep


def main(argv: list[str] | None = None) -> int:
    settings, keep = parse_args(argv)
    report = run_load(settings, keep)
    print(f"search: {report.trials} trials with {settings.search_workers} workers in "
          f"{report.search_wall_s:.0f} s = {report.trials_per_min:.2f} trials/min")
    print(f"sweep:  {report.cells} cells with {settings.sweep_workers} workers in "
          f"{report.sweep_wall_s:.0f} s = {report.cells_per_min:.2f} cells/min")
    print(f"both at once: {report.wall_s:.0f} s; exactly once: {report.exactly_once}")
    for problem in report.problems:
        print(f"problem: {problem}")
    emit(asdict(report))
    return 0 if report.exactly_once else 1


if __name__ == "__main__":
    sys.exit(main())
