"""``pitot-tf data validate | fetch | synth``: get a dataset and check it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from pitot_tf.cli.app import data_app
from pitot_tf.cli.common import DataDir


@data_app.command("validate")
def validate(
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Load and check a dataset (default: the published one shipped with pitot-tf); print its
    sizes, runtime range and what the runtimes' unit is. Exits non-zero on invalid data."""
    from pitot_tf.data.dataset import default_data_dir, load_dataset
    from pitot_tf.data.packaged import SOURCE_COMMIT, SOURCE_REPOSITORY, is_published
    from pitot_tf.data.unit_evidence import unit_lines
    from pitot_tf.data.units import format_seconds

    dataset = load_dataset(default_data_dir(data_dir))
    published = is_published(dataset.source)
    summary = dataset.summary()
    if as_json:
        typer.echo(json.dumps({**summary, "published": published,
                               "units": unit_lines(dataset, published)}, indent=2))
        return
    typer.echo(f"{dataset.source}: valid (runtimes stored in {dataset.unit})")
    if published:
        typer.echo(f"  the published Pitot dataset ({SOURCE_REPOSITORY} at {SOURCE_COMMIT[:7]})")
    typer.echo(
        f"  platforms {summary['platforms']} ({summary['platform_features']} features), "
        f"workloads {summary['workloads']} ({summary['workload_features']} features)"
    )
    for name, info in summary["objectives"].items():  # type: ignore[attr-defined]
        typer.echo(
            f"  {name:>4}: {info['rows']:>7,} runtimes, density {info['density']:.1%}, "
            f"{info['duplicate_rows']} repeated, "
            + (f"{format_seconds(info['runtime_min_s'])} to {format_seconds(info['runtime_max_s'])}"
               if info["rows"] else "-")
        )
    for line in unit_lines(dataset, published):
        typer.echo(f"  {line}")


@data_app.command("fetch")
def fetch(
    out: Annotated[Path, typer.Option(help="Folder to write the files to.")] = Path("data"),
    base_url: Annotated[Optional[str], typer.Option(  # noqa: UP045
        show_default=False,
        help="Mirror to download from (default: $PITOT_DATA_URL, else the published "
             "repository).")] = None,
    files: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        "--file", show_default=False,
        help="Only this file, repeatable (default: every file of the dataset).")] = None,
) -> None:
    """Download the published dataset (every file of the pinned commit, also the 3- and 4-way
    files and the unfiltered feature tables the package does not ship), verifying each
    file's git blob hash."""
    from pitot_tf.data.fetch import ALL_FILES, fetch_dataset

    for path in fetch_dataset(out, base_url, files or ALL_FILES):
        typer.echo(f"ok {path}")


@data_app.command("synth")
def synth(
    out: Annotated[Path, typer.Option(help="Folder to write the dataset to.")],
    platforms: Annotated[int, typer.Option(help="Number of platforms.")] = 24,
    workloads: Annotated[int, typer.Option(help="Number of workloads.")] = 40,
    interference: Annotated[Optional[list[int]], typer.Option(  # noqa: UP045
        show_default=False,
        help="Interference degrees K (ifK.npz), repeatable (default: 2).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    noise: Annotated[float, typer.Option(help="Noise: sd of each log runtime.")] = 0.05,
) -> None:
    """Write a synthetic dataset (and its ground truth) in the Pitot format, runtimes in
    nanoseconds (recorded in data.npz). Used only where named: --data-dir OUT."""
    from pitot_tf.data.synth import synthesize_dataset

    path = synthesize_dataset(out, platforms, workloads, interference or [2], seed, noise)
    typer.echo(f"wrote {path}")
