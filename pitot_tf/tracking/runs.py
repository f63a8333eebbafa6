"""Start (or resume) an MLflow run that ends FINISHED only if its whole body succeeded.

Any exception inside :func:`tracked_run` marks the run FAILED with the error message in the
``error`` tag and is re-raised, so the caller exits non-zero; Ctrl-C marks it KILLED.
Exceptions listed in ``stop_exceptions`` (e.g. ``optuna.TrialPruned``) end it KILLED with a
``stopped`` tag instead: a deliberate stop, not a failure. When the tracking server went away
or a file could not be written, the error reaching the user is one line
(:class:`~pitot_tf.tracking.outage.TrackingError`) saying whether the run could be marked.

Runs go to experiment ``pitot`` unless another is named (see
:mod:`~pitot_tf.tracking.experiments`). The tracking store is MLflow's own default
(``sqlite:///mlflow.db`` in the working directory, artifacts under ``./mlruns``) unless
``MLFLOW_TRACKING_URI`` names another store or server. Inside ``mlflow run`` the run already
exists (``MLFLOW_RUN_ID``) and is resumed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import mlflow
from mlflow.entities import RunStatus

from pitot_tf.redaction import redact
from pitot_tf.tracking.experiments import (
    experiment_id_for,
    mark_model_training,
    requested_experiment,
)
from pitot_tf.tracking.fingerprint import code_version, git_commit, source_version
from pitot_tf.tracking.names import (
    TAG_CODE_VERSION,
    TAG_ERROR,
    TAG_GIT_COMMIT,
    TAG_KIND,
    TAG_PACKAGE_VERSION,
    TAG_SOURCE_VERSION,
    TAG_STOPPED,
)
from pitot_tf.tracking.outage import end_patiently, tracking_error

MAX_TAG_CHARS = 5000


def run_label(preset: str, level: float, replicate: int) -> str:
    """A readable run name: ``"pitot L0.5 r0"``."""
    return f"{preset} L{level:g} r{replicate}"


def error_text(error: BaseException) -> str:
    """The error as one line for the ``error`` tag: the message alone for user errors
    (:class:`~pitot_tf.errors.PitotError`), else prefixed with the exception's type."""
    from pitot_tf.errors import PitotError

    message = redact(" ".join(str(error).split())) or type(error).__name__
    if not isinstance(error, PitotError):
        message = f"{type(error).__name__}: {message}"
    return message[:MAX_TAG_CHARS]


def fail_project_run(error: BaseException | str) -> None:
    """Under ``mlflow run``, mark the project's run FAILED with ``error`` in its ``error`` tag
    (a command may fail before it resumes that run: a bad option, an unknown preset). A run
    already FAILED or KILLED keeps its own record; outside ``mlflow run`` this does nothing."""
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id:
        return
    client = mlflow.MlflowClient()
    if client.get_run(run_id).info.status in ("FAILED", "KILLED"):
        return
    message = error if isinstance(error, str) else error_text(error)
    client.set_tag(run_id, TAG_ERROR, redact(" ".join(message.split())))
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))


def standard_tags(kind: str) -> dict[str, str]:
    """Tags every run carries: its kind and the code version (package, source hash, git)."""
    import pitot_tf

    tags = {TAG_KIND: kind, TAG_CODE_VERSION: code_version(),
            TAG_SOURCE_VERSION: source_version(), TAG_PACKAGE_VERSION: pitot_tf.__version__}
    commit = git_commit()
    if commit:
        tags[TAG_GIT_COMMIT] = commit
    return tags


