"""``pitot-tf data preprocess | export-raw``: your own measurements ↔ the Pitot format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pitot_tf.cli.app import data_app
from pitot_tf.cli.common import DataDir, OptionalPath, not_default


@data_app.command("preprocess")
def preprocess(
    runs: Annotated[Path, typer.Option(help="Measurements CSV: workload,platform,runtime,unit "
                                            "[,interferers,status,count].")],
    out: Annotated[Path, typer.Option(help="Folder to write the dataset to.")],
    workloads: Annotated[OptionalPath, typer.Option(
        callback=not_default, show_default=False,
        help="Workload features CSV, name + kind:column headers (default: none).")] = None,
    platforms: Annotated[OptionalPath, typer.Option(
        callback=not_default, show_default=False,
        help="Platform features CSV, name + kind:column headers (default: none).")] = None,
    append_to: Annotated[OptionalPath, typer.Option(
        callback=not_default, show_default=False,
        help="Existing dataset to extend; old indices stay, new names are appended "
             "(default: none, a new dataset).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a dataset already in --out.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Aggregate raw runs (drop failed ones, average repeats) into data.npz + ifK.npz.
    Under `mlflow run` the counts, summary and encoders are recorded in the run."""
    from pitot_tf.data.preprocess import preprocess as run_preprocess
    from pitot_tf.tracking.experiments import adopt_project_run

    under_project = adopt_project_run(None) is not None
    summary = run_preprocess(runs, workloads, platforms, out, append_to, overwrite)
    if under_project:
        from pitot_tf.tracking.steps import log_preprocess_step

        log_preprocess_step(summary)
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        typer.echo("\n".join(summary.lines()))


@data_app.command("export-raw")
def export_raw(
    out: Annotated[Path, typer.Option(help="Folder for runs.csv, workloads.csv, platforms.csv.")],
    data_dir: DataDir = None,
) -> None:
    """Write a dataset back as raw CSVs (features passed through as num: columns)."""
    from pitot_tf.data.export import export_raw as run_export

    for path in run_export(data_dir, out).values():
        typer.echo(f"wrote {path}")
