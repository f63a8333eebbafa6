"""``pitot-tf search``: create or resume a study, run it in one or more workers, summarize.

Each worker is the optuna-examples habit: load the study from the shared storage and call
``study.optimize(objective, callbacks=[MaxTrialsCallback(n_trials, states=(COMPLETE,
PRUNED))])``; ``n_trials`` counts the study's finished trials over every invocation, so K
workers may finish up to K - 1 more. Workers are processes the user starts (the same command
with the same ``--storage``) or ``--workers`` copies of this one, whose trials nest under its
MLflow parent run. A dead worker's trial is failed and retried by the storage's heartbeat.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.study import MaxTrialsCallback
from optuna.trial import FrozenTrial, TrialState

from pitot_tf.db_drivers import STORAGE_VARIABLE
from pitot_tf.errors import ConfigError, PitotError
from pitot_tf.redaction import MASK, redact
from pitot_tf.search.algorithms import make_pruner, make_sampler
from pitot_tf.search.objective import (
    TAG_STUDY,
    TrialObjective,
    fail_dead_trial_runs,
    tag_trial_state,
)
from pitot_tf.search.parent_run import log_settings, log_study_result
from pitot_tf.search.processes import copy_args, spawn_copies, worker_rank
from pitot_tf.search.storage import open_storage, set_study_attrs, storage_location
from pitot_tf.search.studies import SEARCH_DEFAULTS, StudySpec, load_study
from pitot_tf.tracking.experiments import requested_experiment, where_text
from pitot_tf.tracking.fingerprint import code_version, data_fingerprint
from pitot_tf.tracking.runs import tracked_run
from pitot_tf.training.experiment import Experiment, prepare

PathLike = str | Path
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
#: Set for ``--workers`` copies: the parent run to nest trials under ("-": untracked).
PARENT_VARIABLE = "PITOT_SEARCH_PARENT"


@dataclass(frozen=True)
class SearchResult:
    """Where the study stands after an invocation (counts are read from the storage)."""

    spec: StudySpec
    study: optuna.Study
    storage: str
    target: int
    parent_run_id: str | None = None
    wall_s: float = 0.0

    def count(self, *states: TrialState) -> int:
        return len(self.study.get_trials(deepcopy=False, states=states))

    @property
    def finished(self) -> int:
        return self.count(*FINISHED)

    @property
    def failed(self) -> int:
        return self.count(TrialState.FAIL)

    @property
    def pareto_trials(self) -> list[int]:
        front = self.spec.multi_objective and self.count(TrialState.COMPLETE)
        return sorted(t.number for t in self.study.best_trials) if front else []


def ensure_study(spec: StudySpec, location: str) -> optuna.Study:
    """Create (or load) the study; a new study gets the preset's values as trial 0."""
    study = optuna.create_study(storage=open_storage(location, spec.heartbeat),
                                study_name=spec.name, load_if_exists=True,
                                directions=["minimize"] * len(spec.metrics))  # errors, widths
    if len(study.directions) != len(spec.metrics):
        raise ConfigError(f"study '{spec.name}' in {redact(location)} has "
                          f"{len(study.directions)} objective(s) but {spec.path} defines "
                          f"{len(spec.metrics)}; use another --storage")
    with warnings.catch_warnings():  # experimental since Optuna 3.2, stable in use
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(spec.metric_names)  # the dashboard shows val_mape, not Objective 0
    set_study_attrs(study, spec.definition())
    if not study.get_trials(deepcopy=False):
        study.enqueue_trial(spec.default_params(), user_attrs={"origin": f"preset {spec.preset}"},
                            skip_if_exists=True)
    return study


def optimize(spec: StudySpec, location: str, n_trials: int, replicates: list[Experiment],
             parent_run_id: str | None = None, timeout: float | None = None,
             max_failures: int | None = None, worker: int = 0) -> None:
    """One worker: trials until the study has ``n_trials`` finished, ``timeout`` s pass or
    ``max_failures`` more trials have FAILED (a user error fails the trial, not the worker)."""
    tracked = parent_run_id is not None
    storage = open_storage(location, spec.heartbeat, fail_dead_trial_runs if tracked else None)
    study = optuna.load_study(study_name=spec.name, storage=storage,
                              sampler=make_sampler(spec.sampler, worker),
                              pruner=make_pruner(spec.pruner))
    if len(study.get_trials(deepcopy=False, states=FINISHED)) >= n_trials:
        return
    failed = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))
    callbacks: list[Callable[[optuna.Study, FrozenTrial], None]] = [
        MaxTrialsCallback(n_trials, states=FINISHED),
        MaxTrialsCallback(failed + (max_failures or max(3, n_trials)), states=(TrialState.FAIL,)),
        *([tag_trial_state] if tracked else [])]
    study.optimize(TrialObjective(spec, replicates, parent_run_id), timeout=timeout,
                   callbacks=callbacks, catch=(PitotError,), gc_after_trial=True)


