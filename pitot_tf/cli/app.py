"""The root typer app and its command groups; each module under ``pitot_tf.cli`` adds its
commands to these objects when imported (see :func:`register_commands`)."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="pitot-tf",
    help="Interference-aware runtime prediction with conformal bounds (Pitot).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(
    help="Validate, fetch, synthesize or preprocess a dataset.", no_args_is_help=True
)
runs_app = typer.Typer(
    help="Look after MLflow runs (repair runs left RUNNING).", no_args_is_help=True
)
app.add_typer(data_app, name="data")
app.add_typer(runs_app, name="runs")

COMMAND_MODULES = (
    "data",
    "preprocess",
    "presets",
    "split",
    "pipeline",
    "train",
    "evaluate",
    "predict",
    "serve",
    "search",
    "sweep",
    "runs",
    "info",
)


def register_commands() -> None:
    """Import every command module so that it registers its commands."""
    for name in COMMAND_MODULES:
        importlib.import_module(f"pitot_tf.cli.{name}")
