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
    mode: Annotated[
        str, typer.Option(help="random, cold-workload, cold-platform or cold-both (hold out "
                                "whole workloads, platforms or both).")
    ] = "random",
    holdout: Annotated[float, typer.Option(help="Share held out per cold part.")] = 0.2,
) -> None:
    """Shuffle each objective's rows per level and replicate; write train/val/test indices.

    Cold modes hold out whole workloads, platforms or both: all their rows are test, and
    another held-out set calibrates the bounds, so the guarantee holds for rows never
    measured."""
    from pitot_tf.data.cold import COLD_MODES, make_cold_split
    from pitot_tf.data.dataset import load_dataset
    from pitot_tf.data.splits import DEFAULT_LEVELS, save_split, split_path, write_splits
    from pitot_tf.errors import ConfigError

    dataset = load_dataset(data_dir)
    levels = levels or list(DEFAULT_LEVELS)
    if mode == "random":
        written = write_splits(dataset, out, levels, range(replicates), seed)
    elif mode in COLD_MODES:
        written = [
            save_split(
                make_cold_split(dataset, level, r, seed, mode=mode, holdout=holdout),
                split_path(out, level, r),
            )
            for level in levels
            for r in range(replicates)
        ]
    else:
        raise ConfigError(f"--mode must be random or {', '.join(COLD_MODES)}, got '{mode}'")
    typer.echo(f"wrote {len(written)} split files under {out}")
