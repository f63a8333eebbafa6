"""``pitot-tf split``: write split files in the reference implementation's layout (also the
MLflow ``split`` entry point, which records them in its run)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pitot_tf.cli.app import app
from pitot_tf.cli.common import DataDir, Levels, Replicates, levels_of, replicates_of

if TYPE_CHECKING:
    from pitot_tf.data.dataset import Dataset

Out = Annotated[Path, typer.Option(help="Folder for <level>/<replicate>.npz.")]
Seed = Annotated[int, typer.Option(help="Seed of the shuffles (the default is the one "
                                        "training uses when it splits on the fly).")]
Mode = Annotated[str, typer.Option(
    help="random, cold-workload, cold-platform or cold-both (hold out whole workloads, "
         "platforms or both).")]
Holdout = Annotated[float, typer.Option(help="Share held out per cold part (cold modes).")]


@app.command("split")
def split(
    data_dir: DataDir = None, out: Out = Path("splits"), levels: Levels = None,
    replicates: Replicates = None, seed: Seed = 42, mode: Mode = "random",
    holdout: Holdout = 0.2,
) -> None:
    """Shuffle each objective's rows per level and replicate; write train/val/test indices.

    Cold modes hold out whole workloads, platforms or both: all their rows are test, and
    another held-out set calibrates the bounds, so the guarantee holds for rows never
    measured. Under `mlflow run` the files are recorded in the run (a manifest with their
    SHA-256 and the data fingerprint)."""
    from pitot_tf.data.cold import COLD_MODES, make_cold_split
    from pitot_tf.data.splits import DEFAULT_LEVELS, save_split, split_path, write_splits
    from pitot_tf.errors import ConfigError
    from pitot_tf.tracking.experiments import adopt_project_run
    from pitot_tf.tracking.steps import run_split_step

    chosen = levels_of(levels) or list(DEFAULT_LEVELS)
    ids = replicates_of(replicates) or list(range(5))
    if mode != "random" and mode not in COLD_MODES:
        raise ConfigError(f"--mode must be random or {', '.join(COLD_MODES)}, got '{mode}'")

    def write(dataset: Dataset) -> list[Path]:
        if mode == "random":
            return write_splits(dataset, out, chosen, ids, seed)
        return [save_split(make_cold_split(dataset, level, r, seed, mode=mode, holdout=holdout),
                           split_path(out, level, r)) for level in chosen for r in ids]

    if adopt_project_run(None) is None:  # not under `mlflow run`: only write the files
        from pitot_tf.data.dataset import load_dataset

        written = write(load_dataset(data_dir))
    else:
        run_id, written = run_split_step(data_dir, out, write)
        typer.echo(f"run {run_id}: recorded the split files")
    typer.echo(f"wrote {len(written)} split files under {out}")
