"""``pitot-tf search``: create or resume a study, run workers, summarize into MLflow.

``run_search`` validates the study file and the data, creates the study in its storage (or
loads it), enqueues the preset's own configuration as the first trial of a new study, opens
the MLflow parent run and runs ``workers`` workers against the same storage: in-process for
one, else as subprocesses (``python -m pitot_tf.search.worker``). ``n_trials`` is the study's
target of finished (COMPLETE or PRUNED) trials, counted over every invocation and machine;
run again with a larger number to extend a study. If a worker process dies, its running trial
is failed and re-queued once with the same parameters by the storage's heartbeat; its MLflow
run is ended by ``pitot-tf runs repair --older-than``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from pitot_tf.errors import ConfigError, PitotError
from pitot_tf.search.gate import count_trials
from pitot_tf.search.parent_run import ParentRun, log_settings, log_study_result, parent_run
from pitot_tf.search.processes import run_processes
from pitot_tf.search.storage import open_storage, redact, storage_location
from pitot_tf.search.studies import StudySpec, describe_data, describe_study, load_study
from pitot_tf.search.tuning_data import load_tuning_data
from pitot_tf.search.worker import WorkerJob, run_worker

PathLike = str | Path


@dataclass(frozen=True)
class SearchResult:
    """What an invocation left in the study."""

    study: str
    storage: str
    target: int
    finished: int
    failed: int
    best_trial: int | None
    best_values: list[float] | None
    pareto_trials: list[int] = field(default_factory=list)
    parent_run_id: str | None = None
    wall_s: float = 0.0
    metric_names: list[str] = field(default_factory=list)
    best_params: dict[str, Any] = field(default_factory=dict)


def ensure_study(spec: StudySpec, location: str) -> optuna.Study:
    """Create (or load) the study; a new study gets the preset's values as trial 0."""
    storage = open_storage(location, spec.heartbeat)
    study = optuna.create_study(storage=storage, study_name=spec.name, load_if_exists=True,
                                directions=spec.directions)
    if len(study.directions) != len(spec.directions):
        raise ConfigError(f"study '{spec.name}' in {redact(location)} has "
                          f"{len(study.directions)} objective(s) but {spec.path} defines "
                          f"{len(spec.directions)}; use another --storage")
    describe_study(study, spec)
    if not study.get_trials(deepcopy=False):
        study.enqueue_trial(spec.default_params(), user_attrs={"origin": f"preset {spec.preset}"},
                            skip_if_exists=True)
    return study


def run_search(
    study: str | PathLike, n_trials: int, storage: str | None = None, workers: int = 1,
    timeout: float | None = None, overrides: Mapping[str, Any] | None = None,
    data_dir: PathLike | None = None, splits_dir: PathLike | None = None,
    track: bool = True, experiment: str | None = None, max_failures: int | None = None,
) -> SearchResult:
    """Run study ``study`` (name or YAML path) until it has ``n_trials`` finished trials."""
    _check_counts(n_trials, workers, timeout)
    spec = load_study(study).with_overrides(dict(overrides or {}))
    location = storage_location(spec, storage)
    replicates = load_tuning_data(spec, data_dir, splits_dir)
    optuna_study = ensure_study(spec, location)
    describe_data(optuna_study, replicates)
    job = WorkerJob(
        study_file=str(spec.path), storage=location, target=n_trials,
        overrides=dict(overrides or {}), data_dir=_str(data_dir), splits_dir=_str(splits_dir),
        deadline=time.time() + timeout if timeout else None,
        max_failures=max_failures or max(3, n_trials))
    started = time.perf_counter()
    with _parent(spec, track, experiment) as parent:
        if parent:
            job = replace(job, tracking_uri=parent.tracking_uri,
                          experiment_id=parent.experiment_id, parent_run_id=parent.run_id)
            log_settings(parent, spec, {
                "study": spec.name, "storage": redact(location), "n_trials": n_trials,
                "workers": workers, "timeout": timeout, "overrides": dict(overrides or {}),
                "level": spec.level, "replicates": list(spec.replicates)})
        if workers == 1:
            run_worker(job, replicates)
        else:
            run_worker_processes(job, workers, optuna_study)
        if parent:
            log_study_result(parent, optuna_study, spec)
    return summarize(spec, location, optuna_study, n_trials,
                     parent.run_id if parent else None, time.perf_counter() - started)


def _check_counts(n_trials: int, workers: int, timeout: float | None) -> None:
    if n_trials < 1:
        raise ConfigError(f"--n-trials must be >= 1, got {n_trials}")
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if timeout is not None and timeout <= 0:
        raise ConfigError(f"--timeout must be > 0 seconds, got {timeout}")


def _str(path: PathLike | None) -> str | None:
    return None if path is None else str(path)


@contextlib.contextmanager
def _parent(spec: StudySpec, track: bool, experiment: str | None) -> Iterator[ParentRun | None]:
    if not track:
        yield None
        return
    with parent_run(spec, experiment) as run:
        yield run


def run_worker_processes(job: WorkerJob, workers: int, study: optuna.Study) -> None:
    """Run ``workers`` worker processes; a dead one's trial is retried by the others (the
    heartbeat, :mod:`pitot_tf.search.storage`), and one last in-process worker finishes what
    is left when some died."""
    jobs = [replace(job, worker=index).to_json() for index in range(workers)]
    crashed = run_processes("pitot_tf.search.worker", jobs)
    if crashed and count_trials(study).finished < job.target:
        run_worker(job)
    if crashed and count_trials(study).finished < job.target:
        raise PitotError(f"search workers failed ({'; '.join(crashed)}); the study has "
                         f"{count_trials(study).finished} of {job.target} finished trials")


def summarize(spec: StudySpec, location: str, study: optuna.Study, target: int,
              parent_run_id: str | None, wall_s: float) -> SearchResult:
    counts = count_trials(study)
    failed = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    best_trial, best_values, pareto, params = None, None, [], {}
    if complete and not spec.multi_objective:
        best_trial, best_values = study.best_trial.number, list(study.best_trial.values)
        params = dict(study.best_trial.params)
    elif complete:
        pareto = sorted(t.number for t in study.best_trials)
    return SearchResult(spec.name, redact(location), target, counts.finished, failed,
                        best_trial, best_values, pareto, parent_run_id, wall_s,
                        spec.metric_names, params)
