"""MLflow entry point ``train``: train a preset on one split, evaluate its conformal bounds on
the test split and log everything (see docs/mlflow.md). Same code as ``pitot-tf train``.

Parameters arrive as text; empty means "not given": ``overrides`` is a space- or
comma-separated ``key=value`` list, ``steps`` 0 or empty keeps the preset's
``training.steps``, an empty ``splits_dir`` makes the split with the default seed.
``experiment`` applies when run directly; under ``mlflow run`` use ``--experiment-name``.
"""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="pitot")
    parser.add_argument("--overrides", default="")
    parser.add_argument("--level", default="0.5")
    parser.add_argument("--replicate", default="0")
    parser.add_argument("--steps", default="")
    parser.add_argument("--experiment", default="")
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--splits-dir", default="")
    return parser.parse_args(argv)


def train(args: argparse.Namespace) -> None:
    from pitot_tf.config import parse_overrides
    from pitot_tf.tracking.params import integer, optional, optional_steps, real, split_overrides
    from pitot_tf.tracking.report import summary_text
    from pitot_tf.tracking.training import run_training

    run = run_training(
        args.preset, parse_overrides(split_overrides(args.overrides)), real(args.level, "level"),
        integer(args.replicate, "replicate"), optional(args.data_dir), optional(args.splits_dir),
        optional_steps(args.steps), experiment=optional(args.experiment))
    print(f"run {run.run_id}")
    print(summary_text(run.evaluation))


def main(argv: list[str] | None = None) -> int:
    from pitot_tf.tracking.entry import run_main

    args = parse_args(argv)
    return run_main(lambda: train(args))


if __name__ == "__main__":
    sys.exit(main())
