"""``pitot-tf sweep [summary | figures]``: the paper's experiments as one resumable sweep
(``pitot-tf sweep`` is also the MLflow ``sweep`` entry point)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from pitot_tf.cli.app import app
from pitot_tf.cli.common import (
    DataDir,
    Levels,
    LogModel,
    OptionalStr,
    Overrides,
    Replicates,
    SplitsDir,
    Switch,
    Words,
    items,
    levels_of,
    overrides_of,
    replicates_of,
)

sweep_app = typer.Typer(
    invoke_without_command=True, no_args_is_help=True,
    help="Train every preset × level × replicate (resumable, several workers); "
         "see docs/sweeps.md.")
app.add_typer(sweep_app, name="sweep")

Experiment = Annotated[OptionalStr, typer.Option(
    show_default=False, help="MLflow experiment (default: sweep).")]
SweepId = Annotated[OptionalStr, typer.Option(
    "--sweep", show_default=False,
    help="Sweep id, sweep-<id> or parent run id (default: the newest sweep).")]


@sweep_app.callback()
def sweep(
    ctx: typer.Context,
    presets: Annotated[Words, typer.Option(
        show_default=False,
        help="Presets or globs, repeatable or comma-separated: pitot,'baseline/*' "
             "(default: none, required).")] = None,
    levels: Levels = None,
    replicates: Replicates = None,
    overrides: Overrides = None,
    data_dir: DataDir = None,
    splits_dir: SplitsDir = None,
    experiment: Experiment = None,
    workers: Annotated[int, typer.Option(help="Worker processes on this machine.")] = 1,
    log_model: LogModel = Switch.true,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    stale_after: Annotated[float, typer.Option(
        help="Seconds without a heartbeat after which a cell's worker counts as dead.")
    ] = 180.0,
) -> None:
    """Train and evaluate every cell once; run again to resume or to add workers."""
    if ctx.invoked_subcommand is not None:
        return
    names = items(presets)
    if not names:
        raise typer.BadParameter("name the presets to sweep", param_hint="--presets")
    from pitot_tf.sweep.runner import run_sweep
    from pitot_tf.tracking.experiments import adopt_project_run

    adopt_project_run(experiment or "sweep")  # under `mlflow run`: the sweep's parent run
    result = run_sweep(names, levels_of(levels), replicates_of(replicates),
                       overrides_of(overrides), data_dir=data_dir, splits_dir=splits_dir,
                       experiment=experiment, workers=workers,
                       log_model=log_model is Switch.true, progress=progress,
                       stale_after=stale_after)
    typer.echo(f"sweep {result.sweep_id}: "
               f"{result.done}/{result.cells} cells done; this run trained {result.trained}, "
               f"reused {result.reused}, {len(result.failed)} failed, {result.wall_s:.0f} s")
    typer.echo(f"MLflow parent run {result.parent_run_id} (experiment {result.experiment})")
    if result.failed:
        from pitot_tf.errors import PitotError

        cell, error = next(iter(result.failed.items()))
        raise PitotError(f"{len(result.failed)} cell(s) failed, first {cell}: {error}")


@sweep_app.command("summary")
def summary(
    sweep_id: SweepId = None,
    experiment: Annotated[OptionalStr, typer.Option(
        show_default=False,
        help="Gather every sweep cell run of this experiment instead (default: the sweep's "
             "own runs).")] = None,
    out: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        show_default=False, help="CSV file to write (default: print).")] = None,
    log: Annotated[bool, typer.Option(help="Also log the tables to the sweep's parent run.")
                   ] = False,
) -> None:
    """Mean ± 2 standard errors over replicates per preset × level × objective × α."""
    from pitot_tf.reporting.summary import sweep_summary

    result = sweep_summary(sweep_id, experiment, out, log=log)
    if out is None:
        typer.echo(result.table.to_csv(index=False), nl=False)
    else:
        typer.echo(f"wrote {out} ({len(result.table)} rows from {len(result.runs)} runs)")
    if log and result.parent_run_id:
        typer.echo(f"logged summary.csv to parent run {result.parent_run_id}", err=True)


@sweep_app.command("figures")
def figures(
    sweep_id: SweepId = None,
    experiment: Experiment = None,
    out: Annotated[Path, typer.Option(help="Folder for the PNG files.")] = Path("figures"),
    run: Annotated[OptionalStr, typer.Option(
        "--run-id", show_default=False,
        help="Training run to analyse (default: the sweep's pitot run near 0.5).")] = None,
    analysis: Annotated[bool, typer.Option(help="Draw the model analysis figures.")] = True,
    log: Annotated[bool, typer.Option(help="Also log the figures to the sweep's parent run.")
                   ] = False,
) -> None:
    """Draw the paper's figures from a sweep into --out (and, with --log, its parent run)."""
    from pitot_tf.reporting.report import sweep_figures

    report = sweep_figures(sweep_id, experiment, out, run, analysis, log)
    for path in report.paths:
        typer.echo(str(path))
    for note in report.notes:
        typer.echo(f"note: {note}", err=True)
