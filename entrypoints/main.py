"""MLflow entry point ``main``: the whole pipeline data → split → train → evaluate, each step
a child run, reusing a finished run with the same parameters and code version instead of
redoing it (see docs/mlflow.md and pitot_tf/tracking/workflow.py).

``env_manager`` is passed on to every step (MLflow does not do so by itself). The run goes to
experiment ``experiment`` (default ``pitot``) unless ``mlflow run`` was given
``--experiment-name``. ``steps`` ``preset`` keeps the preset's ``training.steps``; an empty
``data_out`` means ``data`` for ``fetch`` and ``data/synthetic`` for ``synthetic``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="synthetic")
    parser.add_argument("--data-out", default="")
    parser.add_argument("--splits-dir", default="splits")
    parser.add_argument("--split-seed", default="42")
    parser.add_argument("--preset", default="pitot")
    parser.add_argument("--overrides", default="")
    parser.add_argument("--level", default="0.5")
    parser.add_argument("--replicate", default="0")
    parser.add_argument("--steps", default="preset")
    parser.add_argument("--env-manager", default="local")
    parser.add_argument("--experiment", default="pitot")
    return parser.parse_args(argv)


def pipeline(args: argparse.Namespace) -> None:
    import mlflow

    from pitot_tf.tracking.experiments import adopt_project_run, where_text
    from pitot_tf.tracking.params import integer, optional, optional_steps, real
    from pitot_tf.tracking.report import headline_from_metrics
    from pitot_tf.tracking.workflow import PipelineSpec, run_pipeline

    adopt_project_run(optional(args.experiment))

    spec = PipelineSpec(
        source=args.source, data_out=args.data_out, splits_dir=args.splits_dir,
        split_seed=integer(args.split_seed, "split_seed"), preset=args.preset,
        overrides=args.overrides, level=real(args.level, "level"),
        replicate=integer(args.replicate, "replicate"), steps=optional_steps(args.steps) or 0,
        env_manager=args.env_manager, experiment=optional(args.experiment))
    runs = run_pipeline(spec, PROJECT)
    reused = [step for step, run in runs.items() if run.reused]
    print("pipeline: " + ", ".join(f"{step} run {run.run_id}" for step, run in runs.items()))
    if reused:
        print(f"reused finished runs for: {', '.join(reused)} (same parameters and code)")
    if runs["evaluate"].reused:  # no step printed the result this time
        metrics = mlflow.MlflowClient().get_run(runs["train"].run_id).data.metrics
        print(f"train (reused): {headline_from_metrics(metrics)}")
    print(where_text(runs["train"].run_id))


def main(argv: list[str] | None = None) -> int:
    from pitot_tf.tracking.entry import run_main

    args = parse_args(argv)
    return run_main(lambda: pipeline(args), vars(args), {"--data-dir": "source"})


if __name__ == "__main__":
    sys.exit(main())
