"""The ``pitot-tf`` command line: one typer app with a sub-command per job, and the only
parser of the project: the MLflow entry points (``entrypoints/*.py``) hand their arguments
to the same commands through :func:`run_command`.

Errors that the user caused (:class:`pitot_tf.errors.PitotError`) print as one line and exit
1; usage errors (a bad option or value) are click's own message and exit 2. Under ``mlflow
run`` (``MLFLOW_RUN_ID`` set) any failure also marks the project's run FAILED with the error,
even when the command failed before it resumed that run. Error lines are redacted
(:func:`pitot_tf.redaction.redact`), and a database ``$MLFLOW_TRACKING_URI`` whose driver is
missing is such a one-line error (:func:`pitot_tf.db_drivers.prepare_tracking_uri`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer

from pitot_tf.cli.app import app, register_commands
from pitot_tf.db_drivers import prepare_tracking_uri
from pitot_tf.errors import PitotError
from pitot_tf.redaction import redact


def main() -> None:
    """Console-script entry: run ``pitot-tf`` with ``sys.argv``; ``--debug`` anywhere shows
    the traceback of a user error instead of the one-line message."""
    args = sys.argv[1:]
    debug = "--debug" in args
    sys.exit(run_args([a for a in args if a != "--debug"], debug=debug))


def run_command(command: str, argv: Sequence[str]) -> int:
    """Run ``pitot-tf <command> <argv>`` (``command`` may be ``"data log"``) and return its
    exit code; what an MLflow entry-point script calls with its ``sys.argv[1:]``."""
    return run_args([*command.split(), *argv])


def run_args(args: list[str], debug: bool = False) -> int:
    """Run the app on ``args``; return the exit code (see the module doc for errors)."""
    register_commands()
    project_run = os.environ.get("MLFLOW_RUN_ID")  # ending that run unsets the variable
    try:
        prepare_tracking_uri()  # a database URL: an installed driver, or one line
        code = app(args=args, prog_name="pitot-tf", standalone_mode=False)
    except typer.TyperException as error:  # a usage error: typer's click says what and where
        show = getattr(error, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(redact(f"Error: {error.format_message()}"), err=True)
        _fail_project_run(redact(error.format_message()))
        return error.exit_code
    except typer.Abort:
        typer.echo("Aborted!", err=True)
        return 1
    except PitotError as error:
        if debug:
            raise
        if not _is_pipeline_step(project_run):  # the pipeline prints its step's error once
            typer.secho(redact(f"error: {error}"), err=True, fg="red")
        _fail_project_run(error)
        return 1
    except Exception as error:
        _fail_project_run(error)
        raise
    return code if isinstance(code, int) else 0


def _fail_project_run(error: BaseException | str) -> None:
    """Mark the ``mlflow run`` run FAILED; a store that cannot be reached must not hide the
    error being reported."""
    if not os.environ.get("MLFLOW_RUN_ID"):
        return
    from pitot_tf.tracking.runs import fail_project_run

    try:
        fail_project_run(error)
    except Exception:  # noqa: BLE001 - the tracking store is gone: report the first error
        pass


def _is_pipeline_step(run_id: str | None) -> bool:
    """Whether ``run_id`` (``mlflow run``'s) is a step of the ``main`` pipeline; False when
    there is none or the tracking store cannot be read (then the error is printed here)."""
    if not run_id:
        return False
    from pitot_tf.tracking.experiments import is_pipeline_step

    try:
        return is_pipeline_step(run_id)
    except Exception:  # noqa: BLE001
        return False
