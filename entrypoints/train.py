"""MLflow entry point ``train``: train a preset on one split, evaluate its conformal bounds on
the test split and log everything (see docs/mlflow.md). Same code as ``pitot-tf train``.

Parameters arrive as text; empty means "not given": ``overrides`` is a space- or
comma-separated ``key=value`` list, ``steps`` 0 or empty keeps the preset's
``training.steps``, an empty ``splits_dir`` makes the split with the default seed.
``steps`` ``preset`` (or 0, or empty) keeps the preset's ``training.steps``. ``experiment``
(default ``pitot``) applies when ``mlflow run`` was not given ``--experiment-name``.
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
    parser.add_argument("--steps", default="preset")
    parser.add_argument("--experiment", default="")
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--splits-dir", default="")
    return parser.parse_args(argv)


def train(args: argparse.Namespace) -> None:
    from pitot_tf.config import parse_overrides
    from pitot_tf.tracking.experiments import adopt_project_run, is_pipeline_step, where_text
    from pitot_tf.tracking.params import integer, optional, optional_steps, real, split_overrides
    from pitot_tf.tracking.report import headline, summary_text
    from pitot_tf.tracking.training import run_training

    adopt_project_run(optional(args.experiment))
    run = run_training(
        args.preset, parse_overrides(split_overrides(args.overrides)), real(args.level, "level"),
        integer(args.replicate, "replicate"), optional(args.data_dir), optional(args.splits_dir),
        optional_steps(args.steps), experiment=optional(args.experiment))
    assert run.evaluation is not None
    if is_pipeline_step(run.run_id):  # the pipeline's evaluate step prints the table
        print(f"train: run {run.run_id}; {headline(run.evaluation)}")
        return
    print(summary_text(run.evaluation))
    print(where_text(run.run_id))


def main(argv: list[str] | None = None) -> int:
    from pitot_tf.tracking.entry import run_main

    args = parse_args(argv)
    return run_main(lambda: train(args), vars(args))


if __name__ == "__main__":
    sys.exit(main())
