"""MLflow entry point ``split``: write split files ``<out>/<level>/<replicate>.npz`` for the
given levels (comma-separated), replicates and seed, and log a manifest (see docs/mlflow.md).
An empty ``levels`` means every default level (0.1, ..., 0.9).
"""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--out", default="splits")
    parser.add_argument("--levels", default="")
    parser.add_argument("--replicates", default="5")
    parser.add_argument("--seed", default="42")
    return parser.parse_args(argv)


def split(args: argparse.Namespace) -> None:
    from pitot_tf.data.splits import DEFAULT_LEVELS
    from pitot_tf.tracking.experiments import adopt_project_run
    from pitot_tf.tracking.params import float_list, integer, optional
    from pitot_tf.tracking.steps import run_split_step

    adopt_project_run(None)

    levels = float_list(args.levels, "levels") or list(DEFAULT_LEVELS)
    run_id, written = run_split_step(optional(args.data_dir), args.out, levels,
                                     integer(args.replicates, "replicates"),
                                     integer(args.seed, "seed"))
    print(f"run {run_id}: wrote {len(written)} split files under {args.out}")


def main(argv: list[str] | None = None) -> int:
    from pitot_tf.tracking.entry import run_main

    args = parse_args(argv)
    return run_main(lambda: split(args), vars(args))


if __name__ == "__main__":
    sys.exit(main())