@contextmanager
def tracked_run(
    kind: str,
    run_name: str | None = None,
    experiment: str | None = None,
    tags: Mapping[str, Any] | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    stop_exceptions: tuple[type[BaseException], ...] = (),
    experiment_id: str | None = None,
) -> Iterator[mlflow.ActiveRun]:
    """A run of ``kind`` (``train``, ``evaluate``, ...) that ends FINISHED, FAILED or KILLED.

    ``experiment`` (a name; created if needed) or ``experiment_id`` is made active unless a
    run is being resumed from ``MLFLOW_RUN_ID`` (see
    :func:`~pitot_tf.tracking.experiments.adopt_project_run`) or nested in an active run;
    with neither, the experiment is ``$MLFLOW_EXPERIMENT_NAME`` or ``pitot``. ``nested`` makes
    it a child of the active run, ``parent_run_id`` a child of that run.
    """
    below = _active_id()  # the run this one is started inside, if any
    _choose_experiment(experiment, experiment_id, parent_run_id if parent_run_id else
                       below if nested else None)
    all_tags = {**standard_tags(kind), **{k: str(v) for k, v in (tags or {}).items()}}
    nested = nested or (parent_run_id is not None and below == parent_run_id)
    run = mlflow.start_run(run_name=run_name, nested=nested, parent_run_id=parent_run_id,
                           tags=all_tags)
    mark_model_training(run.info.experiment_id)
    try:
        yield run
    except stop_exceptions as stop:
        _end(run, below, RunStatus.KILLED, {TAG_STOPPED: error_text(stop)})
        raise
    except KeyboardInterrupt:
        _end(run, below, RunStatus.KILLED, {TAG_ERROR: "interrupted (KeyboardInterrupt)"})
        raise
    except BaseException as error:
        text = error_text(error)
        _end_or_raise(run, below, RunStatus.FAILED, {TAG_ERROR: text}, error, text)
        raise
    _end_or_raise(run, below, RunStatus.FINISHED, {})


def _choose_experiment(name: str | None, experiment_id: str | None, parent: str | None) -> None:
    """Make the run's experiment active: the one named, else the parent run's, else the
    default (see :func:`tracked_run`)."""
    if os.environ.get("MLFLOW_RUN_ID"):
        return
    if experiment_id:
        mlflow.set_experiment(experiment_id=experiment_id)
    elif name:
        mlflow.set_experiment(experiment_id=experiment_id_for(name))
    elif parent:
        mlflow.set_experiment(
            experiment_id=mlflow.MlflowClient().get_run(parent).info.experiment_id)
    elif not os.environ.get("MLFLOW_EXPERIMENT_ID"):
        mlflow.set_experiment(experiment_id=experiment_id_for(requested_experiment()))


def _active_id() -> str | None:
    active = mlflow.active_run()
    return active.info.run_id if active else None


def _end_or_raise(run: mlflow.ActiveRun, below: str | None, status: int, tags: dict[str, str],
                  error: BaseException | None = None, text: str = "") -> None:
    """End ``run``, waiting a while for a tracking server that went away (see
    :mod:`~pitot_tf.tracking.outage`). Raises a one-line TrackingError when the run could not
    be ended (it is then let go, :func:`_let_go`), or when ``error`` (what failed the run) came
    from the server or the file system."""
    run_id = run.info.run_id
    unended = end_patiently(lambda: _end(run, below, status, tags), run_id, error)
    if unended is not None:
        _let_go(below)
    problem = tracking_error(error, text, run_id, unended, RunStatus.to_string(status))
    if problem is not None:
        raise problem from (error or unended)


def _end(run: mlflow.ActiveRun, below: str | None, status: int, tags: dict[str, str]) -> None:
    """Set ``tags`` and end ``run`` (and any run started inside it and left active) with
    ``status``. ``below`` is the run that was active when ``run`` started (None if none): while
    the active run is another, ``run`` or a run inside it is still active on this thread.

    May be called again after a request failed. ``mlflow.end_run`` takes a run off this
    thread's active runs before it asks the server to mark it, so after a failed request the
    run is no longer active here, and the next try ends it by its id."""
    client = mlflow.MlflowClient()
    run_id = run.info.run_id
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
    while _active_id() not in (run_id, below):
        mlflow.end_run(RunStatus.to_string(RunStatus.FAILED))
    if _active_id() == run_id:
        mlflow.end_run(RunStatus.to_string(status))
    else:
        client.set_terminated(run_id, RunStatus.to_string(status))


def _let_go(below: str | None) -> None:
    """Take a run that could not be ended (and any run inside it) off this thread's active
    runs, so that this process can start others; it stays RUNNING for ``pitot-tf runs
    repair``. ``mlflow.end_run`` is MLflow's one way to do that: it lets the run go first and
    then asks the server to mark it, a request that is expected to fail (the server is
    unreachable) and whose failure changes nothing here. Should it get through, the status it
    asks for, RUNNING, keeps the run as the error message describes it."""
    while (active := _active_id()) != below:
        with contextlib.suppress(Exception):
            mlflow.end_run(RunStatus.to_string(RunStatus.RUNNING))
        if _active_id() == active:  # an MLflow that asks the server first kept it: give up
            break
