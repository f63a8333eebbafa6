"""``pitot-tf sweep [summary | figures]``: the paper's experiments as one resumable sweep."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from pitot_tf.cli.app import app
from pitot_tf.cli.common import DataDir, Overrides, SplitsDir

#: Options that take several values after one flag: ``--presets pitot 'baseline/*'``.
MULTI_VALUE_OPTIONS = ("--presets", "--levels", "--replicates", "--set")


def spread_values(args: list[str], options: Iterable[str], stop: Iterable[str]) -> list[str]:
    """``--presets a b`` → ``--presets a --presets b`` (click options take one value each);
    values run until the next option or a sub-command name in ``stop``. A flag given no
    value is kept as is, for click to report."""
    wanted, commands = set(options), set(stop)
    spread: list[str] = []
    current: str | None = None
    given = 0
    for arg in args:
        if current is not None and arg not in wanted and not arg.startswith("-") \
                and arg not in commands:
            spread += [current, arg]
            given += 1
            continue
        if current is not None and given == 0:
            spread.append(current)
        current, given = (arg, 0) if arg in wanted else (None, 0)
        if current is None:
            spread.append(arg)
    if current is not None and given == 0:
        spread.append(current)
    return spread


class SpreadGroup(TyperGroup):
    """The ``sweep`` group, accepting several values after ``--presets``, ``--levels``,
    ``--replicates`` and ``--set``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, spread_values(args, MULTI_VALUE_OPTIONS, self.commands))


sweep_app = typer.Typer(
    cls=SpreadGroup, invoke_without_command=True, no_args_is_help=True,
    help="Train every preset × level × replicate (resumable, several workers); "
         "see docs/sweeps.md.")
app.add_typer(sweep_app, name="sweep")

OptionalStr = Optional[str]  # noqa: UP045 - typer needs Optional on Python 3.10
Words = Optional[list[str]]  # noqa: UP045
Experiment = Annotated[OptionalStr, typer.Option(help="MLflow experiment (default: sweep).")]
SweepId = Annotated[OptionalStr, typer.Option(
    "--sweep", help="Sweep id, sweep-<id> or parent run id (default: the newest sweep).")]


@sweep_app.callback()
def sweep(
    ctx: typer.Context,
    presets: Annotated[Words, typer.Option(
        help="Presets or globs, e.g. --presets pitot 'baseline/*'.")] = None,
    levels: Annotated[Words, typer.Option(help="Data levels (default 0.1 … 0.9).")] = None,
    replicates: Annotated[Words, typer.Option(help="Replicates: 0-4 or 0 1 2 (default 0-4).")
                          ] = None,
    overrides: Overrides = None,
    data_dir: DataDir = None,
    splits_dir: SplitsDir = None,
    experiment: Experiment = None,
    workers: Annotated[int, typer.Option(help="Worker processes on this machine.")] = 1,
    log_model: Annotated[bool, typer.Option("--log-model/--no-model",
                                            help="Log each run's models.")] = True,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    stale_after: Annotated[float, typer.Option(
        help="Seconds without a heartbeat after which a cell's worker counts as dead.")
    ] = 180.0,
) -> None:
    """Train and evaluate every cell once; run again to resume or to add workers."""
    if ctx.invoked_subcommand is not None:
        return
    if not presets:
        raise typer.BadParameter("name the presets to sweep", param_hint="--presets")
    from pitot_tf.config import parse_overrides
    from pitot_tf.sweep.runner import run_sweep

    result = run_sweep(presets, levels, replicates, parse_overrides(overrides or []),
                       data_dir=data_dir, splits_dir=splits_dir, experiment=experiment,
                       workers=workers, log_model=log_model, progress=progress,
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
        help="Gather every sweep cell run of this experiment instead.")] = None,
    out: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        help="CSV file to write (default: print).")] = None,
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
        "--run", help="Training run to analyse (default: the sweep's pitot run near 0.5).")
    ] = None,
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
