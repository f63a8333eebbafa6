"""``pitot-tf split``: write split files in the reference implementation's layout."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pitot_tf.cli.app import app
from pitot_tf.cli.common import DataDir


@app.command("split")
def split(
    data_dir: DataDir = None,
    out: Annotated[Path, typer.Option(help="Folder for <level>/<replicate>.npz.")] = Path("splits"),
    levels: Annotated[
        list[float] | None, typer.Option("--levels", help="Data levels (repeat).")
    ] = None,  # noqa: UP045
    replicates: Annotated[int, typer.Option(help="Replicates per level.")] = 5,
    seed: int = 42,
) -> None:
    """Shuffle each objective's rows per level and replicate; write train/val/test indices."""
    from pitot_tf.data.dataset import load_dataset
    from pitot_tf.data.splits import DEFAULT_LEVELS, write_splits

    dataset = load_dataset(data_dir)
    written = write_splits(dataset, out, levels or DEFAULT_LEVELS, range(replicates), seed)
    typer.echo(f"wrote {len(written)} split files under {out}")
