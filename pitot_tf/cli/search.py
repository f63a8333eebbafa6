"""``pitot-tf search [export | list]`` and ``pitot-tf dashboard``: Optuna studies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from pitot_tf.cli.app import app
from pitot_tf.cli.common import (
    DataDir,
    Experiment,
    OptionalStr,
    Overrides,
    SplitsDir,
    overrides_of,
    storage_option,
)
from pitot_tf.db_drivers import STORAGE_VARIABLE

search_app = typer.Typer(
    help="Tune a preset with an Optuna study (studies/<name>.yaml); see docs/search.md.",
    invoke_without_command=True)
app.add_typer(search_app, name="search")

Study = Annotated[OptionalStr, typer.Option(
    "--study", show_default=False,
    help="Study name (studies/NAME.yaml) or a study YAML file (default: none, required).")]
Storage = Annotated[OptionalStr, typer.Option(
    "--storage", callback=storage_option, envvar=STORAGE_VARIABLE, show_default=False,
    help=f"Journal file path or database URL without a password (default: "
         f"${STORAGE_VARIABLE}, else studies/<study>.journal). Put a URL with a password in "
         f"${STORAGE_VARIABLE}: a command line is visible to other users and `mlflow run` "
         f"logs it.")]


@search_app.callback()
def search(
    ctx: typer.Context,
    study: Study = None,
    n_trials: Annotated[int, typer.Option("--n-trials", help="Finished trials the study should "
                                                             "have in total.")] = 20,
    storage: Storage = None,
    workers: Annotated[int, typer.Option(help="Worker processes on this machine.")] = 1,
    timeout: Annotated[float, typer.Option(
        help="Start no trial after this many seconds; 0: no limit.")] = 0,
    overrides: Overrides = None,
    data_dir: DataDir = None,
    splits_dir: SplitsDir = None,
    experiment: Experiment = None,
) -> None:
    """Run a study until it has --n-trials finished trials (with --workers processes)."""
    if ctx.invoked_subcommand is not None:
        return
    from pitot_tf.errors import ConfigError

    if study is None:
        raise ConfigError("name the study to run with --study (`pitot-tf search list`)")
    if timeout < 0:
        raise ConfigError(f"--timeout must be >= 0 seconds (0: no limit), got {timeout:g}")
    from pitot_tf.search.studies import load_study
    from pitot_tf.tracking.experiments import adopt_project_run

    values = overrides_of(overrides)
    load_study(study).with_overrides(values)  # a bad study file fails before TensorFlow loads
    adopt_project_run(experiment)  # under `mlflow run`: the study's parent run
    from pitot_tf.search.runner import result_text, run_search

    result = run_search(study, n_trials, storage, workers, timeout or None, values, data_dir,
                        splits_dir, experiment=experiment)
    typer.echo(result_text(result))


@search_app.command("export")
def export(
    study: Study = None,
    out: Annotated[OptionalStr, typer.Option(
        "--out", show_default=False,
        help="Preset name to write, studies/presets/NAME.yaml (default: none, required).")
    ] = None,
    storage: Storage = None,
    trial: Annotated[Optional[int], typer.Option(  # noqa: UP045
        show_default=False,
        help="Trial number (default: the best; required with several objectives).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing preset file.")] = False,
) -> None:
    """Write a trial (default: the best) as a preset usable by `pitot-tf train --preset`."""
    from pitot_tf.errors import ConfigError

    if study is None or out is None:
        raise ConfigError("search export needs --study and --out")
    from pitot_tf.search.export import export_trial

    path = export_trial(study, out, storage, trial, force)
    typer.echo(f"wrote {path}; train it with `pitot-tf train --preset {out}`")


@search_app.command("list")
def list_studies() -> None:
    """List the study definitions in studies/ ($PITOT_STUDIES)."""
    from pitot_tf.search.studies import list_studies as names
    from pitot_tf.search.studies import load_study

    for name in names():
        spec = load_study(name)
        typer.echo(f"{name:<26} {', '.join(spec.metrics):<20} {spec.description}")


@app.command("dashboard")
def dashboard(
    study: Study = None,
    storage: Storage = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
) -> None:
    """Serve optuna-dashboard for a study's storage until interrupted."""
    from pitot_tf.redaction import redact
    from pitot_tf.search.dashboard import dashboard_storage, serve_dashboard

    location = dashboard_storage(Path(study) if study and study.endswith(".yaml") else study,
                                 storage)
    typer.echo(f"optuna-dashboard on http://{host}:{port} for {redact(location)}", err=True)
    serve_dashboard(location, host, port)
