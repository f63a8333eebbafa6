"""MLflow entry point ``main``: the whole pipeline data → split → train → evaluate, each step
a child run, reusing a finished run with the same parameters and code version instead of
redoing it (see docs/mlflow.md and pitot_tf/tracking/workflow.py).

``env_manager`` is passed on to every step (MLflow does not do so by itself).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="synthetic")
    parser.add_argument("--data-out", default="data/synthetic")
    parser.add_argument("--splits-dir", default="splits")
    parser.add_argument("--split-seed", default="42")
    parser.add_argument("--preset", default="pitot")
    parser.add_argument("--overrides", default="")
    parser.add_argument("--level", default="0.5")
    parser.add_argument("--replicate", default="0")
    parser.add_argument("--steps", default="0")
    parser.add_argument("--env-manager", default="local")
    return parser.parse_args(argv)


def pipeline(args: argparse.Namespace) -> None:
    from pitot_tf.tracking.params import integer, optional_steps, real
    from pitot_tf.tracking.workflow import PipelineSpec, run_pipeline

    spec = PipelineSpec(
        source=args.source, data_out=args.data_out, splits_dir=args.splits_dir,
        split_seed=integer(args.split_seed, "split_seed"), preset=args.preset,
        overrides=args.overrides, level=real(args.level, "level"),
        replicate=integer(args.replicate, "replicate"), steps=optional_steps(args.steps) or 0,
        env_manager=args.env_manager)
    for step, run_id in run_pipeline(spec, PROJECT).items():
        print(f"{step}: run {run_id}")


def main(argv: list[str] | None = None) -> int:
    from pitot_tf.tracking.entry import run_main

    args = parse_args(argv)
    return run_main(lambda: pipeline(args))


if __name__ == "__main__":
    sys.exit(main())
