"""``pitot-tf runs repair``: mark runs left RUNNING by dead processes KILLED."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from pitot_tf.cli.app import runs_app


@runs_app.command("repair")
def repair(
    experiment: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        help="Experiment name (repeatable; default: all).")] = None,
    older_than: Annotated[Optional[float], typer.Option(  # noqa: UP045
        show_default=False,
        help="Also kill runs RUNNING this many seconds with no metric for as long "
             "(default: only runs whose process is gone).")] = None,
    dry_run: Annotated[bool, typer.Option(help="Only list what would be marked.")] = False,
) -> None:
    """Mark RUNNING runs KILLED when their process on this host is gone (sweep runs record
    it) or, with --older-than, when they have been silent that long.

    Killed runs get the reason in their error tag; a sweep never reuses them.
    """
    from pitot_tf.tracking.repair import repair_runs

    found = repair_runs(experiment, older_than, dry_run)
    verb = "would mark" if dry_run else "marked"
    for run in found:
        typer.echo(f"{verb} run {run.run_id} ({run.name or 'unnamed'}) KILLED: {run.reason}")
    typer.echo(f"{len(found)} run(s) {verb.replace('would mark', 'to mark')} KILLED")
