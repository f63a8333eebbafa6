"""``pitot-tf data preprocess | export-raw``: your own measurements ↔ the Pitot format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from pitot_tf.cli.app import data_app
from pitot_tf.cli.common import DataDir

OptionalPath = Optional[Path]  # noqa: UP045 - typer needs Optional on Python 3.10


@data_app.command("preprocess")
def preprocess(
    runs: Annotated[Path, typer.Option(help="Measurements CSV: workload,platform,runtime,unit "
                                            "[,interferers,status,count].")],
    out: Annotated[Path, typer.Option(help="Folder to write the dataset to.")],
    workloads: Annotated[OptionalPath, typer.Option(
        help="Workload features CSV (name + kind:column headers).")] = None,
    platforms: Annotated[OptionalPath, typer.Option(
        help="Platform features CSV (name + kind:column headers).")] = None,
    append_to: Annotated[OptionalPath, typer.Option(
        help="Existing dataset to extend; old indices stay, new names are appended.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a dataset already in --out.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Aggregate raw runs (drop failed ones, average repeats) into data.npz + ifK.npz."""
    from pitot_tf.data.preprocess import preprocess as run_preprocess

    summary = run_preprocess(runs, workloads, platforms, out, append_to, overwrite)
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
