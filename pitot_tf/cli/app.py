"""The root typer app and its command groups; each module under ``pitot_tf.cli`` adds its
commands to these objects when imported (see :func:`register_commands`)."""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import Annotated

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

DISTRIBUTION = "pitot-tf"


def package_version() -> str:
    """The installed distribution's version (importlib.metadata); the package's own
    ``__version__`` when it runs from a source tree that was never installed."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        import pitot_tf

        return pitot_tf.__version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"{DISTRIBUTION} {package_version()}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the pitot-tf version and exit.")] = False,
) -> None:
    """Interference-aware runtime prediction with conformal bounds (Pitot)."""

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
    "plan",
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
