"""What every entry-point script shares: run its body, turn user errors into exit code 1.

A user error (:class:`~pitot_tf.errors.PitotError`) prints as one line, without traceback;
under ``mlflow run`` it speaks in ``-P name=value`` terms: options such as ``--data-dir`` are
named as the MLproject parameter, and the parameters whose values the message mentions are
repeated as the user typed them (``-P source=/no/such/folder``). If it happened before
the script resumed the run that ``mlflow run`` created for it (a bad parameter), that run is
marked FAILED with the ``error`` tag here; errors inside a run are marked by
:func:`~pitot_tf.tracking.runs.tracked_run`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping

from pitot_tf.errors import PitotError


def run_main(body: Callable[[], object], passed: Mapping[str, str] | None = None,
             options: Mapping[str, str] | None = None) -> int:
    """Call ``body``; return 0, or 1 after printing a user error as one line. ``passed``:
    the entry point's parameters by MLproject name (``{"data_dir": args.data_dir}``);
    ``options``: CLI options that messages may name, by the parameter that sets them here
    (``{"--data-dir": "source"}``; by default ``--data-dir`` is ``data_dir``)."""
    under_project = bool(os.environ.get("MLFLOW_RUN_ID"))
    step = under_project and _is_step(os.environ["MLFLOW_RUN_ID"])
    try:
        body()
    except PitotError as error:
        message = (user_message(str(error), passed or {}, options) if under_project
                   else str(error))
        if not step:  # a pipeline step's error is printed once, by the pipeline
            print(f"error: {message}", file=sys.stderr)
        _fail_unstarted_run(error)
        return 1
    except BaseException as error:
        _fail_unstarted_run(error)
        raise
    return 0


def user_message(message: str, passed: Mapping[str, str],
                 options: Mapping[str, str] | None = None) -> str:
    """``message`` as a user of ``mlflow run`` should read it (see the module doc)."""
    renamed = {f"--{name.replace('_', '-')}": name for name in passed}
    for option, name in {**renamed, **(options or {})}.items():
        message = message.replace(option, f"-P {name}")
    mentioned = [f"-P {k}={v}" for k, v in passed.items() if _mentions(message, str(v))]
    return f"{message} (you passed {' '.join(mentioned)})" if mentioned else message


def _mentions(message: str, value: str) -> bool:
    """Whether ``value`` stands in ``message`` as a word of its own (a path, a quoted value),
    not inside another (``pitot`` in ``pitot-tf``)."""
    if len(value) < 2:
        return False
    return re.search(rf"(?<![\w/.-]){re.escape(value)}(?![\w/.-])", message) is not None


def _is_step(run_id: str) -> bool:
    try:
        from pitot_tf.tracking.experiments import is_pipeline_step

        return is_pipeline_step(run_id)
    except Exception:  # noqa: BLE001 - the tracking store is not reachable: print the error
        return False


def _fail_unstarted_run(error: BaseException) -> None:
    """Mark the ``mlflow run`` run FAILED if the script never resumed it."""
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id:
        return
    import mlflow
    from mlflow.entities import RunStatus

    from pitot_tf.tracking.names import TAG_ERROR
    from pitot_tf.tracking.runs import error_text

    client = mlflow.MlflowClient()
    client.set_tag(run_id, TAG_ERROR, error_text(error))
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
