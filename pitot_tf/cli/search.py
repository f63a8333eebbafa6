"""``pitot-tf search [export | list]`` and ``pitot-tf dashboard``: Optuna studies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from pitot_tf.cli.app import app
from pitot_tf.cli.common import DataDir, Overrides, SplitsDir

search_app = typer.Typer(
    help="Tune a preset with an Optuna study (studies/<name>.yaml); see docs/search.md.",
    invoke_without_command=True)
app.add_typer(search_app, name="search")

OptionalStr = Optional[str]  # noqa: UP045 - typer needs Optional on Python 3.10
Study = Annotated[OptionalStr, typer.Option("--study", help="Study name (studies/NAME.yaml) or "
                                                              "a study YAML file.")]
Storage = Annotated[OptionalStr, typer.Option(
    "--storage", help="Journal file path or database URL (default studies/<study>.journal).")]


@search_app.callback()
def search(
    ctx: typer.Context,
    study: Study = None,
    n_trials: Annotated[int, typer.Option("--n-trials", help="Finished trials the study should "
                                                             "have in total.")] = 20,
    storage: Storage = None,
    workers: Annotated[int, typer.Option(help="Worker processes on this machine.")] = 1,
    timeout: Annotated[Optional[float], typer.Option(  # noqa: UP045
        help="Start no trial after this many seconds.")] = None,
    overrides: Overrides = None,
    data_dir: DataDir = None,
    splits_dir: SplitsDir = None,
    experiment: Annotated[OptionalStr, typer.Option(
        help="MLflow experiment (default pitot, like training runs).")] = None,
) -> None:
    """Run a study until it has --n-trials finished trials (with --workers processes)."""
    if ctx.invoked_subcommand is not None:
        return
    from pitot_tf.errors import ConfigError

    if study is None:
        raise ConfigError("name the study to run with --study (`pitot-tf search list`)")
    from pitot_tf.config import parse_overrides
    from pitot_tf.search.studies import load_study

    values = parse_overrides(overrides or [])
    load_study(study).with_overrides(values)  # a bad study file fails before TensorFlow loads
    from pitot_tf.search.runner import result_text, run_search

    result = run_search(study, n_trials, storage, workers, timeout, values, data_dir,
                        splits_dir, experiment=experiment)
    typer.echo(result_text(result))


@search_app.command("export")
def export(
    study: Study = None,
    out: Annotated[OptionalStr, typer.Option(
        "--out", help="Preset name to write (studies/presets/NAME.yaml).")] = None,
    storage: Storage = None,
    trial: Annotated[Optional[int], typer.Option(  # noqa: UP045
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
    from pitot_tf.search.dashboard import dashboard_storage, serve_dashboard

    location = dashboard_storage(Path(study) if study and study.endswith(".yaml") else study,
                                 storage)
    typer.echo(f"optuna-dashboard on http://{host}:{port} for {location}", err=True)
    serve_dashboard(location, host, port)
