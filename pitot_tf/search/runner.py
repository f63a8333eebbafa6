"""``pitot-tf search``: create or resume a study, run workers, summarize into MLflow.

``run_search`` validates the study file and the data, creates the study in its storage (or
loads it), enqueues the preset's own configuration as the first trial of a new study, opens
the MLflow parent run and runs ``workers`` workers against the same storage: in-process for
one, else as subprocesses (``python -m pitot_tf.search.worker``; one last in-process worker
finishes what dead ones left). ``n_trials`` is the study's
target of finished (COMPLETE or PRUNED) trials, counted over every invocation and machine;
run again with a larger number to extend a study. If a worker process dies, its running trial
is failed and re-queued once with the same parameters by the storage's heartbeat, and its MLflow
run ended FAILED by the process that re-queued it.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from pitot_tf.errors import ConfigError, PitotError
from pitot_tf.search.gate import FINISHED
from pitot_tf.search.objective import load_tuning_data
from pitot_tf.search.parent_run import log_settings, log_study_result, parent_run
from pitot_tf.search.processes import run_workers
from pitot_tf.search.storage import open_storage, redact, set_study_attrs, storage_location
from pitot_tf.search.studies import StudySpec, load_study
from pitot_tf.search.worker import WorkerJob, run_worker
from pitot_tf.tracking.fingerprint import code_version, data_fingerprint

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
    with warnings.catch_warnings():  # experimental since Optuna 3.2, stable in use
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(spec.metric_names)  # the dashboard shows val_mape, not Objective 0
    set_study_attrs(study, spec.definition())
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
    for name, value, low in (("--n-trials", n_trials, 1), ("--workers", workers, 1)):
        if value < low:
            raise ConfigError(f"{name} must be >= 1, got {value}")
    if timeout is not None and timeout <= 0:
        raise ConfigError(f"--timeout must be > 0 seconds, got {timeout}")
    spec = load_study(study).with_overrides(dict(overrides or {}))
    location = storage_location(spec, storage)
    replicates = load_tuning_data(spec, data_dir, splits_dir)
    optuna_study = ensure_study(spec, location)
    fingerprint = data_fingerprint(replicates[0].dataset)  # of this invocation: the latest
    set_study_attrs(optuna_study, {"data_fingerprint": fingerprint["fingerprint"],
                                   "data_dir": str(fingerprint["directory"]),
                                   "code_version": code_version()})
    job = WorkerJob(
        study_file=str(spec.path), storage=location, target=n_trials,
        overrides=dict(overrides or {}), data_dir=_text(data_dir), splits_dir=_text(splits_dir),
        deadline=time.time() + timeout if timeout else None,
        max_failures=max_failures or max(3, n_trials))
    started = time.perf_counter()
    with parent_run(spec, experiment) if track else contextlib.nullcontext() as parent:
        if parent:
            job = replace(job, tracking_uri=parent.tracking_uri,
                          experiment_id=parent.experiment_id, parent_run_id=parent.run_id)
            log_settings(parent, spec, {
                "study": spec.name, "storage": redact(location), "n_trials": n_trials,
                "workers": workers, "timeout": timeout, "overrides": dict(overrides or {}),
                "level": spec.level, "replicates": list(spec.replicates)})
        jobs = [replace(job, worker=index) for index in range(workers)]
        crashed = run_workers("pitot_tf.search.worker", list(jobs),
                              lambda: run_worker(job, replicates))
        finished = _count(optuna_study, FINISHED)
        if crashed and finished < n_trials:
            raise PitotError(f"search workers failed ({'; '.join(crashed)}); the study has "
                             f"{finished} of {n_trials} finished trials")
        if parent:
            log_study_result(parent, optuna_study, spec)
    return summarize(spec, location, optuna_study, n_trials,
                     parent.run_id if parent else None, time.perf_counter() - started)


def _text(path: PathLike | None) -> str | None:
    return None if path is None else str(path)


def _count(study: optuna.Study, states: tuple[TrialState, ...]) -> int:
    return len(study.get_trials(deepcopy=False, states=states))


def summarize(spec: StudySpec, location: str, study: optuna.Study, target: int,
              parent_run_id: str | None, wall_s: float) -> SearchResult:
    best_trial, best_values, pareto, params = None, None, [], {}
    if _count(study, (TrialState.COMPLETE,)) and not spec.multi_objective:
        best_trial, best_values = study.best_trial.number, list(study.best_trial.values)
        params = dict(study.best_trial.params)
    elif _count(study, (TrialState.COMPLETE,)):
        pareto = sorted(t.number for t in study.best_trials)
    return SearchResult(spec.name, redact(location), target, _count(study, FINISHED),
                        _count(study, (TrialState.FAIL,)), best_trial, best_values, pareto,
                        parent_run_id, wall_s, spec.metric_names, params)


def result_text(result: SearchResult) -> str:
    """What ``pitot-tf search`` prints: trial counts, the best trial with its metric names and
    params (or the Pareto front), then where the study and the runs are."""
    lines = [f"study {result.study} ({result.storage}): {result.finished}/{result.target} "
             f"finished, {result.failed} failed, {result.wall_s:.0f} s"]
    if result.best_trial is not None and result.best_values is not None:
        values = ", ".join(f"{name} = {value:.4g}" for name, value
                           in zip(result.metric_names, result.best_values, strict=False))
        lines.append(f"best trial {result.best_trial}: {values}")
        lines += [f"  {key} = {value:.4g}" if isinstance(value, float) else f"  {key} = {value}"
                  for key, value in result.best_params.items()]
    if result.pareto_trials:
        lines.append(f"Pareto front of {', '.join(result.metric_names)}: trials "
                     f"{result.pareto_trials}")
    if result.parent_run_id:
        from pitot_tf.tracking.experiments import where_text

        lines.append(where_text(result.parent_run_id))
    lines.append(f"dashboard: pitot-tf dashboard --storage {result.storage}")
    return "\n".join(lines)
