"""The ``pitot-tf`` command line: one typer app with a sub-command per job.

Every command calls the same library functions as the MLflow entry points; errors that
the user caused (:class:`pitot_tf.errors.PitotError`) print as one line and exit 1.
Usage errors (a bad option) are typer's own: a message and exit code 2.
"""

from __future__ import annotations

import sys

import typer

from pitot_tf.cli.app import app, register_commands
from pitot_tf.errors import PitotError


def main() -> None:
    """Console-script entry: run the app, turning user errors into one-line messages."""
    register_commands()
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    try:
        app()
    except PitotError as error:
        if debug:
            raise
        typer.secho(f"error: {error}", err=True, fg="red")
        sys.exit(1)