def run_search(
    study: str | PathLike, n_trials: int, storage: str | None = None, workers: int = 1,
    timeout: float | None = None, overrides: Mapping[str, Any] | None = None,
    data_dir: PathLike | None = None, splits_dir: PathLike | None = None,
    track: bool = True, experiment: str | None = None, max_failures: int | None = None,
) -> SearchResult:
    """Run study ``study`` (name or YAML path) until it has ``n_trials`` finished trials."""
    for name, value in (("--n-trials", n_trials), ("--workers", workers)):
        if value < 1:
            raise ConfigError(f"{name} must be >= 1, got {value}")
    if timeout is not None and timeout <= 0:
        raise ConfigError(f"--timeout must be > 0 seconds, got {timeout}")
    spec = load_study(study).with_overrides(dict(overrides or {}))
    location = storage_location(spec, storage)
    replicates = [prepare(spec.preset, {**SEARCH_DEFAULTS, **spec.overrides}, spec.level, r,
                          data_dir, splits_dir) for r in spec.replicates]  # once per worker
    optuna_study = ensure_study(spec, location)
    fingerprint = data_fingerprint(replicates[0].dataset)  # of this invocation: the latest
    set_study_attrs(optuna_study, {"data_fingerprint": fingerprint["fingerprint"],
                                   "data_dir": str(fingerprint["directory"]),
                                   "code_version": code_version()})
    started = time.perf_counter()
    given = os.environ.get(PARENT_VARIABLE)  # set in the copies of a --workers invocation
    tags = {TAG_STUDY: spec.name, "preset": spec.preset, "level": f"{spec.level:g}"}
    with (tracked_run("search", f"search {spec.name}", requested_experiment(experiment), tags,
                      nested=True) if track and not given else contextlib.nullcontext()) as run:
        parent = run.info.run_id if run else given if given != "-" else None
        if run:
            log_settings(spec, {
                "study": spec.name, "storage": redact(location), "n_trials": n_trials,
                "workers": workers, "timeout": timeout, "overrides": dict(overrides or {}),
                "level": spec.level, "replicates": list(spec.replicates)})
        if workers == 1:
            optimize(spec, location, n_trials, replicates, parent, timeout, max_failures,
                     worker_rank()[0])
        else:
            # No --storage: it may hold a password; the copies read $PITOT_STORAGE.
            args = copy_args("search", {
                "--study": spec.path, "--n-trials": n_trials, "--timeout": timeout,
                "--data-dir": data_dir, "--splits-dir": splits_dir}, overrides)
            codes = spawn_copies(args, workers, {PARENT_VARIABLE: parent or "-",
                                                 STORAGE_VARIABLE: location})
            finished = len(optuna_study.get_trials(deepcopy=False, states=FINISHED))
            if any(codes) and finished < n_trials:
                raise PitotError(f"search workers exited with {codes}; the study has "
                                 f"{finished} of {n_trials} finished trials")
        if run:
            log_study_result(optuna_study, spec)
    return SearchResult(spec, optuna_study, redact(location), n_trials, parent,
                        time.perf_counter() - started)


def result_text(result: SearchResult) -> str:
    """What ``pitot-tf search`` prints: trial counts, the best trial with its metric names and
    params (or the Pareto front), then where the study and the runs are."""
    spec, names = result.spec, result.spec.metric_names
    lines = [f"study {spec.name} ({result.storage}): {result.finished}/{result.target} "
             f"finished, {result.failed} failed, {result.wall_s:.0f} s"]
    if result.count(TrialState.COMPLETE) and not spec.multi_objective:
        best = result.study.best_trial
        values = ", ".join(f"{n} = {v:.4g}" for n, v in zip(names, best.values, strict=True))
        lines.append(f"best trial {best.number}: {values}")
        lines += [f"  {key} = {value:.4g}" if isinstance(value, float) else f"  {key} = {value}"
                  for key, value in best.params.items()]
    if result.pareto_trials:
        lines.append(f"Pareto front of {', '.join(names)}: trials {result.pareto_trials}")
    if result.parent_run_id:
        lines.append(where_text(result.parent_run_id))
    storage = f'"${STORAGE_VARIABLE}"' if MASK in result.storage else result.storage
    lines.append(f"dashboard: pitot-tf dashboard --storage {storage}")
    return "\n".join(lines)
